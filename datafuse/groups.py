"""The groups blinding happens in: X25519 u-coordinates (default) and ristretto255 (optional).

A *group* here does three things: hash an identifier to an element, make a fresh secret key,
and raise elements to a key's power. Blinding commutes (``(H(x)^a)^b = (H(x)^b)^a``), which
is all the protocol needs. Why X25519's x-only ladder is a sound group for this, cofactor and
twist included, is argued in docs/datafuse.md ("Why X25519 u-coordinates are enough").

ristretto255 is the textbook prime-order group for the same job; it needs libsodium through
PyPI ``rbcl``, an optional dependency: without it the group is simply not offered.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

try:  # optional: libsodium's ristretto255 through rbcl
    import rbcl as _rbcl
except ImportError:  # pragma: no cover - depends on the installation
    _rbcl = None


class BlindingError(ValueError):
    """An element could not be blinded (a low-order point: see docs/datafuse.md)."""


class Key(Protocol):
    def blind(self, elements: Sequence[bytes]) -> list[bytes]: ...
    def destroy(self) -> None: ...


class Group(Protocol):
    name: str
    element_size: int

    def hash_to_element(self, identifier: str) -> bytes: ...
    def new_key(self, secret: bytes | None = None) -> Key: ...


def _digest(tag: bytes, identifier: str) -> bytes:
    # Domain-separated, so the same e-mail hashed for another purpose gives unrelated bytes.
    return hashlib.sha512(tag + b"\x00" + identifier.encode("utf-8")).digest()


class _X25519Key:
    """A clamped X25519 scalar; the raw bytes are kept in a bytearray so they can be zeroed."""

    def __init__(self, secret: bytes | None) -> None:
        self._secret = bytearray(secret if secret is not None else secrets.token_bytes(32))
        if len(self._secret) != 32:
            raise ValueError("an X25519 key is 32 bytes")
        self._private: X25519PrivateKey | None = X25519PrivateKey.from_private_bytes(
            bytes(self._secret)
        )

    def blind(self, elements: Sequence[bytes]) -> list[bytes]:
        if self._private is None:
            raise RuntimeError("this key was destroyed at the end of its run")
        exchange, load = self._private.exchange, X25519PublicKey.from_public_bytes
        try:
            return [exchange(load(element)) for element in elements]
        except ValueError as error:  # an all-zero result: the input had low order
            raise BlindingError("an element of low order cannot be blinded") from error

    def destroy(self) -> None:
        for i in range(len(self._secret)):
            self._secret[i] = 0
        self._private = None


class X25519Group:
    """Elements are 32-byte u-coordinates; keys are clamped scalars (RFC 7748, section 5)."""

    name = "x25519"
    element_size = 32
    _TAG = b"datafuse-x25519-v1"

    def hash_to_element(self, identifier: str) -> bytes:
        # 255 bits of SHA-512, taken as a u-coordinate. Every u is on the curve or on its
        # twist; both are fine (docs/datafuse.md), so no rejection sampling is needed.
        digest = bytearray(_digest(self._TAG, identifier)[:32])
        digest[31] &= 0x7F
        return bytes(digest)

    def new_key(self, secret: bytes | None = None) -> _X25519Key:
        return _X25519Key(secret)


class _RistrettoKey:
    def __init__(self, secret: bytes | None) -> None:
        raw = secret if secret is not None else _rbcl.crypto_core_ristretto255_scalar_random()
        self._secret = bytearray(raw)
        if len(self._secret) != 32:
            raise ValueError("a ristretto255 scalar is 32 bytes")

    def blind(self, elements: Sequence[bytes]) -> list[bytes]:
        if not any(self._secret):
            raise RuntimeError("this key was destroyed at the end of its run")
        scalar, multiply = bytes(self._secret), _rbcl.crypto_scalarmult_ristretto255
        return [multiply(scalar, element) for element in elements]

    def destroy(self) -> None:
        for i in range(len(self._secret)):
            self._secret[i] = 0


class Ristretto255Group:
    """The prime-order group built on Curve25519 (RFC 9496); hash-to-group from 64 bytes."""

    name = "ristretto255"
    element_size = 32
    _TAG = b"datafuse-ristretto255-v1"

    def hash_to_element(self, identifier: str) -> bytes:
        return _rbcl.crypto_core_ristretto255_from_hash(_digest(self._TAG, identifier))

    def new_key(self, secret: bytes | None = None) -> _RistrettoKey:
        return _RistrettoKey(secret)


X25519 = X25519Group()
Ristretto255 = Ristretto255Group() if _rbcl is not None else None
GROUPS: dict[str, Group] = {"x25519": X25519}
if Ristretto255 is not None:
    GROUPS["ristretto255"] = Ristretto255


def group_named(name: str) -> Group:
    try:
        return GROUPS[name]
    except KeyError:
        offered = ", ".join(sorted(GROUPS))
        raise ValueError(
            f"There is no blinding group {name!r}; this installation offers {offered}."
        ) from None
