"""The gateway asks the admission process about every pod read, over connections it keeps.

nginx sends `Connection: close` upstream unless told otherwise, and a location that sets any
header of its own drops the http block's `Connection ""`: the admission question then opened
(and the admission process closed) one TCP connection per pod read. A closed connection leaves
a TIME_WAIT socket on the side that closed it, so counting them on the admission port tells.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests

from connectors.solid.css.process import free_loopback_port
from server.attestation import (
    EnclaveKey,
    Measurement,
    SoftwareAttestationProvider,
    TrustPolicy,
    client_certificate,
    measure_datacage_code,
)
from server.demo.gateway import PodProvider

BUNDLE = "sha256:" + hashlib.sha256(b"an approved bundle").hexdigest()
READS = 20


def _time_wait_on(port: int) -> int:
    """TIME_WAIT sockets whose local port is `port` (/proc/net/tcp: state 06, hex ports)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "06":
            count += 1
    return count


def test_the_gateway_keeps_its_connections_to_the_admission_process(tmp_path):
    cage = SoftwareAttestationProvider(tmp_path / "cage")
    measurement = Measurement(measure_datacage_code(), BUNDLE)
    policy = TrustPolicy.approving(
        [measurement], allow_software=True, software_keys=(cage.public_key_pem(),)
    )
    (tmp_path / "front").mkdir()
    pods = PodProvider(
        tmp_path / "front", entrance_port=free_loopback_port(), policy=policy
    ).start()
    key = EnclaveKey.generate()
    try:
        admission = pods._admission.port  # the port nginx asks
        with key.tls_files(client_certificate(key, cage.attest(key, measurement))) as files:
            session = requests.Session()
            session.trust_env = False
            session.verify, session.cert = str(pods.ca), files
            url = f"https://localhost:{pods.gateway_port}/owner/data.ttl"
            before = _time_wait_on(admission)
            for _ in range(READS):
                # Admitted, then no pod server behind it (this test starts none): 502.
                status = session.get(url, headers={"Host": f"localhost:{pods.entrance_port}"})
                assert status.status_code == 502
            session.close()
        assert pods.pulls().admitted == READS  # each read was asked about
        assert _time_wait_on(admission) - before <= 1
    finally:
        pods.stop()
