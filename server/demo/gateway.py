"""The demo's pod provider: CSS behind nginx, with an ordinary entrance and an attestation gateway.

The shape of docker/compose.yaml on one machine, with two ports where compose has two networks:

    people, the control plane --https--> entrance :E ---------------------------\\
    datacage --mTLS (RA-TLS cert)--> gateway :G --auth_request--> admission app    >--> CSS :P
                                              \\--proxy (only if admitted)-------/

CSS's public URL is the entrance's, `https://localhost:E/`, for everyone: WebIDs, issuers, DPoP
`htu`s. The datacage reaches the same URL through the gateway (the worker's `pod_routes`, as
`curl --connect-to` does), which passes the identity provider and WebID documents freely and pod
data only to a datacage whose RA-TLS certificate the admission app accepts under the provider's
policy. Its access log names every pod request and whether it reached CSS: the demo's story
counts them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from werkzeug.serving import make_server

from connectors.child_processes import die_with_parent_hook, terminate_group
from connectors.solid.css.process import free_loopback_port

from ..attestation.admission import PolicyInForce, create_app, policy_document
from ..attestation.verify import TrustPolicy
from .certificates import make_local_ca

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class GatewayError(RuntimeError):
    """nginx or the admission app would not start."""


NGINX_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 512; }}

http {{
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;

    # Which door, which upstream, which client certificate: the proof of every pull's path.
    log_format attested '$server_port "$request" $status upstream="$upstream_addr" '
                        'client_cert="$ssl_client_verify"';
    access_log {prefix}/access.log attested;

    upstream pod_server {{ server 127.0.0.1:{css_port}; keepalive 16; }}
    upstream admission {{ server 127.0.0.1:{admission_port}; keepalive 4; }}

    # CSS rebuilds request URLs (so DPoP htu) from these, and believes X-Forwarded-Host and
    # Forwarded: a client must not choose them.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host {public_host};
    proxy_set_header X-Forwarded-Proto https;
    proxy_set_header X-Forwarded-Host "";
    proxy_set_header Forwarded "";

    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 10m;

{servers}
}}
"""

