"""What verifying hardware evidence costs, against baselines measured in the same run.

On the real vectors (tests/fixtures/attestation/), with the vendor roots and the collateral
loaded once beforehand (cached, as a pod provider's admission process holds them):

* `snp_verify_ms`: `snp.verify_report` on the Milan report: ARK -> ASK -> VCEK (RSA-PSS
  SHA-384, twice 4096-bit), the report's ECDSA P-384 signature, the VCEK's TCB extensions,
  the guest policy and the measurement;
* `tdx_verify_ms`: `tdx.verify_quote` on the Sapphire Rapids quote: the quote's and the QE
  report's ECDSA P-256 signatures, the PCK chain to Intel's root, the PCK CRL, the TCB info
  and QE identity signatures and the TCB level. Intel's real TCB info rates this old platform
  "no level met", so the accepting run uses TCB info signed by the tests' TCB-signing chain
  (same size, same checks; tests/support/tee_chains.py);
* baselines: `software_verify_ms` (`verify_evidence` on the software stand-in's Ed25519
  evidence, what admission runs today) and one bare ECDSA verify per platform
  (`snp_bare_ecdsa_ms`: P-384 over the report; `tdx_bare_ecdsa_ms`: P-256 over the quote).

Each figure is the median of `--rounds` timed calls, rounds interleaved so drift on a shared
machine hits all alike. The last lines are `snp_verify_ms=` and `tdx_verify_ms=`.

    python bench/attestation.py [--rounds N]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the test TCB-signing chain

from server.attestation import (  # noqa: E402
    EnclaveKey,
    Measurement,
    SoftwareAttestationProvider,
    TrustPolicy,
    verify_evidence,
)
from server.attestation.certs import load_certificate  # noqa: E402
from server.attestation.policy import SnpPolicy, TdxCollateral, TdxPolicy  # noqa: E402
from server.attestation.snp import parse_report, verify_report  # noqa: E402
from server.attestation.snp.verify import shipped_roots  # noqa: E402
from server.attestation.tdx import parse_quote, verify_quote  # noqa: E402
from server.attestation.tdx.verify import intel_root  # noqa: E402
from tests.support.tee_chains import (  # noqa: E402
    qe_identity,
    sign_collateral,
    tcb_info,
    tdx_chain,
)

VECTORS = ROOT / "tests" / "fixtures" / "attestation"


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def snp_case() -> tuple[Callable[[], object], Callable[[], object]]:
    report = bytes.fromhex((VECTORS / "sev-snp-milan" / "report.hex").read_text())
    vcek = (VECTORS / "sev-snp-milan" / "vcek.der").read_bytes()
    parsed = parse_report(report)
    policy = SnpPolicy(measurements=frozenset({parsed.measurement}))
    now = datetime(2025, 6, 1, tzinfo=UTC)
    shipped_roots()  # loaded once, as a running verifier holds them
    key = load_certificate(vcek, "VCEK").public_key()
    signature = encode_dss_signature(parsed.signature_r, parsed.signature_s)

    def ours() -> object:
        return verify_report(report, vcek, policy=policy, report_data=parsed.report_data, now=now)

    def bare() -> object:
        return key.verify(signature, report[:0x2A0], ec.ECDSA(hashes.SHA384()))  # type: ignore[union-attr]

    return ours, bare


def tdx_case() -> tuple[Callable[[], object], Callable[[], object]]:
    folder = VECTORS / "tdx-sapphire-rapids"
    quote = (folder / "quote.dat").read_bytes()
    parsed = parse_quote(quote)
    now = datetime(2023, 7, 1, 12, tzinfo=UTC)
    signer = tdx_chain()
    level = ([3, 3, 2, 2, 2, 1, 0, 2] + [0] * 8, 11, [3, 0, 4] + [0] * 13, "UpToDate")
    collateral = TdxCollateral(
        tcb_info=sign_collateral(signer, "tcbInfo", tcb_info([level], now=now)),
        qe_identity=sign_collateral(signer, "enclaveIdentity", qe_identity(now=now)),
        tcb_signing_chain=signer.tcb_signer_pem,
        pck_crl=(folder / "pckcrl-sample").read_bytes(),
    )
    policy = TdxPolicy(mrtds=frozenset({parsed.body.mrtd}), collateral=collateral)
    root = intel_root()
    point = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b"\x04" + parsed.attestation_key
    )
    signature = encode_dss_signature(
        int.from_bytes(parsed.signature[:32], "big"), int.from_bytes(parsed.signature[32:], "big")
    )

    def ours() -> object:
        return verify_quote(
            quote,
            policy=policy,
            report_data=parsed.body.report_data,
            now=now,
            root=root,
            collateral_root=signer.root,
        )

    def bare() -> object:
        return point.verify(signature, parsed.signed_bytes, ec.ECDSA(hashes.SHA256()))

    return ours, bare


def software_case(folder: Path) -> Callable[[], object]:
    provider = SoftwareAttestationProvider(folder)
    key = EnclaveKey.generate()
    measurement = Measurement("sha256:" + "c" * 64, "sha256:" + "b" * 64)
    now = datetime.now(UTC)
    evidence = provider.attest(key, measurement, now).to_bytes()
    policy = TrustPolicy.approving(
        [measurement], allow_software=True, software_keys=(provider.public_key_pem(),)
    )
    digest = key.public_key_sha256()

    def verify() -> object:
        return verify_evidence(evidence, public_key_sha256=digest, policy=policy, now=now)

    return verify


def main() -> None:
    # The stand-in's warning about itself goes to stderr; keep the figures the last lines.
    logging.getLogger("server.attestation.software").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"software_verify_ms": software_case(Path(tmp) / "attestation")}
        snp, snp_bare = snp_case()
        tdx, tdx_bare = tdx_case()
        cases |= {
            "snp_bare_ecdsa_ms": snp_bare,
            "tdx_bare_ecdsa_ms": tdx_bare,
            "snp_verify_ms": snp,
            "tdx_verify_ms": tdx,
        }
        for call in cases.values():  # warm-up: imports, caches
            call()
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, call in cases.items():
                start = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - start)
    results = {name: median_ms(values) for name, values in samples.items()}
    print(f"snp_over_bare_ecdsa={results['snp_verify_ms'] / results['snp_bare_ecdsa_ms']:.1f}")
    print(f"tdx_over_bare_ecdsa={results['tdx_verify_ms'] / results['tdx_bare_ecdsa_ms']:.1f}")
    for name, value in results.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
