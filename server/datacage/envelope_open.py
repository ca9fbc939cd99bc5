"""Opening a push envelope (server/push/envelope.py has the format): the datacage's side only.

The code that decrypts pushed datasets lives in the data plane, so the control plane cannot
import it (`.importlinter`, contract `envelope-opening`): the control plane relays evidence and
records where ciphertext is, and has no function that could turn it into data. Sealing, and
the format both sides share (`Context`, `Header`, the constants), stay in server/push, where
data providers use them.
"""

from __future__ import annotations

import hmac
import json
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..push.envelope import (
    FORMAT,
    HEADER_KEYS,
    HPKE_SUITE,
    MAGIC,
    MAX_CHUNK_SIZE,
    MAX_CHUNKS,
    MAX_HEADER_BYTES,
    NONCE_PREFIX_SIZE,
    SUITE_NAME,
    TAG_SIZE,
    Context,
    Header,
    KeyOpener,
    context_info,
    nonce,
    read_full,
    text_of,
    unb64,
)
from ..push.errors import EnclaveKeyGone, EnvelopeDamaged, NotForThisContext

#: Hands back the key that may open an envelope of this context, or raises why none may.
KeyChooser = Callable[[Context], KeyOpener]


def read_header(source: BinaryIO) -> Header:
    """Read and check the header; the source is left at the first chunk."""
    start = source.read(len(MAGIC) + 4)
    if len(start) < len(MAGIC) + 4 or start[: len(MAGIC)] != MAGIC:
        raise EnvelopeDamaged("This is not a datacage push envelope (its first bytes are wrong).")
    (length,) = struct.unpack(">I", start[len(MAGIC) :])
    if length > MAX_HEADER_BYTES:
        raise EnvelopeDamaged(f"The envelope header claims {length:,} bytes, over the limit.")
    raw = source.read(length)
    if len(raw) != length:
        raise EnvelopeDamaged("The envelope ends inside its header: it was cut short.")
    try:
        document = json.loads(raw)
        if not isinstance(document, dict) or set(document) != HEADER_KEYS:
            raise ValueError("wrong members")
        if document["format"] != FORMAT or document["suite"] != SUITE_NAME:
            raise ValueError(f"unknown format or suite {str(document['format'])[:40]!r}")
        chunk_size = document["chunk_size"]
        if type(chunk_size) is not int or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError("chunk_size")
        context = Context(
            *(text_of(document[k]) for k in ("space", "dataset", "evidence_sha256", "key_sha256"))
        )
        prefix = unb64(document["nonce_prefix"])
        sealed = unb64(document["sealed_key"])
        if len(prefix) != NONCE_PREFIX_SIZE:
            raise ValueError("nonce_prefix")
    except (ValueError, TypeError, KeyError) as exc:
        raise EnvelopeDamaged(f"The envelope header is not valid ({exc}).") from None
    return Header(context, chunk_size, prefix, sealed, raw)


def open_stream(
    source: BinaryIO,
    key: KeyOpener | KeyChooser,
    expected: tuple[str, str],
    *,
    check_context: Callable[[Context], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """Decrypt `source` chunk by chunk, checking it is for `expected` (space IRI, dataset name).

    `key` is the one key that may open it (the enclave key), or a chooser that is handed the
    header's context and returns the key to open it with, or raises a `PushError` saying why
    none may (the datacage's keyring: its enclave key, or a fleet key for this very bundle).
    `check_context` may refuse the header's context before anything is decrypted.

    Yields plaintext chunks. A chunk is yielded only after its tag verified, but a later chunk
    may still fail: the caller writes to a temporary file and keeps it only when the iteration
    ends without an error (`EnvelopeDamaged`, `EnclaveKeyGone`, `NotForThisContext`).
    """
    header = read_header(source)
    space, dataset = expected
    if header.context.space != space or header.context.dataset != dataset:
        raise NotForThisContext(
            f"The envelope was made for the dataset {header.context.dataset[:80]!r} of the space "
            f"{header.context.space[:120]}, not for {dataset[:80]!r} of {space[:120]}."
        )
    opener = key(header.context) if callable(key) else _only(key, header.context, dataset)
    if not hmac.compare_digest(header.context.key_sha256, opener.public_key_sha256()):
        raise EnclaveKeyGone(f"No key of this datacage opens {dataset[:80]!r}; push it again.")
    if check_context is not None:
        check_context(header.context)
    try:
        data_key = opener.open_sealed(HPKE_SUITE, header.sealed_key, context_info(header.context))
    except (InvalidTag, ValueError):
        raise EnvelopeDamaged(
            f"The data key of {dataset[:80]!r} does not open with this datacage's key and the "
            "envelope's context: the header was changed."
        ) from None
    yield from _open_chunks(source, AESGCM(data_key), header, on_chunk)


def _only(key: KeyOpener, context: Context, dataset: str) -> KeyOpener:
    if not hmac.compare_digest(context.key_sha256, key.public_key_sha256()):
        raise EnclaveKeyGone(
            f"The dataset {dataset[:80]!r} was encrypted to a datacage key that no longer exists "
            f"(key {context.key_sha256[:16]}...; this datacage holds "
            f"{key.public_key_sha256()[:16]}..., a restart makes a new one); push it again."
        )
    return key


def _open_chunks(source, aead: AESGCM, header: Header, on_chunk) -> Iterator[bytes]:
    frame, aad = header.chunk_size + TAG_SIZE, header.aad
    current, index = read_full(source, frame), 0
    while True:
        following = read_full(source, frame)
        last = not following
        if (not last and len(current) != frame) or len(current) < TAG_SIZE:
            raise EnvelopeDamaged(f"Chunk {index} of the envelope is cut short.")
        try:
            plain = aead.decrypt(nonce(header.nonce_prefix, index, last), current, aad)
        except InvalidTag:
            raise EnvelopeDamaged(
                f"Chunk {index} of the envelope does not verify: the ciphertext was changed, "
                "cut short, extended or reordered."
            ) from None
        if on_chunk:
            on_chunk(len(current))
        yield plain
        if last:
            return
        current, index = following, index + 1
        if index >= MAX_CHUNKS:
            raise EnvelopeDamaged("The envelope has more chunks than its counter allows.")
