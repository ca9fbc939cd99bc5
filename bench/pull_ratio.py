"""The datacage's pulls through the attestation gateway against a bare client, same nginx, same run.

One pod provider (server/demo/gateway.py): CSS behind nginx, whose attestation gateway asks the
admission app about every pod request; the app runs in a process of its own (gunicorn), as a
pod provider runs it, and verifies the run's certificate once, then remembers it
(server/attestation/admitted.py). A pod owner grants the datacage's WebID Read on a folder
of ~400-byte Turtle resources, one per person.

- **ours**: the datacage's real pull (`server.datacage.pull.pull`), the run's RA-TLS client
  certificate carrying software stand-in evidence (asked about by nginx on every request), a
  DPoP proof per request from our Solid client, the worker's consent re-check before each
  person (`BatchedRecheck`; its question is answered here, where the worker asks the control
  plane: that side is bench/pulls.py's), and the identifiers of each resource read from its
  Turtle (`InputIdentifiers.collect`), as the worker does before staging the inputs.
- **bare**: `requests` + PyJWT (nothing of ours), the same token type and a fresh DPoP proof per
  request, presenting a plain client certificate to a door of the same nginx that checks it
  against a CA and asks nobody (no admission), and no parsing.

Both sides read the same resources with the same concurrency; rounds alternate A-B-B-A so the
shared machine's drift hits both alike. The figure is the ratio of median rates (ours / bare):
what attestation at the gateway, our client and the parse cost, on top of what CSS itself costs.

Prints `name=value` lines: the CPU each process (this client, CSS, nginx, the admission
process) spent per read on each side, which says where the time goes, then the rates; the
last line is `pull_ratio=<ours/bare>`.

    python bench/pull_ratio.py [--people N] [--rounds R] [--threads T]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from solid_get import TURTLE, BareClient  # the sibling script, found from this folder

from connectors.solid import AccessMode, SolidClient, SolidSession
from connectors.solid.connect_to import mount_routes
from connectors.solid.css import CommunitySolidServer, CssAccountApi
from connectors.solid.css.process import free_loopback_port
from connectors.solid.http import Http, TlsSettings
from server.attestation import (
    EnclaveKey,
    Measurement,
    SoftwareAttestationProvider,
    TrustPolicy,
    client_certificate,
    measure_datacage_code,
)
from server.consent.model import PodResource
from server.datacage.gate import InputIdentifiers, PersonInputs
from server.datacage.pull import PullLimits, pull
from server.datacage.recheck import BatchedRecheck
from server.demo.certificates import make_client_identity
from server.demo.gateway import PodProvider
from server.protocol.consents import JobConsent

BUNDLE = "sha256:" + hashlib.sha256(b"the benchmark's approved bundle").hexdigest()

#: The baseline's door: a plain client certificate checked against a CA, no admission app.
BASELINE = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_verify_client on;
        ssl_client_certificate {client_ca};
        location / {{ proxy_pass http://pod_server; }}
    }}
"""


def refused(consent: object, url: str) -> None:
    raise RuntimeError(f"the pod refused {url}: the benchmark's grant is wrong")


def in_force(consent_iris: list[str]) -> set[str]:
    """The control plane's answer to a re-check: every consent still counts."""
    return set(consent_iris)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (all its threads) and its children (gunicorn's
    worker is a child of its arbiter), from /proc; 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in children)


