"""A withdrawal racing a run, with the real CSS, the real control plane and the real worker.

The datacage asks about a page of people at once (a prefilter), then, right before each
person's read, asks again in a batch shared with whoever else is about to be read. A person
who withdraws after the page's answer and before their read must not be read at all: not one
request for their resources reaches their pod. Requests are counted at the pod server, by a
proxy the datacage's pod traffic goes through.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from server.attestation import SoftwareAttestationProvider
from server.consent.usage import uses_of
from server.consent.withdraw import mark_withdrawn
from server.datacage.control_plane import RunReporter
from server.datacage.job import JobSettings
from server.datacage.sandbox import SandboxLimits
from server.datacage.worker import Identity, Worker
from server.runs.model import RunStatus
from server.services import services
from tests.support.counting_proxy import counting_proxy
from tests.support.datacage_world import (
    SURVEY,
    consented_space,
    fill_pods,
    serve_control_plane,
)

PEOPLE = 7  # the space needs five: two may leave and the run still goes on


def routed_worker(base: str, cage, folder: Path, pod_server: str, proxy) -> Worker:
    """A datacage worker whose pod requests go through `proxy` (URLs unchanged)."""
    credentials = cage.credentials
    parts = urlsplit(pod_server)
    return Worker(
        base,
        Identity(credentials.issuer, credentials.id, credentials.secret),
        SoftwareAttestationProvider(folder / "attestation"),
        JobSettings(
            work_root=folder / "work",
            results_dir=folder / "results",
            sandbox=SandboxLimits(wall_seconds=30, cpu_seconds=20),
            allow_plain_http_pods=True,  # the session's CSS serves plain http
        ),
        pod_routes={f"{parts.scheme}://{parts.netloc}": proxy.address},
    )


@pytest.mark.timeout(300)  # ~60 s alone; nine pods and a whole run take longer when busy
def test_a_consent_withdrawn_between_the_batch_check_and_the_pull_is_never_read(
    make_user, css, tmp_path, monkeypatch
):
    owner, cage = make_user("owner"), make_user("cage")
    people = [make_user(f"racer{n}") for n in range(PEOPLE)]
    fill_pods(people)
    with (
        serve_control_plane(tmp_path / "control", cage.webid) as (base, app),
        counting_proxy(css.base_url) as proxy,
    ):
        space = consented_space(app, owner.webid, people, cage.webid, SURVEY, "Race")
        consents = services(app).consents
        late, early = people[3], people[5]

        def withdraw(person) -> None:
            history = consents.history(space.iri, person.webid)
            mark_withdrawn(
                consents, history.consents[-1], reason="Changed my mind.", now=datetime.now(UTC)
            )

        # The worker's first question is the page's prefilter; it answers with everyone but
        # `early` (withdrawn after the claim). `late` withdraws right after that answer, while
        # the run is between the batch check and the pull.
        asked: list[list[str]] = []
        original = RunReporter.check

        def check(self, iris: list[str]):
            answer = original(self, iris)
            asked.append(list(iris))
            if len(asked) == 1:
                assert late.webid in {c.subject for c in answer}  # the page still counts them
                withdraw(late)
            return answer

        monkeypatch.setattr(RunReporter, "check", check)
        runs = services(app).runs
        started = runs.start(space.id, owner.webid)
        # Both claims (the next run, or a named one as a fleet's task and `run_once` take it):
        # the withdrawal comes after the job listed them, before any question.
        for name in ("claim", "claim_run"):
            original_claim = getattr(runs, name)

            def claim_then_withdraw(*args, _original=original_claim, **kwargs):
                job = _original(*args, **kwargs)
                if job is not None:
                    withdraw(early)
                return job

            monkeypatch.setattr(runs, name, claim_then_withdraw)
        worker = routed_worker(base, cage, tmp_path / "cage", css.base_url, proxy)
        assert worker.run_once() is not None

        run = runs.store.load(started.id)
        assert run.status is RunStatus.SUCCEEDED, run.outcome
        assert run.individuals_included == PEOPLE
        assert run.individuals_read == PEOPLE - 2
        assert "consents-lapsed" in [n.value for n in run.notes]
        for person in (late, early):
            assert proxy.under(urlsplit(person.pod).path) == [], person.webid
            assert uses_of(services(app).registry, person.webid) == []
        for person in people:
            if person not in (late, early):  # the others were read through the proxy
                assert ("GET", urlsplit(person.pod).path + "shop/orders.csv") in proxy.seen
        # Everyone asked about right before a read was asked in shared batches, not one by one.
        assert len(asked) >= 2
        assert sum(len(q) for q in asked[1:]) == PEOPLE - 1
