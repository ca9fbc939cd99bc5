"""Session cookies that are encrypted and authenticated, not just signed.

Flask's default cookie is signed but readable by anyone holding it. Ours carries the sign-in
state (state, nonce and PKCE verifier while a login is under way, then the WebID), so it is
sealed with AES-256-GCM under a key derived from SECRET_KEY, bound to the cookie's name, and
expires on the server's clock whatever the browser does. A cookie that does not open (edited,
forged, expired, or sealed under an old key) is treated as no session at all.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SessionInterface

log = logging.getLogger(__name__)

_INFO = b"datacage session cookie v1"
MAX_COOKIE_BYTES = 4000


class Session(SecureCookieSession):
    #: True when the request carried a cookie we could not open: pages can say so.
    rejected_cookie = False


class EncryptedCookieSessionInterface(SessionInterface):
    session_class = Session

    def _aead(self, app: Flask) -> AESGCM:
        secret = str(app.secret_key).encode()
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
        return AESGCM(key)

    def _lifetime(self, app: Flask) -> int:
        return int(app.config["SESSION_HOURS"]) * 3600

    def open_session(self, app: Flask, request: Request) -> Session:
        name = self.get_cookie_name(app)
        sealed = request.cookies.get(name)
        if not sealed:
            return Session()
        try:
            blob = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
            plain = self._aead(app).decrypt(blob[:12], blob[12:], name.encode())
            payload = json.loads(plain)
            if not isinstance(payload, dict) or payload.get("exp", 0) < time.time():
                raise ValueError("expired")
            return Session(payload.get("data") or {})
        except (ValueError, InvalidTag, TypeError):
            log.info("session cookie rejected (altered, expired or from an older key)")
            session = Session()
            session.rejected_cookie = True
            return session

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        name = self.get_cookie_name(app)
        domain, path = self.get_cookie_domain(app), self.get_cookie_path(app)
        if not session:
            if session.modified or getattr(session, "rejected_cookie", False):
                response.delete_cookie(name, domain=domain, path=path)
            return
        if not self.should_set_cookie(app, session):
            return
        payload = {"exp": int(time.time()) + self._lifetime(app), "data": dict(session)}
        nonce = os.urandom(12)
        blob = nonce + self._aead(app).encrypt(nonce, json.dumps(payload).encode(), name.encode())
        sealed = base64.urlsafe_b64encode(blob).decode().rstrip("=")
        if len(sealed) > MAX_COOKIE_BYTES:
            log.error("session too large for a cookie; not saved", extra={"bytes": len(sealed)})
            return
        response.set_cookie(
            name,
            sealed,
            max_age=self._lifetime(app),
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app) or "Lax",
            domain=domain,
            path=path,
        )
        response.vary.add("Cookie")
