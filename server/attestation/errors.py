"""Why a datacage's evidence was refused, one class per reason, each message in plain words.

Like `cryptography`'s `InvalidSignature`, a failed check raises; nothing here returns False.
Messages name digests and key *hashes* (never key material), so they are safe to log and show.
"""

from __future__ import annotations


class AttestationError(Exception):
    """Base class: the evidence does not show that the approved code runs behind this key."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class MalformedEvidence(AttestationError):
    """The evidence is not a well-formed document of a format we know (size, keys, types)."""


class WrongKeyBinding(AttestationError):
    """The evidence vouches for another key than the one the peer holds (copied evidence)."""


class UnknownProvider(AttestationError):
    """No verifier is registered for the provider the evidence names."""


class VerifierUnavailable(AttestationError):
    """The provider is known, but no verifier for its evidence is installed here."""


class UntrustedProvider(AttestationError):
    """The evidence comes from a provider or signing key this policy does not trust."""


class BadSignature(AttestationError):
    """The provider's signature or quote over the evidence does not verify."""


class MeasurementNotApproved(AttestationError):
    """The datacage runs code or a bundle that is not on the approved list."""


class StaleEvidence(AttestationError):
    """The evidence (or the certificate carrying it) is too old, or dated in the future."""


class UntrustedChain(AttestationError):
    """A certificate on the way to the vendor's root does not verify, is out of date or swapped."""


class Revoked(AttestationError):
    """A certificate in the chain is listed on its issuer's revocation list."""


class TcbNotAccepted(AttestationError):
    """The platform's firmware and microcode (its TCB) are older than the policy accepts."""


class GuestPolicyRefused(AttestationError):
    """The confidential VM was launched with settings the policy refuses (debug, SMT, migration)."""


class CollateralError(AttestationError):
    """The vendor's offline collateral (TCB info, QE identity, CRL) is missing, forged or old."""


class ReportDataMismatch(WrongKeyBinding):
    """The hardware report's REPORT_DATA does not bind the enclave key and claim (or nonce)."""
