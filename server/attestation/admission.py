"""The pod provider's admission check: nginx asks it whether a datacage may come in.

nginx terminates TLS with `ssl_verify_client optional_no_ca` (the datacage's RA-TLS certificate
is self-signed, so no CA can vouch for it) and, for every pod request, makes an `auth_request`
subrequest here with the client certificate in the `X-Client-Cert` header
(`$ssl_client_escaped_cert`, URL-encoded PEM). We answer 204 when the evidence in it verifies
against the trust policy, 403 otherwise; nginx then forwards the request to the pod server or
refuses it, so a refused datacage never reaches the pod server at all.

The ordinary entrance (people, the control plane) asks `/_entrance` about each request that
carries credentials: a read is refused when its access token names one of the policy's
`datacage_webids`, so a datacage cannot read a pod by the door that does not attest it
(server/attestation/entrance.py; its writes, delivering results, pass to the pod's own
access control).

The policy is a TOML file, re-read when it changes (a newly approved bundle needs no restart)::

    code_digests = ["sha256:..."]        # datacage code releases the provider approves
    bundle_digests = ["sha256:..."]      # algorithm bundles the provider approves
    allow_software = false               # accept the software stand-in (proves nothing!)
    software_key_files = ["cage.pub"]    # its trusted Ed25519 keys, relative to this file
    max_age_seconds = 3600               # how old evidence may be
    datacage_webids = ["https://..."]    # refused at the ordinary entrance (entrance.py)

    [sev-snp]   # and [tdx]: what hardware evidence must show (server/attestation/policy.py)

JSON with the same structure is read too (a file ending in `.json`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, request

from .admitted import AdmittedCertificates
from .entrance import (
    UnreadableCredentials,
    is_storage_description_read,
    is_write,
    webids_in_authorization,
)
from .errors import AttestationError
from .policy import HARDWARE_KEYS, HardwarePolicyError, hardware_policy
from .ratls import MAX_CERTIFICATE_BYTES, verified_certificate
from .trust import DEFAULT_MAX_AGE, TrustPolicy

log = logging.getLogger(__name__)

CERT_HEADER = "X-Client-Cert"
#: The path the ordinary entrance's nginx asks (every other path is the gateway's check).
ENTRANCE_CHECK = "/_entrance"
_POLICY_KEYS = {
    "code_digests",
    "bundle_digests",
    "allow_software",
    "software_keys",
    "software_key_files",
    "max_age_seconds",
    "datacage_webids",
    "key_service_keys",
    "key_service_key_files",
    *HARDWARE_KEYS,
}


class PolicyError(ValueError):
    """The admission policy file is missing or wrong; the message says where."""


def load_policy(path: Path) -> TrustPolicy:
    """Read a TOML (or JSON) trust policy strictly: unknown keys and wrong types are errors."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PolicyError(f"Cannot read the trust policy {path}: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: the trust policy must be a table (a JSON object).")
    unknown = set(data) - _POLICY_KEYS
    if unknown:
        raise PolicyError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}.")
    keys = list(_strings(data, "software_keys", path))
    for name in _strings(data, "software_key_files", path):
        try:
            keys.append((path.parent / name).read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read the software key {name}: {exc}") from None
    services = list(_strings(data, "key_service_keys", path))
    for name in _strings(data, "key_service_key_files", path):
        try:  # a fleet's key service, whose statements of fleet keys a provider accepts
            services.append((path.parent / name).read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read the key service key {name}: {exc}") from None
    allow = data.get("allow_software", False)
    age = data.get("max_age_seconds", int(DEFAULT_MAX_AGE.total_seconds()))
    if not isinstance(allow, bool) or type(age) is not int:
        raise PolicyError(f"{path}: allow_software must be true/false, max_age_seconds a number.")
    try:
        hardware = hardware_policy(data, path.parent)
    except HardwarePolicyError as exc:
        raise PolicyError(f"{path}: {exc}") from None
    try:
        return TrustPolicy(
            frozenset(_strings(data, "code_digests", path)),
            frozenset(_strings(data, "bundle_digests", path)),
            allow_software=allow,
            software_keys=tuple(keys),
            max_age=timedelta(seconds=age),
            hardware=hardware,
            datacage_webids=frozenset(_strings(data, "datacage_webids", path)),
            key_service_keys=tuple(services),
        )
    except ValueError as exc:
        raise PolicyError(f"{path}: {exc}") from None


def policy_document(policy: TrustPolicy) -> dict[str, object]:
    """`policy` as the JSON document `load_policy` reads back (an admission process of its own
    is handed its policy this way). Hardware tables are read from their files, with their
    collateral, and are not written back: such a policy must be given as its file."""
    if policy.hardware.snp is not None or policy.hardware.tdx is not None:
        raise ValueError("A policy with [sev-snp] or [tdx] tables is kept in its own file.")
    return {
        "code_digests": sorted(policy.code_digests),
        "bundle_digests": sorted(policy.bundle_digests),
        "allow_software": policy.allow_software,
        "software_keys": list(policy.software_keys),
        "max_age_seconds": int(policy.max_age.total_seconds()),
        "datacage_webids": sorted(policy.datacage_webids),
        "key_service_keys": list(policy.key_service_keys),
    }


def _strings(data: dict[str, object], key: str, path: Path) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{path}: {key} must be a list of strings.")
    return value


class PolicyFile:
    """The policy in a file, re-read when the file's modification time, size or inode changes
    (a file renamed into place within the same clock tick is still a new file)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[int, ...], ...] | None = None
        self._sources: tuple[Path, ...] = ()
        self._policy = self.current()

    def current(self) -> TrustPolicy:
        # The collateral it names counts too: a new CRL or TCB info replaces the old at once.
        stamp = _stamps((self.path, *self._sources))
        with self._lock:
            if stamp != self._stamp:
                self._policy = load_policy(self.path)
                self._sources = self._policy.hardware.sources
                self._stamp = _stamps((self.path, *self._sources))
            return self._policy


class PolicyInForce:
    """A policy held in memory and replaced whole: for a pod provider started before it knows
    its datacage's WebID (the demo, test beds). The file's equivalent is `PolicyFile`."""

    def __init__(self, policy: TrustPolicy):
        self._policy = policy

    def current(self) -> TrustPolicy:
        return self._policy

    def replace(self, policy: TrustPolicy) -> None:
        self._policy = policy  # one reference swap: a request sees the old policy or the new


def _stamps(paths: tuple[Path, ...]) -> tuple[tuple[int, ...], ...]:
    stamps = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:  # a vanished collateral file: reload, and let loading say so
            stamps.append((-1, -1, -1))
            continue
        stamps.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return tuple(stamps)


def create_app(
    policy: TrustPolicy | PolicyFile | PolicyInForce | Path | str,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    cache: AdmittedCertificates | None = None,
) -> Flask:
    """The admission app; `policy` is a policy, or the path of its TOML file.

    Admitted certificates are remembered (`cache`, server/attestation/admitted.py): a run's
    thousands of pulls cost one verification of its certificate, not one each."""
    if isinstance(policy, str | Path):
        policy = PolicyFile(Path(policy))
    current = policy.current if isinstance(policy, PolicyFile | PolicyInForce) else (lambda: policy)
    admitted = cache if cache is not None else AdmittedCertificates(verified_certificate)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 0
    app.extensions["admitted_certificates"] = admitted

    @app.route(ENTRANCE_CHECK, methods=["GET", "HEAD"])
    def entrance() -> Response:
        # Asked by the ordinary entrance: no datacage may read a pod without attestation.
        uri = request.headers.get("X-Original-URI")
        target = (uri or "?")[:200]
        try:
            named = webids_in_authorization(request.headers.getlist("Authorization"))
        except UnreadableCredentials as exc:
            return Response(status=_refuse(target, f"at the ordinary entrance: {exc}"))
        datacages = named & current().datacage_webids
        method = request.headers.get("X-Original-Method")
        if datacages and not is_write(method) and not is_storage_description_read(method, uri):
            shown = method if method and method.isalpha() and len(method) <= 10 else "request"
            reason = (
                f"at the ordinary entrance: a {shown} with an access token of the datacage "
                f"{min(datacages)}, which reads pods only through the attestation gateway"
            )
            return Response(status=_refuse(target, reason))
        return Response(status=204)

    def judge(escaped: str, target: str) -> int:
        """The gateway's question: 204 to let a pod request through, 403 to refuse it."""
        if not escaped:
            return _refuse(target, "no client certificate was presented")
        if len(escaped) > 3 * MAX_CERTIFICATE_BYTES:
            return _refuse(target, "the client certificate is too large")
        try:
            verified, fresh = admitted.admit(
                escaped.encode("latin-1"), current(), clock(), decode=unquote_to_bytes
            )
        except AttestationError as exc:
            return _refuse(target, str(exc))
        # Once per certificate verified, not once per pull: nginx's access log has every request.
        log.log(
            logging.INFO if fresh else logging.DEBUG,
            "admitted %s: %s evidence%s for code %s, bundle %s, key %s",
            target,
            verified.provider,
            "" if verified.hardware_backed else " (SOFTWARE stand-in, not hardware)",
            verified.measurement.datacage_code,
            verified.measurement.bundle_digest,
            verified.public_key_sha256[:16],
        )
        return 204

    @app.route("/", defaults={"_path": ""}, methods=["GET", "HEAD"])
    @app.route("/<path:_path>", methods=["GET", "HEAD"])
    def admit(_path: str) -> Response:
        target = request.headers.get("X-Original-URI", "?")[:200]
        return Response(status=judge(request.headers.get(CERT_HEADER, ""), target))

    app.wsgi_app = _GatewayQuestion(app.wsgi_app, judge)  # type: ignore[method-assign]
    return app


class _GatewayQuestion:
    """The gateway's question answered before Flask: nginx asks it on every pod request, and
    Flask's request context, routing and response objects cost twice the answer itself.
    Everything else (the entrance's question, other methods) goes to the Flask app. It reads
    the same two headers the Flask view reads and gives the same answer (`judge`)."""

    def __init__(self, app: Callable[..., Any], judge: Callable[[str, str], int]):
        self.app, self.judge = app, judge

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get(
            "PATH_INFO", ""
        ).startswith(ENTRANCE_CHECK):
            return self.app(environ, start_response)
        # WSGI headers are latin-1 text; nginx sends the certificate URL-escaped (ASCII).
        target = environ.get("HTTP_X_ORIGINAL_URI", "?")[:200]
        status = self.judge(environ.get("HTTP_X_CLIENT_CERT", ""), target)
        start_response(*_ANSWERS[status])
        return [b""]


#: The answers as the Flask view gives them (a 204 has no Content-Length, RFC 9110 8.6).
_ANSWERS: dict[int, tuple[str, list[tuple[str, str]]]] = {
    204: ("204 NO CONTENT", []),
    403: ("403 FORBIDDEN", [("Content-Length", "0")]),
}


def _refuse(target: str, reason: str) -> int:
    # The reason stays in our log: nginx shows the client its own plain 403 page.
    log.warning("refused %s: %s", target, reason)
    return 403
