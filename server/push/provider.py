"""One push, start to end, on the data provider's machine (what `datacage push dataset` runs).

1. check the file against its declared format and schema (a mistake is caught here, early);
2. fetch the datacage's evidence for the space and verify it (`target.check_target`);
3. encrypt the file to the attested key into a private temporary folder (streamed, 0600);
4. upload the envelope with the chosen connector and the provider's own credentials, and make
   a read-only grant for that object alone;
5. register the dataset with the space (name, connector, location, grant, format, schema,
   digests), as the provider's WebID.

Nothing is uploaded before the evidence verified and the file checked; the temporary envelope
is removed on every path out. A failure after the upload (registration refused) says so: the
object stays in the provider's storage, encrypted, and is replaced by the next push.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

from connectors.base import Connector, Progress

from ..attestation import TrustPolicy
from . import envelope
from .errors import PushError
from .formats import check_file
from .target import MAX_ANSWER_BYTES, PushTarget, check_target, parse_answer

#: Makes a progress callback for one stage: (label, total bytes) -> (update, close).
ProgressFactory = Callable[[str, int], tuple[Progress, Callable[[], None]]]


@dataclass(frozen=True)
class PushRequest:
    control_plane: str  # the control plane's public URL
    space_id: str
    name: str
    source: Path
    format: str
    schema: dict[str, Any] | None
    connector: Connector
    grant_lifetime: timedelta


@dataclass(frozen=True)
class PushResult:
    registered: dict[str, Any]  # the control plane's record (no grant)
    target: PushTarget
    plaintext_size: int


def space_iri(control_plane: str, space_id: str) -> str:
    return control_plane.rstrip("/") + "/spaces/" + space_id


def push_dataset(
    session,  # connectors.solid.SolidSession: the provider's DPoP-bound identity
    request: PushRequest,
    policy: TrustPolicy,
    now: datetime,
    progress: ProgressFactory | None = None,
) -> PushResult:
    base = request.control_plane.rstrip("/") + "/"
    check_file(request.source, request.format, request.schema, request.name)
    target, datacage_webid = fetch_target(
        session, request.control_plane, request.space_id, policy, now
    )
    request.connector.use_identity(session, datacage_webid)
    request.connector.test_connection()
    scratch = Path(tempfile.mkdtemp(prefix="datacage-push-"))  # 0700
    try:
        sealed = scratch / "envelope"
        digest, size = _seal(request, target, sealed, progress)
        update, close = _progress(progress, "Uploading", sealed.stat().st_size)
        try:
            stored = request.connector.upload(sealed, update)
        finally:
            close()
        grant = request.connector.read_grant(stored, request.grant_lifetime, now)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    fields = {
        "name": request.name,
        "connector": request.connector.type,
        "location": stored.location,
        "grant": grant,
        "format": request.format,
        "schema": request.schema,
        "ciphertext_digest": digest,
        "size": stored.size,
        "evidence_sha256": target.evidence_sha256,
        "key_sha256": target.context(request.name).key_sha256,
    }
    try:
        registered = _post(session, base + f"api/spaces/{quote(request.space_id)}/datasets", fields)
    except PushError as exc:
        raise PushError(
            f"{exc} The encrypted file was uploaded to {stored.location} but is not registered; "
            "push again to register it."
        ) from None
    return PushResult(registered, target, size)


def fetch_target(
    session, control_plane: str, space_id: str, policy: TrustPolicy, now: datetime
) -> tuple[PushTarget, str]:
    """The space's datacage key, checked against `policy`, and the datacage's WebID."""
    url = control_plane.rstrip("/") + f"/api/spaces/{quote(space_id)}/push/evidence"
    answer = _get(session, url)
    space = space_iri(control_plane, space_id)
    return check_target(answer, space_iri=space, policy=policy, now=now), str(
        answer.get("datacage") or ""
    )


def _seal(request, target: PushTarget, sealed: Path, progress) -> tuple[str, int]:
    fd = os.open(sealed, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    update, close = _progress(progress, "Encrypting", request.source.stat().st_size)
    try:
        with open(request.source, "rb") as source, os.fdopen(fd, "wb") as out:
            hashing = _Hashing(out)
            size = envelope.seal(
                source,
                hashing,  # type: ignore[arg-type]
                target.public_key,
                target.context(request.name),
                on_chunk=update,
            )
    finally:
        close()
    return "sha256:" + hashing.hash.hexdigest(), size


class _Hashing:
    def __init__(self, out: BinaryIO):
        self.out, self.hash = out, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return self.out.write(data)


def _progress(factory: ProgressFactory | None, label: str, total: int):
    if factory is None:
        return (lambda _n: None), (lambda: None)
    return factory(label, total)


def _get(session, url: str) -> dict[str, Any]:
    response = _call(session, "GET", url, headers={"Accept": "application/json"})
    return _answer(session, response, url)


def _post(session, url: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    response = _call(session, "POST", url, data=json.dumps(body), headers=headers)
    return _answer(session, response, url)


def _call(session, method: str, url: str, **kwargs):
    from connectors.solid.errors import SolidError

    try:
        return session.request(method, url, **kwargs)
    except SolidError as exc:
        raise PushError(f"The control plane at {_site(url)} could not be reached: {exc}") from None


def _answer(session, response, url: str) -> dict[str, Any]:
    from connectors.solid.errors import SolidError

    try:
        data = session.http.read(response, limit=MAX_ANSWER_BYTES)
    except SolidError as exc:
        raise PushError(f"The control plane's answer could not be read: {exc}") from None
    if response.status_code >= 400:
        try:
            detail = parse_answer(data).get("detail")
        except PushError:
            detail = None
        raise PushError(
            f"The control plane refused {response.request.method} {urlsplit(url).path} "
            f"({response.status_code}): {detail or 'no reason given'}"
        )
    return parse_answer(data)


def _site(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
