"""The job protocol between the control plane and the datacage (JSON over HTTP, DPoP-authenticated).

Only the deployment's datacage (`DATACAGE_WEBID`, proven by its own DPoP-bound token) gets past
`Runs`: it asks which algorithm the next run needs, fetches that bundle, claims the run with
the attestation it made for exactly that bundle, then asks before each person's pull whether
their consent still counts, reports refusals, reads and progress, and finishes the run.
The claim streams the job (`application/x-ndjson`), so no answer grows with the crowd but one
the datacage reads a line at a time: `{"job": {...}}`, then `{"consents": [IRI, ...]}` lines of
at most `CLAIM_PAGE` IRIs, then `{"end": {"consents": N}}` (a stream cut short has no end line).
Before each page of people it asks which of them still count, with what each may read
(`consents/check`), and it asks again, in batches of whoever is about to be read, right before
each person's read (`server.datacage.recheck`), so a withdrawal is never read past.
Everything it sends is checked as hostile: exact fields, exact JSON types, sane sizes. Progress
and the end of a run are codes of fixed vocabularies (`server.protocol.outcomes`): a field of free
text (a log, a reason) is an unknown field and refused, so not even a modified datacage can
pass an algorithm's words on.

    GET  /api/datacage/next                     -> {"digest": "sha256:..."} or 204
    GET  /api/datacage/bundles/<digest>         -> the bundle (zip)
    POST /api/datacage/claim                    {"evidence": "<evidence JSON>"} -> 204, or the
                                                 job as JSON lines (above)
    POST /api/datacage/runs/<id>/consents/check {"consents": [IRI, ... up to 500]}
                                                 -> {"in_force": [{"iri", "subject", "resources",
                                                 "usage_records", "purposes"}]}
    GET  /api/datacage/waiting                  -> {"runs": [{"run", "digest", "offer"}]}
    POST /api/datacage/runs/<id>/claim          {"evidence"} -> the job as JSON lines, or 204
                                                 (not waiting)
    POST /api/datacage/runs/<id>/lease          -> {"until"} (renewed), or 409
    GET  /api/datacage/runs/<id>/consent?iri=   -> {"in_force": true|false} (one at a time)
    POST /api/datacage/runs/<id>/refusals       {"consent", "url"}
    POST /api/datacage/runs/<id>/usage          {"consent", "reads": [{"url", "version"}]}
    POST /api/datacage/runs/<id>/progress       {"stage": code, "step": 0..4}
    POST /api/datacage/runs/<id>/pull-progress  {"pod_servers": [{"read", "failed"}]}, one
                                                 per row of the job's "pod_servers" plan
    POST /api/datacage/runs/<id>/finish         {"outcome": code, "refusal": {"rule",
                                                 "shape_path"} | null, "notes": [code],
                                                 "individuals_read", "result_digest",
                                                 "result_size"}
    POST /api/datacage/runs/<id>/deliveries     {"consumer", "state", "attempts", "location",
                                                 "detail", "notified"} (after finish too)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from ..attestation import AttestationError, parse_evidence
from ..consent.usage import record_use
from ..errors import ValidationFailed
from ..protocol.consents import Read
from ..runs.actions import FinishReport, Runs
from ..runs.model import Attestation
from ..services import services
from ..spaces.permissions import signed_in
from .push_api import push_service

bp = Blueprint("datacage_api", __name__, url_prefix="/api/datacage")

_FINISH = {
    "outcome": str,
    "refusal": (dict, type(None)),
    "notes": list,
    "individuals_read": int,
    "result_digest": (str, type(None)),
    "result_size": (int, type(None)),
    "pull_transport": str,
}
_REFUSAL = {"rule": str, "shape_path": (str, type(None))}
_MAX_CODE = 200  # the longest code or shape path IRI accepted
_MAX_READS = 10_000
_MAX_IRI = 2000  # the registry's longest graph name
#: Consent IRIs per line of the streamed claim.
CLAIM_PAGE = 1000
_MAX_POD_SERVERS = 100  # a plan has at most MOST_SERVERS + 1 rows


def _runs() -> Runs:
    return services().runs


@bp.before_request
def _require_sign_in() -> None:
    signed_in(g.actor)


@bp.get("/next")
def next_run() -> Response:
    digest = _runs().next_digest(g.actor)
    return jsonify({"digest": digest}) if digest else Response(status=204)


@bp.get("/bundles/<digest>")
def bundle(digest: str) -> Response:
    data = _runs().bundle(g.actor, digest)
    return Response(data, mimetype="application/zip")


@bp.post("/claim")
def claim() -> Response:
    attestation = _attestation()
    return _job_response(_runs().claim(g.actor, attestation))


@bp.get("/waiting")
def waiting() -> Response:
    """The runs waiting for a datacage (lapsed leases applied first): identifiers only, what
    a fleet's task carries. `offer` counts the claims so far, so a run offered again after a
    lapse is a new task, and the same offer sent twice is one."""
    runs = _runs().waiting(g.actor)
    return jsonify(
        {"runs": [{"run": r.id, "digest": r.algorithm_digest, "offer": r.claims} for r in runs]}
    )


@bp.post("/runs/<run_id>/claim")
def claim_run(run_id: str) -> Response:
    return _job_response(_runs().claim_run(g.actor, run_id, _attestation()))


@bp.post("/runs/<run_id>/lease")
def renew_lease(run_id: str) -> Response:
    until = _runs().renew(run_id, g.actor, _lease())
    return jsonify({"until": until.isoformat()})


def _attestation() -> Attestation:
    body = _body({"evidence": str})
    try:
        evidence = parse_evidence(body["evidence"].encode())
    except AttestationError as exc:
        raise ValidationFailed({"evidence": [str(exc)]}) from None
    # Recorded as presented; the pods verify it against their own trust policy before any
    # data flows (docs/attestation.md), and anyone can check it later with `datacage verify`.
    return Attestation(
        provider=evidence.provider,
        code_measurement=evidence.measurement.datacage_code,
        bundle_digest=evidence.measurement.bundle_digest,
        key_sha256=evidence.report_data,
        evidence=evidence.to_bytes().decode(),
    )


def _job_response(job) -> Response:
    if job is None:
        return Response(status=204)
    # Organisations' pushed datasets travel with the job, read grants included (docs/push.md).
    datasets = [d.for_job() for d in push_service().datasets(job.space.iri)]
    header = {**job.as_json(), "datasets": datasets}
    iris = job.consent_iris

    def lines() -> Iterator[str]:
        # Everything is in hand already: the stream needs no request context, and a
        # datacage that stops reading half-way leaves nothing half-written here.
        yield json.dumps({"job": header}) + "\n"
        for start in range(0, len(iris), CLAIM_PAGE):
            yield json.dumps({"consents": iris[start : start + CLAIM_PAGE]}) + "\n"
        yield json.dumps({"end": {"consents": len(iris)}}) + "\n"

    return Response(lines(), mimetype="application/x-ndjson")


@bp.post("/runs/<run_id>/consents/check")
def check_consents(run_id: str) -> Response:
    """A batch of consents, asked about at once: those in force, with what each may read."""
    body = _body({"consents": list})
    iris = body["consents"]
    if not all(isinstance(i, str) and 0 < len(i) <= _MAX_IRI for i in iris):
        raise ValidationFailed({"consents": ["A list of consent IRIs (strings)."]})
    found = _runs().check_consents(run_id, g.actor, iris, _lease())
    return jsonify({"in_force": [c.as_json() for c in found]})


def _lease() -> str | None:
    return request.headers.get("Datacage-Lease")


@bp.get("/runs/<run_id>/consent")
def consent_in_force(run_id: str) -> Response:
    """One consent at a time (the batch route above is the one the datacage uses)."""
    run, _ = _runs().authority(run_id, g.actor, _lease())
    consent = _runs().consent(run, request.args.get("iri", ""))  # 404: not of this space
    in_force = _runs().check_consents(run_id, g.actor, [consent.iri], _lease())
    return jsonify({"in_force": bool(in_force)})


@bp.post("/runs/<run_id>/refusals")
def refusal(run_id: str) -> Response:
    body = _body({"consent": str, "url": str})
    run, authority = _runs().authority(run_id, g.actor, _lease())
    consent = _runs().consent(run, body["consent"])
    if not any(body["url"].startswith(r.url) for r in consent.resources):
        raise ValidationFailed({"url": ["The refused URL is not one the consent lists."]})
    authority.record_refusal(consent, body["url"])
    _runs().audit_refusal(run, consent)
    return Response(status=204)


@bp.post("/runs/<run_id>/usage")
def usage(run_id: str) -> Response:
    body = _body({"consent": str, "reads": list})
    run, authority = _runs().authority(run_id, g.actor, _lease())
    consent = _runs().consent(run, body["consent"])
    if len(body["reads"]) > _MAX_READS:
        raise ValidationFailed({"reads": [f"At most {_MAX_READS} reads per record."]})
    reads = []
    for index, item in enumerate(body["reads"]):
        read = _fields(item, {"url": str, "version": (str, type(None))}, f"reads-{index}")
        if not any(read["url"].startswith(r.url) for r in consent.resources):
            raise ValidationFailed({f"reads-{index}": ["This URL is not one the consent lists."]})
        reads.append(Read.from_json(read))
    record_use(
        services().registry, run.iri, consent, reads, authority.clock(), run.algorithm_digest
    )
    _runs().audit_use(run, consent, len(reads))
    return Response(status=204)


@bp.post("/runs/<run_id>/progress")
def progress(run_id: str) -> Response:
    body = _body({"stage": str, "step": int})
    _runs().report(run_id, g.actor, body["stage"], body["step"], _lease())
    return Response(status=204)


@bp.post("/runs/<run_id>/pull-progress")
def pull_progress(run_id: str) -> Response:
    """Counts per pod server of the job's plan (`server.runs.pull_progress`), nothing else."""
    body = _body({"pod_servers": list})
    if len(body["pod_servers"]) > _MAX_POD_SERVERS:
        raise ValidationFailed({"pod_servers": ["More rows than any plan has."]})
    counts = []
    for index, row in enumerate(body["pod_servers"]):
        fields = _fields(row, {"read": int, "failed": int}, f"pod_servers-{index}-")
        counts.append((fields["read"], fields["failed"]))
    _runs().report_pull(run_id, g.actor, counts, _lease())
    return Response(status=204)


