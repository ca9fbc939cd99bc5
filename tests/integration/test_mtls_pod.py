"""Mutual TLS bound to the enclave key, against a real nginx in front of a real CSS.

A pod owner grants the datacage's WebID Read on a folder. Datacages then read from it through
nginx, each with its own enclave key and RA-TLS certificate. Only the one running the approved
measurement, with fresh evidence from a trusted provider bound to its own key, gets through;
for every other one, nginx's access log shows no CSS upstream and CSS's own log shows no GET.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.solid import AccessMode, SolidClient, SolidSession, errors
from connectors.solid.css import ClientCredentials, CssAccountApi, PodAccount
from connectors.solid.http import Http, TlsSettings
from server.attestation import (
    EnclaveKey,
    Evidence,
    Measurement,
    SoftwareAttestationProvider,
    TrustPolicy,
    client_certificate,
    measure_datacage_code,
)
from tests.support.nginx import AttestedPodGateway, attested_pod_gateway

APPROVED_BUNDLE = "sha256:" + hashlib.sha256(b"the approved bundle").hexdigest()
OTHER_BUNDLE = "sha256:" + hashlib.sha256(b"a bundle nobody approved").hexdigest()
OTHER_CODE = "sha256:" + hashlib.sha256(b"a patched datacage").hexdigest()

# A CSS of its own (not the session's `css` fixture), so mark it as the conftest hook would.
pytestmark = pytest.mark.css


@dataclass
class Bed:
    gateway: AttestedPodGateway
    provider: SoftwareAttestationProvider
    datacage: ClientCredentials
    folder: str  # the owner's folder the datacage's WebID may read
    owner: SolidClient
    owner_credentials: ClientCredentials

    @property
    def approved(self) -> Measurement:
        return Measurement(measure_datacage_code(), APPROVED_BUNDLE)


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    provider = SoftwareAttestationProvider(tmp_path_factory.mktemp("cage") / "attestation")
    policy = TrustPolicy.approving(
        [Measurement(measure_datacage_code(), APPROVED_BUNDLE)],
        allow_software=True,
        software_keys=(provider.public_key_pem(),),
    )
    began = time.monotonic()
    with attested_pod_gateway(policy) as gateway:
        print(f"nginx + CSS + admission started in {time.monotonic() - began:.1f} s")
        accounts = CssAccountApi(gateway.base_url, session=_account_session(gateway))
        owner_account = _account(accounts, "owner")
        cage_account = _account(accounts, "datacage")
        owner_credentials = accounts.create_client_credentials(owner_account, "owner-script")
        owner = SolidClient(
            SolidSession.from_client_credentials(
                owner_credentials.issuer,
                owner_credentials.id,
                owner_credentials.secret,
                http=Http(gateway.owner_session()),
            )
        )
        folder = owner_account.pod_url + "shared/"
        owner.put(folder + "readme.txt", "shared with the datacage", "text/plain")
        owner.access_control(folder).grant(
            cage_account.webid, [AccessMode.READ], include_members=True
        )
        gateway.keep_to_gateway(cage_account.webid)  # as the pod provider's policy names it
        yield Bed(
            gateway,
            provider,
            accounts.create_client_credentials(cage_account, "datacage"),
            folder,
            owner,
            owner_credentials,
        )


def _account_session(gateway: AttestedPodGateway):
    # The account API is the identity provider's: reachable through nginx without attestation.
    session = gateway.owner_session()
    session.adapters.pop(gateway.base_url)
    session.verify = str(gateway.ca)
    return session


def _account(accounts: CssAccountApi, label: str) -> PodAccount:
    name = f"{label}-{uuid.uuid4().hex[:8]}"
    return accounts.create_account(
        email=f"{name}@example.org", password=secrets.token_urlsafe(18), pod_name=name
    )


@pytest.fixture
def resource(bed: Bed) -> str:
    """A fresh resource in the granted folder, never read by anyone yet."""
    url = bed.folder + f"{uuid.uuid4().hex}.txt"
    bed.owner.put(url, "consented data", "text/plain")
    return url


@pytest.fixture
def datacage(bed: Bed) -> Callable[..., SolidClient]:
    """Factory: a datacage client signed in as the datacage WebID, presenting `cert_files`."""
    stack: list[object] = []

    def make(cert_files: tuple[str, str] | None) -> SolidClient:
        tls = TlsSettings(verify=str(bed.gateway.ca), cert=cert_files)
        http = Http(tls=tls)
        stack.append(http.session)
        creds = bed.datacage
        return SolidClient(
            SolidSession.from_client_credentials(creds.issuer, creds.id, creds.secret, http=http)
        )

    yield make
    for session in stack:
        session.close()  # type: ignore[attr-defined]


def _read_with(bed, datacage, key: EnclaveKey, evidence: Evidence | bytes, url: str) -> str:
    certificate = client_certificate(key, evidence)
    with key.tls_files(certificate) as files:
        return datacage(files).get(url).text()


def assert_never_reached_css(bed: Bed, url: str, caplog, reason: str) -> None:
    """Refused by the admission check for `reason`, with no trace of the request at CSS."""
    path = bed.gateway.path_of(url)
    refusals = [r.getMessage() for r in caplog.records if r.name == "server.attestation.admission"]
    assert any(m.startswith(f"refused {path}: ") and reason in m for m in refusals), refusals
    lines = bed.gateway.nginx.log_lines_for(path)
    assert lines, "nginx logged no request for the resource"
    assert all(" 495 " in line for line in lines)
    css_upstream = f"127.0.0.1:{bed.gateway.css.port}"
    assert not any(css_upstream in line for line in lines), lines
    assert not bed.gateway.css.received_get(path)


def test_the_approved_datacage_reads_what_the_owner_granted(bed, datacage, resource):
    key = EnclaveKey.generate()
    evidence = bed.provider.attest(key, bed.approved)
    assert _read_with(bed, datacage, key, evidence, resource) == "consented data"
    # The control for the refusal tests: this observable does show a request that got through.
    path = bed.gateway.path_of(resource)
    assert any(
        f"127.0.0.1:{bed.gateway.css.port}" in ln for ln in bed.gateway.nginx.log_lines_for(path)
    )
    assert bed.gateway.css.received_get(path)


@pytest.mark.parametrize(
    "measurement",
    [
        pytest.param(lambda m: Measurement(m.datacage_code, OTHER_BUNDLE), id="other-bundle"),
        pytest.param(lambda m: Measurement(OTHER_CODE, m.bundle_digest), id="other-code"),
    ],
)
def test_a_datacage_running_an_unapproved_measurement_never_reaches_the_pod(
    caplog, bed, datacage, resource, measurement
):
    key = EnclaveKey.generate()
    evidence = bed.provider.attest(key, measurement(bed.approved))
    with pytest.raises(errors.CertificateRefused):
        _read_with(bed, datacage, key, evidence, resource)
    assert_never_reached_css(bed, resource, caplog, "which is not approved")


def test_no_client_certificate_is_refused(caplog, bed, datacage, resource):
    with pytest.raises(errors.CertificateRefused):
        datacage(None).get(resource)
    assert_never_reached_css(bed, resource, caplog, "no client certificate was presented")


def test_evidence_copied_from_another_key_is_refused(caplog, bed, datacage, resource):
    attested, thief = EnclaveKey.generate(), EnclaveKey.generate()
    evidence = bed.provider.attest(attested, bed.approved)
    with pytest.raises(errors.CertificateRefused):
        _read_with(bed, datacage, thief, evidence, resource)
    assert_never_reached_css(bed, resource, caplog, "the evidence was made for another key")


def test_evidence_signed_by_an_untrusted_software_key_is_refused(
    caplog, bed, datacage, resource, tmp_path: Path
):
    stranger = SoftwareAttestationProvider(tmp_path / "attestation")
    key = EnclaveKey.generate()
    with pytest.raises(errors.CertificateRefused):
        _read_with(bed, datacage, key, stranger.attest(key, bed.approved), resource)
    assert_never_reached_css(bed, resource, caplog, "software key this policy does not trust")


def test_stale_evidence_is_refused(caplog, bed, datacage, resource):
    key = EnclaveKey.generate()
    evidence = bed.provider.attest(key, bed.approved, now=datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(errors.CertificateRefused):
        _read_with(bed, datacage, key, evidence, resource)
    assert_never_reached_css(bed, resource, caplog, "the datacage must attest again")


# --- The ordinary entrance: no datacage reads a pod without attestation ---------------------------


def _through_entrance(bed: Bed, credentials: ClientCredentials) -> SolidClient:
    http = Http(bed.gateway.entrance_session(), tls=TlsSettings(verify=str(bed.gateway.ca)))
    return SolidClient(
        SolidSession.from_client_credentials(
            credentials.issuer, credentials.id, credentials.secret, http=http
        )
    )


def test_the_datacage_cannot_read_a_pod_through_the_ordinary_entrance(caplog, bed, resource):
    """Its own DPoP-bound token, at the door without attestation: refused before CSS."""
    cage = _through_entrance(bed, bed.datacage)  # signing in there is allowed: no pod data
    with pytest.raises(errors.Forbidden):
        cage.get(resource)
    path = bed.gateway.path_of(resource)
    refusals = [r.getMessage() for r in caplog.records if r.name == "server.attestation.admission"]
    assert any(m.startswith(f"refused {path}: at the ordinary entrance") for m in refusals)
    lines = bed.gateway.nginx.log_lines_for(path)
    assert lines, "nginx logged no request for the resource"
    assert all(" 403 " in ln for ln in lines), lines
    assert not any(f"127.0.0.1:{bed.gateway.css.port}" in ln for ln in lines), lines
    assert not bed.gateway.css.received_get(path)


def test_the_datacage_token_is_refused_whatever_the_scheme_or_header_order(bed, resource):
    cage = _through_entrance(bed, bed.datacage)
    token = cage.session.access_token()
    path = bed.gateway.path_of(resource)
    with bed.gateway.entrance_session() as raw:
        for headers in (
            {"Authorization": f"Bearer {token}"},
            {"Authorization": f"dpop {token}"},
            {"Authorization": f"Basic Zm9vOmJhcg==, DPoP {token}"},
        ):
            assert raw.get(resource, headers=headers, timeout=10).status_code == 403, headers
    assert not bed.gateway.css.received_get(path)


def test_people_still_read_through_the_ordinary_entrance(bed, resource):
    reader = _through_entrance(bed, bed.owner_credentials)
    assert reader.get(resource).text() == "consented data"
    reader.put(resource, "written by its owner", "text/plain")  # a body goes through too
    assert reader.get(resource).text() == "written by its owner"
    with bed.gateway.entrance_session() as anonymous:  # no credentials: CSS decides (401)
        assert anonymous.get(resource, timeout=10).status_code == 401
    assert bed.gateway.css.received_get(bed.gateway.path_of(resource))


def test_the_datacages_writes_go_to_the_pods_own_access_control(bed, resource):
    """Delivering results goes through the entrance: CSS's access control decides a write."""
    cage = _through_entrance(bed, bed.datacage)
    with pytest.raises(errors.Forbidden):  # CSS's refusal: this datacage may only read here
        cage.put(resource, "overwritten", "text/plain")
    path = bed.gateway.path_of(resource)
    puts = [ln for ln in bed.gateway.nginx.log_lines_for(path) if '"PUT ' in ln]
    assert puts, "nginx logged no PUT"
    assert all(f"127.0.0.1:{bed.gateway.css.port}" in ln for ln in puts), puts
    assert bed.owner.get(resource).text() == "consented data"


