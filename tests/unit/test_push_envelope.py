"""The push envelope: what seals opens, and every change to the bytes is refused.

Small chunks (16 bytes) so that a few hundred bytes make many chunks to cut, swap and extend.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from server.attestation import EnclaveKey, public_key_sha256
from server.datacage.envelope_open import open_stream, read_header
from server.push import envelope
from server.push.envelope import MAGIC, TAG_SIZE, Context, seal
from server.push.errors import EnclaveKeyGone, EnvelopeDamaged, NotForThisContext

CHUNK = 16
SPACE = "http://localhost:5000/spaces/abc"


@pytest.fixture(scope="module")
def key() -> EnclaveKey:
    return EnclaveKey.generate()


def context(key: EnclaveKey, dataset: str = "customers", space: str = SPACE) -> Context:
    return Context(space, dataset, "ab" * 32, key.public_key_sha256())


def sealed(key: EnclaveKey, data: bytes, **changes) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(data), out, key.public_key, context(key, **changes), chunk_size=CHUNK)
    return out.getvalue()


def opened(key: EnclaveKey, data: bytes, expected=(SPACE, "customers")) -> bytes:
    return b"".join(open_stream(io.BytesIO(data), key, expected))


def split(data: bytes) -> tuple[bytes, list[bytes]]:
    header = read_header(io.BytesIO(data))
    start = len(MAGIC) + 4 + len(header.raw)
    frame = CHUNK + TAG_SIZE
    body = data[start:]
    return data[:start], [body[i : i + frame] for i in range(0, len(body), frame)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10 * CHUNK, 10 * CHUNK + 3])
def test_what_is_sealed_opens_whole(key, size):
    data = (b"0123456789abcdef" * 20)[:size]
    assert opened(key, sealed(key, data)) == data


def test_the_data_key_is_fresh_for_every_dataset(key):
    a, b = sealed(key, b"same data"), sealed(key, b"same data")
    assert a != b
    assert read_header(io.BytesIO(a)).sealed_key != read_header(io.BytesIO(b)).sealed_key


def test_a_changed_byte_in_any_chunk_is_refused(key):
    data = sealed(key, b"A" * (5 * CHUNK))
    head, chunks = split(data)
    for index in range(len(chunks)):
        changed = bytearray(chunks[index])
        changed[3] ^= 1
        tampered = head + b"".join([*chunks[:index], bytes(changed), *chunks[index + 1 :]])
        with pytest.raises(EnvelopeDamaged, match=f"Chunk {index} .* does not verify"):
            opened(key, tampered)


def test_a_cut_at_a_chunk_boundary_is_refused(key):
    head, chunks = split(sealed(key, b"B" * (5 * CHUNK + 2)))
    with pytest.raises(EnvelopeDamaged, match="cut short, extended or reordered"):
        opened(key, head + b"".join(chunks[:3]))


def test_a_cut_inside_a_chunk_is_refused(key):
    data = sealed(key, b"C" * (5 * CHUNK))
    with pytest.raises(EnvelopeDamaged):
        opened(key, data[:-5])
    head, _ = split(data)
    with pytest.raises(EnvelopeDamaged, match="ends inside its header"):
        opened(key, head[:-3])


def test_swapped_chunks_are_refused(key):
    head, chunks = split(sealed(key, bytes(range(5 * CHUNK))))
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    with pytest.raises(EnvelopeDamaged, match="Chunk 0"):
        opened(key, head + b"".join(swapped))


def test_an_appended_chunk_is_refused(key):
    head, chunks = split(sealed(key, b"D" * (3 * CHUNK)))
    with pytest.raises(EnvelopeDamaged):
        opened(key, head + b"".join([*chunks, chunks[0]]))


def test_no_plaintext_comes_out_of_a_chunk_that_fails(key):
    head, chunks = split(sealed(key, b"E" * (3 * CHUNK)))
    bad = bytearray(chunks[1])
    bad[0] ^= 0xFF
    stream = open_stream(
        io.BytesIO(head + chunks[0] + bytes(bad) + chunks[2]), key, (SPACE, "customers")
    )
    assert next(stream) == b"E" * CHUNK  # chunk 0 verified on its own
    with pytest.raises(EnvelopeDamaged):
        next(stream)


def rewrite_header(data: bytes, **changes) -> bytes:
    head, chunks = split(data)
    document = json.loads(head[len(MAGIC) + 4 :])
    document.update(changes)
    raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return MAGIC + struct.pack(">I", len(raw)) + raw + b"".join(chunks)


def test_another_space_or_name_is_refused_before_decrypting(key):
    data = sealed(key, b"rows", space="http://localhost:5000/spaces/other")
    with pytest.raises(NotForThisContext, match="spaces/other"):
        opened(key, data)
    with pytest.raises(NotForThisContext, match="'customers'"):
        opened(key, sealed(key, b"rows"), expected=(SPACE, "suppliers"))


def test_a_header_relabelled_for_another_space_does_not_open(key):
    # Someone edits the plaintext header to move a dataset into their space: the sealed data
    # key is bound to the original context (HPKE info), so it does not open.
    moved = rewrite_header(sealed(key, b"rows"), space="http://localhost:5000/spaces/mine")
    with pytest.raises(EnvelopeDamaged, match="header was changed"):
        opened(key, moved, expected=("http://localhost:5000/spaces/mine", "customers"))
    with pytest.raises(EnvelopeDamaged, match="header was changed"):
        opened(key, rewrite_header(sealed(key, b"rows"), evidence_sha256="cd" * 32))


def test_the_key_of_a_restarted_datacage_is_named_plainly(key):
    restarted = EnclaveKey.generate()
    with pytest.raises(EnclaveKeyGone, match=r"no longer exists.*push it again"):
        opened(restarted, sealed(key, b"rows"))


def test_not_an_envelope(key):
    with pytest.raises(EnvelopeDamaged, match="not a datacage push envelope"):
        opened(key, b"name,email\n")
    with pytest.raises(EnvelopeDamaged, match="not valid"):
        opened(key, rewrite_header(sealed(key, b"x"), chunk_size=0))


def test_sealing_refuses_a_context_for_another_key(key):
    other = EnclaveKey.generate()
    with pytest.raises(ValueError, match="another key"):
        seal(io.BytesIO(b""), io.BytesIO(), other.public_key, context(key))
    assert envelope.SUITE_NAME.startswith("HPKE-base DHKEM(P-256,HKDF-SHA256)")


def test_the_bytes_are_as_docs_push_md_describes():
    # Rebuild the decryption from the documented layout alone, with a plain P-256 key.
    private = ec.generate_private_key(ec.SECP256R1())
    ctx = Context(SPACE, "customers", "ab" * 32, public_key_sha256(private.public_key()))
    out = io.BytesIO()
    seal(io.BytesIO(b"x" * 20), out, private.public_key(), ctx, chunk_size=CHUNK)
    data = out.getvalue()
    assert data[:8] == b"DCGPUSH1"
    (length,) = struct.unpack(">I", data[8:12])
    header_bytes = data[12 : 12 + length]
    header = json.loads(header_bytes)
    assert header_bytes == json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    info = (
        b"datacage-push-v1 data key\n"
        + json.dumps(
            {
                "dataset": "customers",
                "evidence_sha256": "ab" * 32,
                "key_sha256": ctx.key_sha256,
                "space": SPACE,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
    )
    sealed_key = base64.urlsafe_b64decode(header["sealed_key"] + "==")
    assert len(sealed_key) == 65 + 32 + 16
    suite = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    data_key = suite.decrypt(sealed_key, private, info)
    prefix = base64.urlsafe_b64decode(header["nonce_prefix"] + "==")
    aad = hashlib.sha256(data[:12] + header_bytes).digest()
    body = data[12 + length :]
    aead = AESGCM(data_key)
    first = aead.decrypt(prefix + struct.pack(">IB", 0, 0), body[: CHUNK + 16], aad)
    last = aead.decrypt(prefix + struct.pack(">IB", 1, 1), body[CHUNK + 16 :], aad)
    assert first + last == b"x" * 20


def test_the_datacage_fetch_reports_progress_on_a_terminal(capsys):
    from server.datacage.datasets import FetchReporter

    reports = []
    progress = FetchReporter(
        lambda stage, fraction: reports.append((stage, fraction)), terminal=True
    )
    for done in range(0, 101, 10):
        progress("customers", done, 100)
    progress.close()
    assert "Fetching customers" in capsys.readouterr().err
    assert reports[0] == ("Fetching the dataset customers: 0%.", 0.2)  # then once a second