@bp.post("/runs/<run_id>/finish")
def finish(run_id: str) -> Response:
    body = _body(_FINISH)
    if body["refusal"] is not None:
        body["refusal"] = _fields(body["refusal"], _REFUSAL, "refusal-")
    codes = [body["outcome"], *body["notes"]]
    if body["refusal"] is not None:
        codes += [body["refusal"]["rule"], body["refusal"]["shape_path"] or ""]
    if not all(isinstance(c, str) and len(c) <= _MAX_CODE for c in codes) or len(codes) > 20:
        raise ValidationFailed({"": ["Codes are short strings of a fixed vocabulary."]})
    _runs().finish(run_id, g.actor, FinishReport.from_json(body), _lease())
    return Response(status=204)


_DELIVERY = {
    "consumer": str,
    "state": str,
    "attempts": int,
    "location": (str, type(None)),
    "detail": str,
    "notified": bool,
}


@bp.post("/runs/<run_id>/deliveries")
def delivery(run_id: str) -> Response:
    """How one consumer's delivery stands; accepted after the run finished, too."""
    _runs().report_delivery(run_id, g.actor, _body(_DELIVERY))
    return Response(status=204)


def _body(allowed: dict[str, Any]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"": ["Send a JSON object with Content-Type: application/json."]})
    return _fields(body, allowed, "")


def _fields(value: object, allowed: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed({where: ["Expected a JSON object."]})
    problems: dict[str, list[str]] = {}
    for name in value.keys() - allowed.keys():
        problems[f"{where}{name}"] = ["Unknown field."]
    for name, kind in allowed.items():
        item = value.get(name)
        # bool is an int in Python, but a JSON true is not a count.
        if (
            name not in value
            or not isinstance(item, kind)
            or (
                isinstance(item, bool)
                and bool not in (kind if isinstance(kind, tuple) else (kind,))
            )
        ):
            problems[f"{where}{name}"] = ["Missing, or of the wrong JSON type."]
    if problems:
        raise ValidationFailed(problems)
    return dict(value)