# --- TLS sessions: every TLS session proves the enclave key, every request is admitted --------


def _raw_get(
    context: ssl.SSLContext, port: int, path: str, session: ssl.SSLSession | None = None
) -> tuple[int, ssl.SSLSession | None, bool]:
    """One GET on a new connection: (status, the TLS session to resume, whether it resumed)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost", session=session) as tls,
    ):
        request = f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
        tls.sendall(request.encode())
        answer = b""
        while chunk := tls.recv(65536):  # TLS 1.3 tickets arrive after the handshake
            answer += chunk
        return int(answer.split(b" ", 2)[1]), tls.session, tls.session_reused


def test_a_tls_session_resumed_without_the_enclave_key_is_not_admitted(bed, resource):
    """A resumed TLS session carries the certificate of the handshake that made it, and
    resuming proves nothing about its key: whoever holds the session (a ticket copied out of
    a datacage's memory, or kept by a datacage after its run's key is gone) would read as that
    certificate. The gateway makes every connection prove the key again."""
    path = bed.gateway.path_of(resource)
    attested, thief = EnclaveKey.generate(), EnclaveKey.generate()
    refused = bed.provider.attest(thief, Measurement(OTHER_CODE, APPROVED_BUNDLE))
    context = ssl.create_default_context(cafile=str(bed.gateway.ca))
    with attested.tls_files(
        client_certificate(attested, bed.provider.attest(attested, bed.approved))
    ) as files:
        context.load_cert_chain(*files)
        status, session, _ = _raw_get(context, bed.gateway.nginx.port, path)
    assert status == 401  # admitted; CSS then asks for a token this request did not carry
    with thief.tls_files(client_certificate(thief, refused)) as files:
        context.load_cert_chain(*files)  # the attested key is no longer held
        status, _, resumed = _raw_get(context, bed.gateway.nginx.port, path, session)
    assert not resumed
    assert status == 495
