"""Space records built in memory for the lifecycle's tests: an algorithm, a space, one ready to
submit, and every participant's approval."""

from datetime import UTC, datetime

from server.spaces import lifecycle
from server.spaces.model import (
    Algorithm,
    Approval,
    DataRequest,
    Participant,
    Role,
    Space,
    Terms,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


OWNER, CODER, CONSUMER = (f"https://{n}.example/profile#me" for n in ("owner", "coder", "user"))


DIGEST_A, DIGEST_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def algorithm(digest: str = DIGEST_A, shape: str = "sha256:" + "c" * 64) -> Algorithm:
    return Algorithm(
        digest, "demo", "1.0.0", "A demo.", "demo:run", ("EVENT",), (), shape, CODER, NOW
    )


def space(**changes) -> Space:
    s = Space(
        id="abc",
        iri="https://dc.example/spaces/abc",
        name="Demo",
        description="",
        owner=OWNER,
        created_at=NOW,
        terms=Terms(
            ("https://w3id.org/dpv#Marketing",),
            "https://w3id.org/dpv#Consent",
            "P90D",
            (DataRequest("Your customer list", path="customers.ttl"),),
        ),
        participants=[
            Participant(OWNER, frozenset({Role.DATA_PROVIDER}), NOW),
            Participant(CODER, frozenset({Role.CODE_PROVIDER}), NOW),
            Participant(CONSUMER, frozenset({Role.DATA_CONSUMER}), NOW),
        ],
    )
    for name, value in changes.items():
        setattr(s, name, value)
    return s


def ready_space() -> Space:
    s = space(algorithms=[algorithm()], current_algorithm=DIGEST_A)
    lifecycle.submit(s)
    return s


def approve_all(s: Space, when: datetime = NOW) -> None:
    for p in s.participants:
        s.approvals.append(Approval(f"ap-{p.webid[8:12]}", p.webid, s.terms_digest, DIGEST_A, when))
    lifecycle.settle(s, when)
