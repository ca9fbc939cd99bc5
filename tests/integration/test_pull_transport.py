"""Pods are read over TLS only; plain http is a development setting that every run says it used.

The session's CSS serves plain http (Solid-OIDC allows it on localhost), so it stands in for a
pod provider without TLS: a worker on its defaults must read nothing there and say why, and a
worker with the development setting reads it and marks the run, on its page and in its record.
The TLS side, through a real attestation gateway, is tests/integration/test_mtls_pod.py and the
demo (tests/integration/test_demo.py).
"""

from __future__ import annotations

import time

import pytest

from server.protocol.outcomes import Note
from server.runs.model import RunStatus
from server.services import services
from tests.support.datacage_world import (
    SURVEY,
    consented_space,
    fill_pods,
    make_worker,
    serve_control_plane,
)

PEOPLE = 5


@pytest.fixture
def world(make_user, tmp_path):
    owner, cage = make_user("owner"), make_user("cage")
    people = [make_user(f"shopper{n}") for n in range(PEOPLE)]
    with serve_control_plane(tmp_path / "control", cage.webid) as (base, app):
        fill_pods(people)
        space = consented_space(app, owner.webid, people, cage.webid, SURVEY, "Shop survey")
        yield app, base, space, owner, cage, tmp_path


def test_a_worker_on_its_defaults_reads_no_pod_over_plain_http_and_says_why(world):
    app, base, space, owner, cage, tmp_path = world
    worker = make_worker(base, cage, tmp_path / "cage", allow_plain_http=False)
    started = services(app).runs.start(space.id, owner.webid)
    assert worker.run_once() is not None

    run = services(app).runs.store.load(started.id)
    assert run.status is RunStatus.FAILED
    assert run.individuals_read == 0
    assert Note.PODS_NOT_TLS in run.notes
    assert run.pull_transport == "tls"  # nothing was read any other way


def test_the_development_setting_reads_plain_http_and_the_run_page_says_so(world):
    app, base, space, owner, cage, tmp_path = world
    worker = make_worker(base, cage, tmp_path / "cage", allow_plain_http=True)
    started = services(app).runs.start(space.id, owner.webid)
    assert worker.run_once() is not None

    run = services(app).runs.store.load(started.id)
    assert run.status is RunStatus.SUCCEEDED, run.problems
    assert run.pull_transport == "plain-http"
    browser = app.test_client()
    with browser.session_transaction() as session:
        session.update(webid=owner.webid, signed_in_at=time.time(), csrf_token="t")
    page = browser.get(f"/spaces/{space.id}/runs/{run.id}").get_data(as_text=True)
    assert "plain http: a development setting of this datacage" in page
