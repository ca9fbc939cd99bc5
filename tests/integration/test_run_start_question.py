"""Starting a run asks the registry one question (is a run of the space waiting or under way?)
instead of loading every run of the space, on every back end: the question must see a run of
either unfinished status, ignore finished runs and other spaces' runs, and not be fooled by the
space's consent records, which name the space too."""

# ruff: noqa: F811 - the shared `registry` fixture is a parameter of every test

from __future__ import annotations

from datetime import timedelta

from server.consent.store import ConsentStore
from server.runs.model import Run, RunStatus
from server.runs.store import RunStore
from tests.support.registries import oxigraph, registry  # noqa: F401 - fixtures by name
from tests.support.tally_world import NOW, PUBLIC, SPACE, give

OTHER_SPACE = PUBLIC + "spaces/other"


def new_run(store: RunStore, number: int, space: str, status: RunStatus) -> Run:
    run_id = f"run{number}"
    run = Run(
        id=run_id,
        iri=store.iri_of(run_id),
        space_id=space.rsplit("/", 1)[-1],
        space_iri=space,
        algorithm_digest="sha256:" + "1" * 64,
        terms_digest="sha256:" + "2" * 64,
        requested_by="https://owner.example/profile/card#me",
        requested_at=NOW,
        status=status,
    )
    return store.create(run)


def test_only_a_waiting_or_running_run_of_the_space_blocks_the_next(registry):
    runs = RunStore(lambda: registry, PUBLIC)
    consents = ConsentStore(lambda: registry, PUBLIC)
    for n in range(1, 4):  # consent records naming the space are no runs
        give(consents, n, NOW - timedelta(days=1), NOW + timedelta(days=30))
    assert not runs.any_unfinished(SPACE)
    new_run(runs, 1, SPACE, RunStatus.SUCCEEDED)
    new_run(runs, 2, SPACE, RunStatus.FAILED)
    new_run(runs, 3, OTHER_SPACE, RunStatus.RUNNING)  # another space's
    assert not runs.any_unfinished(SPACE)
    assert runs.any_unfinished(OTHER_SPACE)
    queued = new_run(runs, 4, SPACE, RunStatus.QUEUED)
    assert runs.any_unfinished(SPACE)

    def running(run: Run) -> None:
        run.status = RunStatus.RUNNING

    runs.change(queued.id, running)
    assert runs.any_unfinished(SPACE)

    def finished(run: Run) -> None:
        run.status = RunStatus.SUCCEEDED

    runs.change(queued.id, finished)
    assert not runs.any_unfinished(SPACE)
