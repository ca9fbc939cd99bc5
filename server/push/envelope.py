"""The push envelope `datacage-push-v1`: a dataset encrypted to the enclave key, in chunks.

Byte by byte (docs/push.md has the full table)::

    magic        8 bytes   b"DCGPUSH1"
    header_len   4 bytes   big-endian length H of the header (at most 64 KiB)
    header       H bytes   canonical JSON (sorted keys, no spaces): the members in HEADER_KEYS
    chunks       ...       AES-256-GCM ciphertexts, each with its 16-byte tag

* The data key is 32 fresh random bytes per dataset. It is sealed to the enclave's P-256 public
  key with HPKE (RFC 9180, base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) from
  `cryptography`'s own HPKE implementation; the HPKE `info` binds the space, the dataset name,
  the evidence hash and the key hash (`context_info`), so a sealed key opens only for them.
* Chunks follow the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): chunk i
  (from 0) is sealed under the nonce `nonce_prefix (7 bytes) || u32be(i) || last (1 byte, 0 or
  1)`, with the SHA-256 of magic + header_len + header as associated data. Every chunk but the
  last holds exactly `chunk_size` plaintext bytes; the last holds 0 to `chunk_size`. Reordering
  breaks the counter, cutting at a chunk boundary or appending breaks the last flag, and any
  change to the header breaks every chunk.

Reading and writing stream: memory stays at a few chunks whatever the size of the dataset.
This module seals, and holds the format both sides share; the opening is the datacage's alone
(server/datacage/envelope_open.py), out of the control plane's reach.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from ..attestation.enclave_key import public_key_sha256

MAGIC = b"DCGPUSH1"
FORMAT = "datacage-push-v1"
SUITE_NAME = "HPKE-base DHKEM(P-256,HKDF-SHA256) HKDF-SHA256 AES-256-GCM; STREAM AES-256-GCM"
HPKE_SUITE = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
MAX_HEADER_BYTES = 64 * 1024
DEFAULT_CHUNK_SIZE = 1 << 20  # 1 MiB: the AEAD call overhead vanishes, memory stays small
MAX_CHUNK_SIZE = 16 << 20
TAG_SIZE = 16
NONCE_PREFIX_SIZE = 7
DATA_KEY_SIZE = 32
MAX_CHUNKS = 1 << 32
HEADER_KEYS = frozenset(
    {
        "format",
        "suite",
        "space",
        "dataset",
        "evidence_sha256",
        "key_sha256",
        "chunk_size",
        "nonce_prefix",
        "sealed_key",
    }
)
_INFO_PREFIX = b"datacage-push-v1 data key\n"


@dataclass(frozen=True)
class Context:
    """What an envelope is for: a space, a dataset name, the evidence it was encrypted after."""

    space: str  # the space's IRI
    dataset: str  # the registered dataset name
    evidence_sha256: str  # hex SHA-256 of the evidence bytes the provider verified
    key_sha256: str  # hex SHA-256 of the enclave public key (DER SPKI): the evidence's report_data


def context_info(context: Context) -> bytes:
    """The HPKE `info`: a domain prefix, then the context as canonical JSON."""
    return _INFO_PREFIX + _canonical(
        {
            "space": context.space,
            "dataset": context.dataset,
            "evidence_sha256": context.evidence_sha256,
            "key_sha256": context.key_sha256,
        }
    )


class KeyOpener(Protocol):
    """The enclave key's side: open an HPKE message sealed to it (never exports the key)."""

    def public_key_sha256(self) -> str: ...

    def open_sealed(self, suite: Suite, sealed: bytes, info: bytes) -> bytes: ...


@dataclass(frozen=True)
class Header:
    context: Context
    chunk_size: int
    nonce_prefix: bytes
    sealed_key: bytes
    raw: bytes  # the header bytes exactly as in the file

    @property
    def aad(self) -> bytes:
        return hashlib.sha256(MAGIC + struct.pack(">I", len(self.raw)) + self.raw).digest()


def seal(
    source: BinaryIO,
    target: BinaryIO,
    recipient: ec.EllipticCurvePublicKey,
    context: Context,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Encrypt `source` into `target` for `recipient`; return the plaintext size.

    `on_chunk(n)` is called with the plaintext bytes of each chunk (a progress bar's update).
    """
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE} bytes.")
    if not hmac.compare_digest(public_key_sha256(recipient), context.key_sha256):
        raise ValueError("The context names another key than the recipient's.")
    data_key = AESGCM.generate_key(bit_length=256)
    prefix = os.urandom(NONCE_PREFIX_SIZE)
    raw = _canonical(
        {
            "format": FORMAT,
            "suite": SUITE_NAME,
            "space": context.space,
            "dataset": context.dataset,
            "evidence_sha256": context.evidence_sha256,
            "key_sha256": context.key_sha256,
            "chunk_size": chunk_size,
            "nonce_prefix": _b64(prefix),
            "sealed_key": _b64(HPKE_SUITE.encrypt(data_key, recipient, context_info(context))),
        }
    )
    header = Header(context, chunk_size, prefix, b"", raw)
    target.write(MAGIC + struct.pack(">I", len(raw)) + raw)
    aead, aad, total = AESGCM(data_key), header.aad, 0
    for index, chunk, last in _chunks(source, chunk_size):
        target.write(aead.encrypt(nonce(prefix, index, last), chunk, aad))
        total += len(chunk)
        if on_chunk:
            on_chunk(len(chunk))
    return total


def _chunks(source: BinaryIO, size: int) -> Iterator[tuple[int, bytes, bool]]:
    """(index, chunk, is_last); an empty source is one empty last chunk."""
    current, index = read_full(source, size), 0
    while True:
        following = read_full(source, size) if len(current) == size else b""
        yield index, current, not following
        if not following:
            return
        current, index = following, index + 1
        if index >= MAX_CHUNKS:
            raise ValueError("The dataset is too large for one envelope.")


def read_full(source: BinaryIO, size: int) -> bytes:
    # A pipe or an HTTP body may return less than asked before its end.
    parts, wanted = [], size
    while wanted:
        part = source.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("expected base64url text")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def text_of(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("expected text")
    return value
