"""Leases: which datacage of a fleet holds a run, until when, and what happens when it lapses.

A claim hands the datacage a random *lease token* and records only its SHA-256, the lease's
end and the enclave key of the evidence it claimed with. Every report on the run (consent
questions, usage, progress, finish) must present the token while the lease runs; the datacage
renews it while it works. Every datacage of a fleet signs in as the same WebID, so the token,
not the WebID, tells the holder from a worker that held the run before: a claim after a lapse
makes a new token, and a late report with the old one is refused.

A lapsed lease is decided in the same compare-and-swap write as any report, so a report and
the lapse cannot both win. What a lapse does depends on how far the run got:

- before the output gate (nothing can have left the datacage), the run is *offered again*,
  up to `max_claims` claims in all: another worker pulls again, and the usage records it
  writes have the same names as the first ones (one per person and run), so none is doubled;
- at the gate or after (a result may be on its way to consumers), or once the claims are used
  up, the run *ends*, failed, with the note `lease-lapsed`, so no result is ever made twice.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import WrongState
from ..protocol.outcomes import Note, Outcome, Stage
from .model import Run, RunStatus

#: A run whose lease lapses in one of these stages is offered again: nothing has left the cage.
OFFERED_AGAIN_IN = frozenset(
    {
        Stage.CHECKING_CONSENTS.value,
        Stage.PULLING.value,
        Stage.FETCHING_DATASETS.value,
        Stage.RUNNING.value,
    }
)

LAPSED = "This run is no longer held by this datacage (its lease lapsed or another holds it)."


@dataclass(frozen=True)
class Lease:
    """What the claiming datacage gets: the token (shown once) and the lease's end."""

    token: str
    until: datetime
    seconds: float  # its length: the holder renews by it, whatever its own clock says

    def as_json(self) -> dict[str, str | float]:
        return {"token": self.token, "until": self.until.isoformat(), "seconds": self.seconds}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def grant(run: Run, now: datetime, seconds: float) -> Lease:
    """Give `run` a fresh lease (a claim): a new token, so any earlier holder's is void."""
    lease = Lease(secrets.token_urlsafe(32), now + timedelta(seconds=seconds), seconds)
    run.lease_until, run.lease_digest = lease.until, token_digest(lease.token)
    run.claims += 1
    return lease


def require_holder(run: Run, token: str | None, now: datetime) -> None:
    """Raise unless `token` is the run's current lease token and the lease still runs."""
    if run.status is not RunStatus.RUNNING or not run.lease_digest or not token:
        raise WrongState(LAPSED)
    # Constant time: a token is a secret, and its digest is stored in a shared registry.
    if not hmac.compare_digest(token_digest(token), run.lease_digest):
        raise WrongState(LAPSED)
    if run.lease_until is None or now >= run.lease_until:
        raise WrongState(LAPSED)


def renew(run: Run, token: str | None, now: datetime, seconds: float) -> datetime:
    require_holder(run, token, now)
    run.lease_until = now + timedelta(seconds=seconds)
    return run.lease_until


def lapsed(run: Run, now: datetime) -> bool:
    return (
        run.status is RunStatus.RUNNING and run.lease_until is not None and now >= run.lease_until
    )


def lapse(run: Run, now: datetime, max_claims: int) -> str | None:
    """Apply a lapsed lease to `run` (inside a store change): "offered" (queued again),
    "ended" (failed, with a plain reason), or None if its lease had not lapsed after all."""
    if not lapsed(run, now):
        return None
    run.lease_until = run.lease_digest = None
    if run.stage in OFFERED_AGAIN_IN and run.claims < max_claims:
        run.status, run.datacage, run.attestation, run.started_at = (
            RunStatus.QUEUED,
            None,
            None,
            None,
        )
        run.stage, run.progress = Stage.WAITING.value, 0.0
        return "offered"
    run.status, run.finished_at = RunStatus.FAILED, now
    run.stage = Stage.STOPPED.value
    run.outcome, run.notes = Outcome.DATACAGE_ERROR, [Note.LEASE_LAPSED]
    return "ended"
