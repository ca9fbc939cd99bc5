"""The job protocol over HTTP: the streamed claim, the batch re-check route, and the datacage's
reading of the stream (a stream cut short, a wrong count, a line too long are refused whole)."""

from __future__ import annotations

import json
import re
import time

import pytest

from server import create_app
from server.attestation import EnclaveKey, Measurement, SoftwareAttestationProvider
from server.attestation.measurement import measure_datacage_code
from server.datacage import control_plane
from server.datacage.control_plane import ControlPlaneError, IncompleteJob, read_job
from server.runs.model import RunStatus
from server.services import services
from server.spaces.actions import Spaces
from server.web.datacage_api import CLAIM_PAGE
from server.web.openapi import DATACAGE_PATHS
from tests.support.consented import consented
from tests.support.runs_world import CAGE, OWNER, STRANGER, active_space

PUBLIC_URL = "https://dc.example/"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setattr(Spaces, "_check_webid_can_sign_in", lambda self, webid: None)
    return create_app(
        {
            "TESTING": True,
            "PUBLIC_URL": PUBLIC_URL,
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "DATACAGE_WEBID": CAGE,
        }
    )


def client(app, webid: str):
    made = app.test_client()
    with made.session_transaction() as session:
        session.update(webid=webid, signed_in_at=time.time(), csrf_token="t")
    return made


def queued(app, tmp_path, people: int):
    runs = services(app).runs
    space = active_space(runs)
    iris = consented(runs, space, people)
    run = runs.start(space.id, OWNER)
    key = EnclaveKey.generate()
    measurement = Measurement(measure_datacage_code(), run.algorithm_digest)
    evidence = SoftwareAttestationProvider(tmp_path / "attestation").attest(key, measurement)
    return run, iris, evidence.to_bytes().decode()


def lines(response) -> list[dict]:
    assert response.mimetype == "application/x-ndjson", response.get_data(as_text=True)
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_the_claim_streams_the_job_in_pages_the_datacage_reads_once(app, tmp_path):
    run, iris, evidence = queued(app, tmp_path, CLAIM_PAGE + 3)
    cage = client(app, CAGE)
    response = cage.post(
        "/api/datacage/claim", json={"evidence": evidence}, headers={"X-CSRF-Token": "t"}
    )
    assert response.status_code == 200
    got = lines(response)
    assert got[0]["job"]["run"]["id"] == run.id
    assert got[0]["job"]["consent_count"] == CLAIM_PAGE + 3
    assert [len(line["consents"]) for line in got[1:-1]] == [CLAIM_PAGE, 3]  # no line grows
    assert got[-1] == {"end": {"consents": CLAIM_PAGE + 3}}
    job = read_job(iter(got))
    assert job.run_id == run.id
    assert sorted(job.consent_iris) == sorted(iris)
    # Claimed once: the next claim finds nothing, the run is under way at this datacage.
    again = cage.post(
        "/api/datacage/claim", json={"evidence": evidence}, headers={"X-CSRF-Token": "t"}
    )
    assert again.status_code == 204
    assert services(app).runs.store.load(run.id).status is RunStatus.RUNNING


def test_the_batch_route_answers_the_datacage_alone_and_refuses_what_is_not_a_question(
    app, tmp_path
):
    run, iris, evidence = queued(app, tmp_path, 3)
    cage = client(app, CAGE)
    claimed = cage.post(
        "/api/datacage/claim", json={"evidence": evidence}, headers={"X-CSRF-Token": "t"}
    )
    lease = json.loads(claimed.get_data(as_text=True).splitlines()[0])["job"]["lease"]["token"]
    path = f"/api/datacage/runs/{run.id}/consents/check"
    headers = {"X-CSRF-Token": "t", "Datacage-Lease": lease}
    answer = cage.post(path, json={"consents": [iris[2], iris[0]]}, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    found = answer.get_json()["in_force"]
    assert [c["iri"] for c in found] == [iris[2], iris[0]]
    assert set(found[0]) == {"iri", "subject", "resources", "usage_records", "purposes"}
    for body in (
        {"consents": "not a list"},
        {"consents": [1, 2]},
        {"consents": []},
        {"consents": [iris[0]] * 501},
        {"consents": [iris[0]], "more": True},
        {"consents": ["x" * 3000]},
    ):
        refused = cage.post(path, json=body, headers=headers)
        assert refused.status_code == 422, (body, refused.status_code)
        assert refused.mimetype == "application/problem+json"
    stranger = client(app, STRANGER).post(path, json={"consents": iris}, headers=headers)
    assert stranger.status_code == 403
    # One at a time still works, by the same rule.
    one = cage.get(
        f"/api/datacage/runs/{run.id}/consent",
        query_string={"iri": iris[1]},
        headers={"Datacage-Lease": lease},
    )
    assert one.get_json() == {"in_force": True}


def test_the_protocol_routes_are_in_the_openapi_document(app):
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    for path in DATACAGE_PATHS:
        assert re.sub(r"\{(\w+)\}", r"<\1>", path) in rules, path


HEADER = {
    "job": {
        "run": {"id": "r", "iri": "https://cp.example/runs/r"},
        "space": {"iri": "https://cp.example/spaces/s", "name": "n", "min_individuals": 5},
        "algorithm": {"digest": "sha256:" + "a" * 64, "parameters": {}},
    }
}
A, B = "https://cp.example/consents/a/1", "https://cp.example/consents/b/1"


@pytest.mark.parametrize(
    ("stream", "why"),
    [
        ([HEADER, {"consents": [A, B]}], "ended before its last line"),
        ([HEADER, {"consents": [A, B]}, {"end": {"consents": 3}}], "count"),
        ([HEADER, {"consents": [A, A]}, {"end": {"consents": 2}}], "distinct"),
        ([HEADER, {"consents": [A, 7]}, {"end": {"consents": 2}}], "cannot read"),
        ([{"consents": [A]}], "cannot read"),
        ([HEADER, ["not an object"]], "cannot read"),
    ],
)
def test_a_job_stream_that_is_not_whole_is_refused(stream, why):
    with pytest.raises(ControlPlaneError, match=why) as refused:
        read_job(iter(stream))
    if stream[0] is HEADER:  # the run was claimed: the worker learns which, to end it
        assert isinstance(refused.value, IncompleteJob)
        assert refused.value.run_id == "r"


class Streamed:
    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks

    def iter_content(self, size: int):
        yield from self.chunks


def test_a_line_longer_than_the_limit_is_refused_before_it_is_held_whole():
    endless = Streamed([b'{"job": "' + b"x" * 1000 for _ in range(100)])
    with pytest.raises(ValueError, match="line over"):
        list(control_plane._json_lines(endless, 10_000))
    split = Streamed([b'{"a": 1}\n{"b"', b": 2}\n"])
    assert list(control_plane._json_lines(split, 10_000)) == [{"a": 1}, {"b": 2}]