#: The ordinary entrance: people, pod owners' apps, the control plane. No client certificate;
#: the pod's own access control decides who reads what. A datacage reads pod data only through
#: the gateway: the admission app refuses a read whose access token names a datacage's WebID
#: (server/attestation/entrance.py). What the gateway passes without attestation (the identity
#: provider, WebID documents) the entrance passes without asking, and a datacage's writes
#: (results it delivers, notifications) are for the pod's access control to decide.
ENTRANCE = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;

        location = /_entrance {{
            internal;
            # No credentials, nobody named: nginx answers itself, the admission app is not asked.
            if ($http_authorization = "") {{ return 204; }}
            proxy_pass http://admission;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Client-Cert "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;  # the request's, not GET
        }}

        location ^~ /.well-known/ {{ proxy_pass http://pod_server; }}
        location ^~ /.oidc/ {{ proxy_pass http://pod_server; }}
        location ^~ /.account/ {{ proxy_pass http://pod_server; }}
        location ~ ^/[^/]+/profile/card$ {{ proxy_pass http://pod_server; }}

        location / {{
            auth_request /_entrance;
            error_page 403 = @gateway_only;
            proxy_pass http://pod_server;
        }}
        location @gateway_only {{
            return 403 "A datacage reads pods only through the attestation gateway.\\n";
        }}
    }}
"""

#: The attestation gateway, as in docker/nginx/gateway and docs/attestation.md.
GATEWAY = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        # RA-TLS certificates are self-signed: ask for one, let the admission app judge it.
        ssl_verify_client optional_no_ca;

        location = /_admission {{
            internal;
            proxy_pass http://admission;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-Original-URI $request_uri;
        }}

        # The identity provider and WebID documents: a datacage signs in before it attests.
        location ^~ /.well-known/ {{ proxy_pass http://pod_server; }}
        location ^~ /.oidc/ {{ proxy_pass http://pod_server; }}
        location ^~ /.account/ {{ proxy_pass http://pod_server; }}
        location ~ ^/[^/]+/profile/card$ {{ proxy_pass http://pod_server; }}

        # Pod data: only an admitted datacage. A refusal is 495, so the datacage tells it from
        # the pod's own 403 (a withdrawn grant).
        location / {{
            auth_request /_admission;
            error_page 401 403 = @not_admitted;
            proxy_pass http://pod_server;
        }}
        location @not_admitted {{
            return 495 "The client certificate's attestation was not accepted.\\n";
        }}
    }}
"""


class NginxProcess:
    """nginx from a private prefix with a given configuration, in its own process group."""

    def __init__(self, prefix: Path, config: str, port: int):
        self.prefix, self.config, self.port = prefix, config, port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def start(self, timeout: float = 10) -> NginxProcess:
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config)
        argv = [
            NGINX,
            "-p",
            str(self.prefix),
            "-e",
            str(self.prefix / "error.log"),
            "-c",
            str(conf),
        ]
        try:
            # Our own binary and configuration, never request data.
            check = subprocess.run([*argv, "-t"], capture_output=True, text=True, check=False)  # noqa: S603
        except OSError as exc:
            raise GatewayError(f"nginx could not be run ({exc.strerror}); install nginx.") from None
        if check.returncode != 0:
            raise GatewayError(f"nginx refused its configuration:\n{check.stderr}")
        self._process = subprocess.Popen(  # noqa: S603
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent_hook(),
        )
        deadline = time.monotonic() + timeout
        while not _accepts(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise GatewayError(f"nginx did not start:\n{self.error_log_tail()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process)

    def error_log_tail(self, lines: int = 20) -> str:
        path = self.prefix / "error.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""


class AdmissionServer:
    """`server.attestation.admission` on 127.0.0.1 in a daemon thread (werkzeug); its policy
    may be replaced while it runs (`policy.replace`)."""

    def __init__(self, policy: TrustPolicy):
        self.policy = PolicyInForce(policy)
        self.server = make_server("127.0.0.1", 0, create_app(self.policy), threaded=True)
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AdmissionServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class AdmissionProcess:
    """`datacage admission` in a process of its own, as a pod provider runs it.

    In a thread of the process that also pulls (the demo's worker, a benchmark's client) every
    admission would contend for that process's GIL with the pulls it admits. Its log goes to
    `<folder>/admission.log`; its policy is written to `<folder>/admission-policy.json`.
    """

    def __init__(self, policy: TrustPolicy, folder: Path):
        self.folder = folder
        self.port = free_loopback_port()
        self.policy_path = folder / "admission-policy.json"
        self.write_policy(policy)
        self._process: subprocess.Popen[bytes] | None = None

    def write_policy(self, policy: TrustPolicy) -> None:
        # Whole or not at all: the running process must never read half a file.
        partial = self.policy_path.with_suffix(".partial")
        partial.write_text(json.dumps(policy_document(policy), indent=2))
        partial.replace(self.policy_path)

    @property
    def log_path(self) -> Path:
        return self.folder / "admission.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> AdmissionProcess:
        argv = [
            sys.executable,
            "-c",
            "from server.cli import main; main()",
            "admission",
            "--config",
            str(self.policy_path),
            "--port",
            str(self.port),
            "--server",
            "gunicorn",
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603  (our own interpreter and command)
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(),
                cwd=Path(__file__).resolve().parents[2],  # where `server` is importable
            )
        deadline = time.monotonic() + 20
        while not _accepts(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise GatewayError(f"The admission process did not start:\n{tail}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process)


@dataclass(frozen=True)
class PullCount:
    """What the gateway's access log says of pod-data requests (not sign-in, not WebIDs)."""

    admitted: int  # reached CSS with an admitted RA-TLS certificate
    refused: int  # stopped at the gateway


_LOG_LINE = re.compile(r'^(?P<port>\d+) "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) ')
_OPEN_PATHS = re.compile(r"^/(\.well-known|\.oidc|\.account)/|^/[^/]+/profile/card$")


class PodProvider:
    """CSS's public front for the demo: `entrance` and `gateway` ports, the CA, the pull log."""

    def __init__(
        self,
        folder: Path,
        *,
        entrance_port: int,
        policy: TrustPolicy,
        extra_servers: str = "",
        admission_in_process: bool = False,
    ):
        """`extra_servers`: more nginx `server` blocks in the same `http` block (a benchmark's
        baseline door, say); they may use the `pod_server` upstream. The admission check runs
        in a process of its own (`AdmissionProcess`), or with `admission_in_process` in a
        thread of this one (its refusals then reach this process's log handlers)."""
        self.folder = folder
        self.extra_servers = extra_servers
        self.entrance_port = entrance_port
        self.gateway_port = free_loopback_port()
        self.css_port = free_loopback_port()
        self.policy = policy
        self.ca, self._cert, self._key = make_local_ca(folder, days=30)
        self.admission_in_process = admission_in_process
        self._admission: AdmissionServer | AdmissionProcess | None = None
        self._nginx: NginxProcess | None = None

    @property
    def public_url(self) -> str:
        return f"https://localhost:{self.entrance_port}/"

    @property
    def admission_pid(self) -> int | None:
        """The admission process's pid; None when it runs in a thread of this process."""
        admission = self._admission
        return admission.pid if isinstance(admission, AdmissionProcess) else None

    @property
    def route(self) -> dict[str, tuple[str, int]]:
        """The worker's `pod_routes`: the public origin through the gateway."""
        return {self.public_url.rstrip("/"): ("127.0.0.1", self.gateway_port)}

    def start(self) -> PodProvider:
        hardware = self.policy.hardware.snp or self.policy.hardware.tdx  # kept in its own file
        if self.admission_in_process or hardware:
            self._admission = AdmissionServer(self.policy).__enter__()
        else:
            self._admission = AdmissionProcess(self.policy, self.folder).__enter__()
        servers = ENTRANCE.format(port=self.entrance_port) + GATEWAY.format(port=self.gateway_port)
        servers += self.extra_servers
        config = NGINX_CONFIG.format(
            prefix=self.folder,
            css_port=self.css_port,
            admission_port=self._admission.port,
            public_host=f"localhost:{self.entrance_port}",
            cert=self._cert,
            key=self._key,
            servers=servers,
            # As root, workers would drop to `nobody`, who cannot use this private prefix.
            user="user root;" if os.geteuid() == 0 else "",
        )
        self._nginx = NginxProcess(self.folder, config, self.entrance_port).start()
        if not _accepts(self.gateway_port):
            raise GatewayError(f"nginx does not answer on the gateway's port {self.gateway_port}.")
        return self

    def stop(self) -> None:
        if self._nginx is not None:
            self._nginx.stop()
            self._nginx = None
        if self._admission is not None:
            self._admission.__exit__(None, None, None)
            self._admission = None

    def keep_to_gateway(self, webid: str) -> None:
        """Name a datacage's WebID: from now on the ordinary entrance refuses its tokens."""
        self.policy = replace(self.policy, datacage_webids=self.policy.datacage_webids | {webid})
        if isinstance(self._admission, AdmissionServer):
            self._admission.policy.replace(self.policy)
        elif isinstance(self._admission, AdmissionProcess):
            self._admission.write_policy(self.policy)  # the process re-reads it when it changes

    def pulls(self) -> PullCount:
        """Pod-data requests through the gateway: admitted (reached CSS) and refused."""
        log = self.folder / "access.log"
        admitted = refused = 0
        for line in log.read_text().splitlines() if log.exists() else ():
            found = _LOG_LINE.match(line)
            if not found or int(found["port"]) != self.gateway_port:
                continue
            if _OPEN_PATHS.search(found["path"].split("?", 1)[0]):
                continue
            if 'upstream="-"' in line or found["status"] == "495":
                refused += 1
            else:
                admitted += 1
        return PullCount(admitted, refused)


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False
