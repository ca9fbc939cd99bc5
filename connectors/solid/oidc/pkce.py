"""PKCE: Proof Key for Code Exchange (RFC 7636), S256 only.

Section 4.1: a high-entropy verifier of 43-128 unreserved characters; section 4.2: the
challenge is BASE64URL(SHA256(verifier)). `plain` is never offered.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from ..dpop import b64url


@dataclass(frozen=True)
class Pkce:
    verifier: str = field(repr=False)

    @classmethod
    def generate(cls) -> Pkce:
        # 64 random bytes -> 86 characters, inside the 43..128 range of section 4.1.
        return cls(b64url(secrets.token_bytes(64)))

    @property
    def challenge(self) -> str:
        return b64url(hashlib.sha256(self.verifier.encode("ascii")).digest())

    method = "S256"
