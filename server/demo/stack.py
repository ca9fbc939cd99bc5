"""The demo's processes: the pod provider (CSS behind nginx, child processes, with its admission
app), the control plane and the datacage (threads).

The pod provider serves pods over https through two doors (server/demo/gateway.py): people and
the control plane use the ordinary entrance; the datacage reads only through the attestation
gateway, which admits its RA-TLS certificate under the provider's policy (the demo's own
datacage code and built-in algorithms, and this demo's software stand-in key).

`DemoStack` starts them in order and stops all of them, in reverse, from `close()`, whatever
happened in between: a demo that leaves a node process or a bound port behind is worse than
one that fails. CSS is started from the calling (main) thread, since Linux signals the child
when the thread that forked it exits (`connectors.child_processes`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import certifi
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from connectors.egress import EgressPolicy
from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import ClientCredentials, CommunitySolidServer, CssAccountApi, PodAccount
from connectors.solid.css.process import free_loopback_port

from .. import algorithms, create_app
from ..algorithms import build_bundle, read_bundle
from ..attestation import (
    Measurement,
    SoftwareAttestationProvider,
    TrustPolicy,
    measure_datacage_code,
)
from ..datacage.job import JobSettings
from ..datacage.worker import WORKER_EGRESS_LIMITS, Identity, Worker
from ..ratelimit import DEFAULT_LIMITS, parse_limits
from ..services import services
from .gateway import PodProvider
from .seed import PASSWORD, Member

BUILTIN = Path(algorithms.__file__).parent / "builtin"
#: Everything the demo reaches is on this machine.
DEMO_EGRESS = "loopback"

_STOP_SECONDS = 10

#: The control plane counts sign-ins and joins per address as well as per WebID, and every one
#: of the demo's people answers from this machine's loopback address: at the deployed limits
#: (20 a minute each) a demo answering faster than 20 invitations a minute was refused with
#: 429 halfway through its consent pages. Those two allow the demo's crowd on one address;
#: every other limit stays as deployed.
DEMO_RATE_LIMITS = " ".join(
    f"{action}={limit.count}/{limit.seconds}"
    for action, limit in (
        parse_limits(DEFAULT_LIMITS) | parse_limits("signin=1200/60 join=1200/60")
    ).items()
)


@dataclass(frozen=True)
class Account:
    """A seeded CSS account: who it is in the demo, its pod and (for scripts) a client."""

    member: Member
    pod: PodAccount
    credentials: ClientCredentials | None = None

    @property
    def webid(self) -> str:
        return self.pod.webid

    def client(self) -> SolidClient:
        if self.credentials is None:
            raise ValueError(f"{self.member.label} has no client credentials in the demo")
        c = self.credentials
        return SolidClient(SolidSession.from_client_credentials(c.issuer, c.id, c.secret))


MARKER = ".datacage-demo"  # what makes a folder ours to empty

_CSS_PATIENCE_S = 120

#: CSS's own file-backed configuration with two changes to its resource locker, both about
#: time, neither about security (`file.json`'s access control, accounts and storage are kept
#: whole):
#: - locks are held in the node process's memory (`MemoryResourceLocker`) instead of as lock
#:   folders on disk (`FileSystemResourceLocker`, made for several CSS workers sharing a disk).
#:   The demo runs one CSS process, for which CSS's memory locker is the exact one; each pod
#:   creation and pod read took and dropped locks through the file system (a folder made,
#:   checked, refreshed and removed per lock), about a third of seeding a pod on a loaded
#:   machine (measured: 40 pods four at a time, 55 s with lock folders, 40 s in memory).
#: - a lock lapses after 60 s without progress instead of 6 s: on a loaded two-core machine,
#:   seeding 1,000 pods four at a time made CSS fail a pod's creation ("Lock expired after
#:   6000ms", HTTP 500).
CSS_CONFIG = {
    "@context": "https://linkedsoftwaredependencies.org/bundles/npm/@solid/community-server/"
    "^7.0.0/components/context.jsonld",
    "import": ["css:config/file.json"],
    "@graph": [
        {
            "@id": "urn:datacage:demo:PatientLocker",
            "@type": "Override",
            "overrideInstance": {"@id": "urn:solid-server:default:ResourceLocker"},
            "overrideParameters": {
                "@type": "WrappedExpiringReadWriteLocker",
                "locker": {
                    "@type": "PartialReadWriteLocker",
                    "locker": {"@type": "MemoryResourceLocker"},
                },
                "expiration": 60000,
            },
        }
    ],
}


def _css_config(folder: Path) -> Path:
    path = folder / "css-config.json"
    path.write_text(json.dumps(CSS_CONFIG, indent=2))
    return path


class StartRefused(RuntimeError):
    """The demo will not start: its folder holds others' files, or a port is taken."""


