"""What the push envelope costs, against the raw AES-256-GCM primitive on the same data.

A file of `--mib` MiB (1 GiB by default) of random bytes is made in a temporary folder, then,
in the same run and on the same bytes:

* encrypt: `server.push.envelope.seal` (HPKE-sealed data key, STREAM chunks) against a loop of
  `cryptography`'s `AESGCM.encrypt` over the same 1 MiB chunks with a counter nonce and no
  framing, both reading the file and writing to a sink that discards;
* decrypt: `envelope_open.open_stream` over the envelope against `AESGCM.decrypt` over the raw
  ciphertext (both written to disk once first).

Rounds alternate A-B-B-A so drift on a shared machine hits both alike; the best round of each
counts. Memory is the process's peak RSS (`ru_maxrss`), which includes the interpreter and its
imports (~40 MB), measured after all rounds: the file never sits whole in memory. The folder is
deleted at the end. Prints `name=value` lines; the last two are `push_crypto_ratio=<slower of
encrypt and decrypt, ours over raw throughput>` and `push_peak_rss_mb=`.

    python bench/push_crypto.py [--mib N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import struct
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.attestation import EnclaveKey
from server.datacage.envelope_open import open_stream
from server.push import envelope

CHUNK = envelope.DEFAULT_CHUNK_SIZE


class Sink:
    """Discards what is written (so the disk's write speed measures neither side)."""

    def write(self, data: bytes) -> int:
        return len(data)


def make_file(path: Path, mib: int) -> None:
    with open(path, "wb") as out:
        for _ in range(mib):
            out.write(os.urandom(1 << 20))


def raw_encrypt(source: Path, out) -> None:
    aead, prefix = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(8)
    with open(source, "rb") as data:
        index = 0
        while block := data.read(CHUNK):
            out.write(aead.encrypt(prefix + struct.pack(">I", index), block, None))
            index += 1
    return aead, prefix


def raw_decrypt(aead: AESGCM, prefix: bytes, source: Path, out) -> None:
    with open(source, "rb") as data:
        index = 0
        while frame := data.read(CHUNK + 16):
            out.write(aead.decrypt(prefix + struct.pack(">I", index), frame, None))
            index += 1


def ours_encrypt(key: EnclaveKey, context, source: Path, out) -> None:
    with open(source, "rb") as data:
        envelope.seal(data, out, key.public_key, context)


def ours_decrypt(key: EnclaveKey, context, source: Path, out) -> None:
    with open(source, "rb") as data:
        for chunk in open_stream(data, key, (context.space, context.dataset)):
            out.write(chunk)


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="datacage-bench-push-"))
    try:
        plain, sealed, raw = folder / "plain", folder / "sealed", folder / "raw"
        make_file(plain, args.mib)
        key = EnclaveKey.generate()
        context = envelope.Context(
            "http://localhost/spaces/bench", "bench", "0" * 64, key.public_key_sha256()
        )
        with open(sealed, "wb") as out:
            ours_encrypt(key, context, plain, out)
        with open(raw, "wb") as out:
            aead, prefix = raw_encrypt(plain, out)
        best = {"raw_enc": [], "ours_enc": [], "raw_dec": [], "ours_dec": []}
        for _ in range(args.rounds):  # A-B-B-A
            best["raw_enc"].append(timed(lambda: raw_encrypt(plain, Sink())))
            best["ours_enc"].append(timed(lambda: ours_encrypt(key, context, plain, Sink())))
            best["ours_enc"].append(timed(lambda: ours_encrypt(key, context, plain, Sink())))
            best["raw_enc"].append(timed(lambda: raw_encrypt(plain, Sink())))
            best["raw_dec"].append(timed(lambda: raw_decrypt(aead, prefix, raw, Sink())))
            best["ours_dec"].append(timed(lambda: ours_decrypt(key, context, sealed, Sink())))
            best["ours_dec"].append(timed(lambda: ours_decrypt(key, context, sealed, Sink())))
            best["raw_dec"].append(timed(lambda: raw_decrypt(aead, prefix, raw, Sink())))
        mib = args.mib
        rates = {name: mib / min(times) for name, times in best.items()}
        for name, rate in rates.items():
            print(f"{name}_mib_per_s={rate:.0f}")
        encrypt_ratio = rates["ours_enc"] / rates["raw_enc"]
        decrypt_ratio = rates["ours_dec"] / rates["raw_dec"]
        print(f"push_encrypt_ratio={encrypt_ratio:.3f}")
        print(f"push_decrypt_ratio={decrypt_ratio:.3f}")
        print(f"push_size_mib={mib}")
        print(f"push_crypto_ratio={min(encrypt_ratio, decrypt_ratio):.3f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"push_peak_rss_mb={peak:.0f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