def median_rates(
    sides: dict[str, Callable[[], None]], rounds: int, count: int, pids: dict[str, int | None]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Median rate per side, and the CPU each process spent per read on each side (ms): where
    the time goes, measured in the same rounds."""
    rates: dict[str, list[float]] = {name: [] for name in sides}
    cpu = {name: dict.fromkeys(["client", *pids], 0.0) for name in sides}
    for index in range(rounds):
        order = list(sides.items())
        if index % 2:
            order.reverse()  # A-B, B-A, ...
        for name, work in order:
            before = {"client": time.process_time()} | {k: cpu_seconds(p) for k, p in pids.items()}
            began = time.perf_counter()
            work()
            rates[name].append(count / (time.perf_counter() - began))
            after = {"client": time.process_time()} | {k: cpu_seconds(p) for k, p in pids.items()}
            for key in before:
                cpu[name][key] += (after[key] - before[key]) * 1000 / (count * rounds)
        print(
            f"  round {index + 1}/{rounds}: "
            + ", ".join(f"{name} {values[-1]:.0f}/s" for name, values in rates.items()),
            flush=True,
        )
    return {name: statistics.median(values) for name, values in rates.items()}, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200, help="resources read per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=8, help="reads in flight, both sides")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="datacage-bench-pulls-"))
    cage_dir = folder / "cage"
    provider = SoftwareAttestationProvider(cage_dir / "attestation")
    policy = TrustPolicy.approving(
        [Measurement(measure_datacage_code(), BUNDLE)],
        allow_software=True,
        software_keys=(provider.public_key_pem(),),
    )
    client_ca, client_cert, client_key = make_client_identity(folder)
    baseline_port = free_loopback_port()
    (folder / "front").mkdir()
    pods = PodProvider(
        folder / "front",
        entrance_port=free_loopback_port(),
        policy=policy,
        extra_servers=BASELINE.format(port=baseline_port, client_ca=client_ca),
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the admission app's request log
    # Only the pod provider is reached, and it is served with its own CA.
    os.environ["REQUESTS_CA_BUNDLE"] = str(pods.ca)
    print("Starting the pod provider (nginx, admission, CSS)...", flush=True)
    pods.start()
    css = CommunitySolidServer(port=pods.css_port, public_url=pods.public_url, extra_ca=pods.ca)
    try:
        css.start(timeout=300)  # a shared machine under load may take minutes
        with CssAccountApi(css.base_url, verify=str(pods.ca)) as accounts:
            plain = (client_cert, client_key)
            nginx = int((folder / "front" / "nginx.pid").read_text())  # its workers are children
            pids = {"css": css.pid, "nginx": nginx, "admission": pods.admission_pid}
            figures = _measure(args, pods, accounts, provider, plain, baseline_port, pids)
    finally:
        css.stop()
        pods.stop()
    print(f"pull_ours_per_s={figures['pull_ours_per_s']:.1f}")
    print(f"pull_bare_per_s={figures['pull_bare_per_s']:.1f}")
    print(f"pull_ratio={figures['pull_ratio']:.3f}")


def _measure(
    args,
    pods: PodProvider,
    accounts: CssAccountApi,
    provider,
    plain_cert,
    baseline_port: int,
    pids: dict[str, int | None],
) -> dict[str, float]:
    ca = str(pods.ca)
    owner_account = accounts.create_account(
        email="owner@example.org", password=uuid.uuid4().hex, pod_name="owner"
    )
    cage_account = accounts.create_account(
        email="cage@example.org", password=uuid.uuid4().hex, pod_name="cage"
    )
    owner_creds = accounts.create_client_credentials(owner_account, "owner")
    owner = SolidClient(
        SolidSession.from_client_credentials(
            owner_creds.issuer, owner_creds.id, owner_creds.secret, http=Http(tls=TlsSettings(ca))
        )
    )
    folder = owner_account.pod_url + "people/"
    urls = [f"{folder}{n:05d}.ttl" for n in range(args.people)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda url: owner.put(url, TURTLE, "text/turtle"), urls))
    owner.access_control(folder).grant(cage_account.webid, [AccessMode.READ], include_members=True)
    consents = [
        JobConsent(f"https://dc.example/consents/{n}", f"{url}#me", (PodResource(url),))
        for n, url in enumerate(urls)
    ]

    # Ours: the run's enclave key, its evidence, its RA-TLS certificate, through the gateway.
    key = EnclaveKey.generate()
    evidence = provider.attest(key, Measurement(measure_datacage_code(), BUNDLE))
    cage_creds = accounts.create_client_credentials(cage_account, "datacage")
    with key.tls_files(client_certificate(key, evidence)) as cert_files:
        session = requests.Session()
        mount_routes(session, pods.route)  # as the worker does
        cage = SolidClient(
            SolidSession.from_client_credentials(
                cage_creds.issuer,
                cage_creds.id,
                cage_creds.secret,
                http=Http(session, tls=TlsSettings(verify=ca, cert=cert_files)),
            )
        )
        limits = PullLimits(people_at_once=args.threads, per_host=args.threads)

        def ours() -> None:
            outcomes = pull(cage, BatchedRecheck(in_force, refused), consents, limits)
            for outcome in outcomes:
                if not outcome.inputs:
                    raise RuntimeError(f"a pull failed: {outcome.skipped}")
            found = InputIdentifiers.collect(
                PersonInputs(o.consent.subject, [(i.url, i.content_type or "", i.body)])
                for o in outcomes
                for i in o.inputs
            )
            if "alice example" not in found.values:
                raise RuntimeError("the resources' identifiers were not read")

        # Bare: a plain client certificate at the baseline door, the same token type.
        bare_creds = accounts.create_client_credentials(cage_account, "bare")
        bare = BareClient(bare_creds.issuer, bare_creds.id, bare_creds.secret)
        bare.http.trust_env = False  # no proxy; the CA is passed as `verify`
        bare.http.verify = ca
        bare.http.cert = tuple(str(p) for p in plain_cert)
        public = pods.public_url
        host = public.split("//", 1)[1].rstrip("/")  # CSS checks htu and Host by this name
        baseline = f"https://localhost:{baseline_port}/"

        def bare_get(url: str) -> bytes:
            response = bare.http.get(
                baseline + url[len(public) :],
                timeout=30,
                headers={
                    "Host": host,
                    "Authorization": f"DPoP {bare.token}",
                    "DPoP": bare.proof("GET", url, bare.ath),
                },
            )
            response.raise_for_status()
            return response.content

        def bare_side() -> None:
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(bare_get, urls))

        assert bare_get(urls[0]) == TURTLE.encode(), "the baseline must read the same thing"
        ours()  # warm: sign-in, connections, admission
        bare_side()
        before = pods.pulls()
        sides = {"ours": ours, "bare": bare_side}
        rates, cpu = median_rates(sides, args.rounds, len(urls), pids)
        after = pods.pulls()
    admitted = after.admitted - before.admitted
    if admitted < args.rounds * len(urls):
        raise RuntimeError(f"only {admitted} reads went through the gateway's admission")
    for side, spent in cpu.items():
        for process, ms in spent.items():
            print(f"pull_{side}_{process}_cpu_ms_per_read={ms:.2f}")
    return {
        "pull_ours_per_s": rates["ours"],
        "pull_bare_per_s": rates["bare"],
        "pull_ratio": rates["ours"] / rates["bare"],
    }


if __name__ == "__main__":
    main()