def fresh_folder(folder: Path) -> Path:
    """The demo's folder, emptied: every start is a new world (docs/demo.md says so).

    Only a folder the demo made (it holds `MARKER`) or an empty one is emptied, so a mistyped
    `--folder ~` loses nothing.
    """
    if folder.exists():
        if not folder.is_dir():
            raise StartRefused(f"{folder} is a file, not a folder; pick another --folder.")
        if any(folder.iterdir()) and not (folder / MARKER).is_file():
            raise StartRefused(
                f"{folder} holds files the demo did not make, so it is not emptied; "
                "pick another --folder."
            )
        shutil.rmtree(folder)
    folder.mkdir(mode=0o700, parents=True)
    (folder / MARKER).write_text("Made by `datacage demo`: emptied at its next start.\n")
    return folder


def require_free_port(port: int, option: str) -> None:
    """Refuse a taken port before anything starts (0 asks for a free one)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise StartRefused(
                f"Port {port} on 127.0.0.1 is already in use; pass {option} 0 for a free one."
            ) from None


class DemoStack:
    """CSS, the control plane and the worker for one demo; `close()` stops what was started."""

    def __init__(self, folder: Path, *, css_port: int | None, control_port: int) -> None:
        self.folder = folder
        (folder / "datacage").mkdir(mode=0o700, exist_ok=True)
        self.provider = SoftwareAttestationProvider(folder / "datacage" / "attestation")
        (folder / "pod-provider").mkdir(mode=0o700, exist_ok=True)
        self.pods = PodProvider(
            folder / "pod-provider",
            entrance_port=css_port or free_loopback_port(),
            policy=_provider_policy(self.provider),
        )
        self.css = CommunitySolidServer(
            port=self.pods.css_port,
            data_dir=folder / "css",
            config=str(_css_config(folder / "pod-provider")),
            public_url=self.pods.public_url,
            extra_ca=self.pods.ca,
        )
        # Every client of this process (the control plane's, the scripts') trusts the pod
        # provider's CA beside the system's; sessions that ignore the environment get it too.
        self.ca_bundle = folder / "ca-bundle.pem"
        system = os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()
        self.ca_bundle.write_bytes(Path(system).read_bytes() + b"\n" + self.pods.ca.read_bytes())
        # A pod's creation is dozens of file writes in one node process: on a busy machine a
        # thousand people's take far longer than the client's usual 15 s.
        self.accounts = CssAccountApi(
            self.css.base_url, verify=str(self.ca_bundle), timeout=_CSS_PATIENCE_S
        )
        self._control_port = control_port
        self._exit = ExitStack()
        self._server: BaseWSGIServer | None = None
        self.app: Flask | None = None
        self.worker: Worker | None = None
        self._stop_worker = threading.Event()

    @property
    def control_plane(self) -> str:
        port = self._server.server_port if self._server else self._control_port
        return f"http://localhost:{port}/"

    def start_css(self) -> float:
        """The pod provider: its doors (nginx, admission) first, then CSS behind them."""
        previous = os.environ.get("REQUESTS_CA_BUNDLE")
        os.environ["REQUESTS_CA_BUNDLE"] = str(self.ca_bundle)
        self._exit.callback(_restore_env, "REQUESTS_CA_BUNDLE", previous)
        self._exit.callback(self.pods.stop)
        self.pods.start()
        self._exit.callback(self.css.stop)
        self._exit.callback(self.accounts.close)
        # Node reads CSS's whole configuration at start: 5-7 s on an idle machine, 55 s at a
        # load average of 17; the connector's usual minute was too close.
        self.css.start(timeout=_CSS_PATIENCE_S)
        return self.css.startup_seconds or 0.0

    def create(self, member: Member, *, with_client: bool = False) -> Account:
        pod = self.accounts.create_account(
            email=member.email, password=PASSWORD, pod_name=member.label
        )
        credentials = self.accounts.create_client_credentials(pod, "demo") if with_client else None
        return Account(member, pod, credentials)

    def write_pod_files(self, account: Account, files: dict[str, bytes]) -> None:
        """Put `files` (pod-relative path -> bytes) straight into CSS's file storage: the pod
        provider seeding its own disk. Per person that saves a sign-in (client credentials, a
        DPoP token) and one authenticated PUT per file on the single-threaded CSS, most of the
        seeding time of a large demo. CSS's file backend takes a file's type from its extension
        and serves what is on disk, so only `.ttl` and `.csv` files are written this way."""
        data_dir = self.css.data_dir
        if data_dir is None:
            raise RuntimeError("The Community Solid Server is not started.")
        pod = Path(data_dir, urlsplit(account.pod.pod_url).path.strip("/"))
        if not pod.is_dir():  # the account API made the pod: its folder is there, or CSS differs
            raise RuntimeError(f"No folder {pod} for the pod of {account.member.label}.")
        for relative, body in files.items():
            if Path(relative).suffix not in (".ttl", ".csv") or ".." in Path(relative).parts:
                raise ValueError(f"{relative} is not a pod file the demo seeds on disk.")
            target = pod / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)

    def start_control_plane(self, datacage_webid: str) -> Flask:
        """Bind first (port 0 lets the kernel choose), then build the app that names its URL."""
        # From now on the datacage reads pods only through the attestation gateway.
        self.pods.keep_to_gateway(datacage_webid)
        self._server = make_server("127.0.0.1", self._control_port, _not_ready, threaded=True)
        self._exit.callback(self._server.server_close)
        # Every setting that could reach outside the demo is pinned, so a DATACAGE_* variable
        # left in the shell (a real registry, say) is never written to by the demo.
        control = self.folder / "control"
        self.app = create_app(
            {
                "PUBLIC_URL": self.control_plane,
                "DATA_DIR": str(control),
                "REGISTRY_PATH": str(control / "registry"),
                "REGISTRY_SPARQL_QUERY_URL": None,
                "REGISTRY_SPARQL_UPDATE_URL": None,
                "TRUSTED_ISSUERS": self.css.issuer,
                "DATACAGE_WEBID": datacage_webid,
                "CLIENT_NAME": "Datacage demo",
                "LOG_FORMAT": "text",
                # The demo's pods, identity provider and control plane all live on loopback,
                # which the egress policy refuses by default: the demo allows it, nothing more.
                "EGRESS_ALLOW": DEMO_EGRESS,
                "RATE_LIMITS": DEMO_RATE_LIMITS,
            }
        )
        self._server.app = self.app
        self._exit.callback(services(self.app).close)  # the registry, once the server is down
        thread = threading.Thread(target=self._server.serve_forever, name="control-plane")
        thread.start()
        self._exit.callback(thread.join, _STOP_SECONDS)
        self._exit.callback(self._server.shutdown)
        return self.app

    def start_worker(self, cage: Account, poll_seconds: float = 1.0) -> Worker:
        assert cage.credentials is not None
        root = self.folder / "datacage"
        root.mkdir(mode=0o700, exist_ok=True)
        c = cage.credentials
        self.worker = Worker(
            self.control_plane,
            Identity(c.issuer, c.id, c.secret),
            self.provider,
            JobSettings(work_root=root / "work", results_dir=root / "results"),
            pod_ca=str(self.ca_bundle),
            pod_routes=self.pods.route,  # every pod read through the attestation gateway
            egress=EgressPolicy.from_settings(DEMO_EGRESS, **WORKER_EGRESS_LIMITS),
        )
        thread = threading.Thread(
            target=self.worker.serve, args=(self._stop_worker, poll_seconds), name="datacage"
        )
        thread.start()
        self._exit.callback(thread.join, _STOP_SECONDS * 6)  # a run in progress finishes first
        self._exit.callback(self._stop_worker.set)
        return self.worker

    def close(self) -> None:
        self._exit.close()

    def __enter__(self) -> DemoStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def quiet_logs(folder: Path) -> None:
    """The product's logs go to `<folder>/demo.log`: the terminal is for the story."""
    handler = logging.FileHandler(folder / "demo.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("server", "connectors", "werkzeug"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.INFO)


def _provider_policy(provider: SoftwareAttestationProvider) -> TrustPolicy:
    """The pod provider's policy: this datacage's code running a built-in algorithm, attested
    by this demo's software stand-in (the demo has no hardware; its evidence says so)."""
    code = measure_datacage_code()
    folders = sorted(p.parent for p in BUILTIN.glob("*/manifest.toml"))
    return TrustPolicy.approving(
        [Measurement(code, read_bundle(build_bundle(folder)).digest) for folder in folders],
        allow_software=True,
        software_keys=(provider.public_key_pem(),),
    )


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _not_ready(environ: object, start_response) -> list[bytes]:
    # Never called: the app replaces it before the server thread starts.
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"not ready"]
