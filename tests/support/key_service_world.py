"""A fleet's key service for tests: a real key file, the real release check, served over HTTP
(serve_wsgi), with one fleet key for a bundle; and the trust policy a provider of that fleet
writes (approved code and bundle, the workers' software keys, the key service's key)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from server.attestation import TrustPolicy, measure_datacage_code
from server.datacage.fleet_keys import KeyServiceClient
from server.keyrelease.app import create_key_service_app
from server.keyrelease.release import SoftwareKeyService
from server.keyrelease.store import KeyStore, create
from tests.support.live_server import serve_wsgi

FLEET = "test-fleet"


@dataclass
class KeyService:
    url: str
    store: KeyStore
    service: SoftwareKeyService
    folder: Path
    software_pems: list[str]
    bundle: str

    def client(self) -> KeyServiceClient:
        return KeyServiceClient.from_files(self.url, str(self.signing_key_file()))

    def signing_key_file(self) -> Path:
        path = self.folder / "key-service.pub"
        path.write_text(self.store.signing_public_pem())
        return path

    def provider_policy(self) -> Path:
        """What a data provider of this fleet trusts, as `datacage push --policy` reads it."""
        path = self.folder / "provider-policy.json"
        path.write_text(
            json.dumps(
                {
                    "code_digests": [measure_datacage_code()],
                    "bundle_digests": [self.bundle],
                    "allow_software": True,
                    "software_keys": self.software_pems,
                    "key_service_key_files": [self.signing_key_file().name],
                }
            )
        )
        return path

    def private_forms(self) -> list[str]:
        """Every spelling of the fleet private keys a log line could carry."""
        import base64

        forms = []
        for pair in self.store.keys:
            der = pair.private_der()
            forms += [der.hex(), base64.b64encode(der).decode()[:60]]
            forms += [base64.urlsafe_b64encode(der).decode().rstrip("=")[:60]]
            forms += [json.loads(json.dumps(pair._entry()))["private_key"].splitlines()[1]]
        return forms


@contextmanager
def key_service(
    folder: Path, bundle: str, software_pems: list[str], *, code: str | None = None
) -> Iterator[KeyService]:
    """A key service releasing `bundle`'s fleet key to workers whose software stand-in signs
    with one of `software_pems`, running `code` (default: this code)."""
    folder.mkdir(parents=True, exist_ok=True)
    store = create(folder / "keys.json", FLEET)
    store.add_key(bundle, int(time.time()))
    policy = TrustPolicy(
        frozenset({code or measure_datacage_code()}),
        frozenset({bundle}),
        allow_software=True,
        software_keys=tuple(software_pems),
    )
    service = SoftwareKeyService(store, policy, clock=lambda: datetime.now(UTC))
    app = create_key_service_app(service, store.signing_public_pem(), FLEET)
    with serve_wsgi(app) as url:
        yield KeyService(url, store, service, folder, software_pems, bundle)
