"""Certificates the admission check already verified: one verification per certificate, not
one per pod request.

nginx asks the admission app about every request, and a run presents the same RA-TLS
certificate for all of its pulls; verifying its evidence each time (a self-signature, the
provider's signature or a hardware quote and its chain) was most of the admission's cost. An
entry is found only by the SHA-256 of the exact certificate presented, so a different
certificate (another key, other evidence, the same subject) never finds it; it is used only
while all of these hold, and re-verified otherwise:

* the policy it was verified under is still the one in force: a changed policy file (a
  measurement withdrawn, a key no longer trusted, new collateral) empties the cache;
* the evidence is still fresh (`issued_at` + the policy's `max_age`);
* the certificate is within its validity period;
* at most `max_seconds` have passed since it was verified, which bounds how long any other
  time-dependent part of a verification (a CRL's or TCB info's `nextUpdate`) is taken on trust,
  and the clock has not gone back before that verification.

Only admissions are kept: a refused certificate is verified again every time, so a refusal
always carries its reason.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from .trust import TrustPolicy
from .verify import VerifiedEvidence

#: A run holds one certificate; a pod provider serves a few datacages at a time.
DEFAULT_ENTRIES = 1024
#: How long a verification is trusted at most, whatever the evidence's own window.
DEFAULT_MAX_SECONDS = 60

Verify = Callable[[bytes, TrustPolicy, datetime], tuple[x509.Certificate, VerifiedEvidence]]


@dataclass(frozen=True)
class _Entry:
    verified: VerifiedEvidence
    valid_from: datetime
    valid_until: datetime


class AdmittedCertificates:
    """A bounded, thread-safe cache of verified certificates; `admit` raises like `verify`."""

    def __init__(
        self,
        verify: Verify,
        *,
        entries: int = DEFAULT_ENTRIES,
        max_seconds: float = DEFAULT_MAX_SECONDS,
    ):
        if entries < 1 or max_seconds <= 0:
            raise ValueError("The cache needs room for one entry and a positive lifetime.")
        self._verify = verify
        self._size = entries
        self._longest = timedelta(seconds=max_seconds)
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._policy: TrustPolicy | None = None
        self.verifications = 0  # full verifications started, admitted or not (tests, benches)

    def admit(
        self,
        presented: bytes,
        policy: TrustPolicy,
        now: datetime,
        *,
        decode: Callable[[bytes], bytes] = bytes,
    ) -> tuple[VerifiedEvidence, bool]:
        """The verified evidence of the certificate `presented` under `policy` at `now`, from
        the cache if it may be, and whether it was verified just now (False: from the cache).

        `decode` turns what was presented into the PEM to verify (nginx's URL-escaped header,
        say): only on a miss, since decoding cost more than the rest of a cache hit. The cache
        is keyed by what was presented; decoding is a function, so equal escaped texts are
        the same certificate (another escaping of it only misses, and is verified)."""
        key = hashlib.sha256(presented).digest()
        with self._lock:
            if policy is not self._policy:  # identity: a re-read policy is a new object
                self._entries.clear()
                self._policy = policy
            entry = self._entries.get(key)
            if entry is not None and entry.valid_from <= now < entry.valid_until:
                self._entries.move_to_end(key)
                return entry.verified, False
            self._entries.pop(key, None)
            self.verifications += 1
        # Verified outside the lock: one slow hardware check must not hold up other datacages.
        certificate, verified = self._verify(decode(presented), policy, now)
        until = min(
            verified.issued_at + policy.max_age,
            certificate.not_valid_after_utc,
            now + self._longest,
        )
        entry = _Entry(verified, now, until)  # a clock set back means: verify again
        with self._lock:
            if policy is self._policy:  # the policy did not change while we verified
                self._entries[key] = entry
                self._entries.move_to_end(key)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return verified, True
