"""Hardware attestation verifiers that are NOT installed here: they refuse, with the reason.

Each class reserves its provider name, so evidence claiming to come from AMD SEV-SNP, Intel TDX
or Intel SGX (DCAP) gets a precise refusal instead of "unknown provider". A real verifier plugs
in by registering a class with the same `provider` name (`providers.register`), replacing these:
it must check the quote's signature chain up to the vendor's root, compare the launch
measurement with the policy, and check that the quote's REPORT_DATA binds the evidence claim
(see docs/attestation.md, "Plugging in a hardware verifier").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import VerifierUnavailable
from .evidence import Evidence
from .providers import register

if TYPE_CHECKING:
    from .verify import TrustPolicy


class _NotInstalled:
    provider = ""
    label = ""
    hardware_backed = True
    needs = ""

    def verify(self, evidence: Evidence, policy: TrustPolicy) -> None:
        raise VerifierUnavailable(
            f"No verifier for {self.label} evidence is installed on this machine, so it "
            f"cannot be checked and is refused. Installing one means {self.needs}, registered "
            "with server.attestation.providers.register."
        )


@register
class SevSnpVerifier(_NotInstalled):
    provider = "sev-snp"
    label = "AMD SEV-SNP"
    needs = "checking the attestation report against AMD's VCEK/ASK/ARK certificate chain"


@register
class TdxVerifier(_NotInstalled):
    provider = "tdx"
    label = "Intel TDX"
    needs = "checking the TD quote with Intel's DCAP quote verification and collateral"


@register
class SgxDcapVerifier(_NotInstalled):
    provider = "sgx-dcap"
    label = "Intel SGX (DCAP)"
    needs = "checking the SGX quote with Intel's DCAP quote verification and collateral"
