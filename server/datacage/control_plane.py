"""The datacage's side of the job protocol: a client of the control plane's `/api/datacage/`.

It speaks as the datacage's own Solid identity (a DPoP-bound token from client credentials), so
the control plane knows who asks, and it is the pull's consent authority for a run: before each
person's read it asks whether their consent still counts, and it reports a pod's refusal. What
comes back is checked like any outside input (`Job.from_json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors
from datafuse.noise import DifferentialPrivacy

from ..protocol.consents import JobConsent, Read
from ..protocol.outcomes import Stage
from .dataset_rows import JobDataset

MAX_BUNDLE_BYTES = 64 << 20
#: The longest line of a streamed claim (the job's header, or a page of consent IRIs).
MAX_CLAIM_LINE = 16 << 20
#: The most consents one job may list (~100 bytes each held while the run lasts).
MAX_JOB_CONSENTS = 5_000_000
#: The header that carries a claim's lease token (server/runs/leases.py).
LEASE_HEADER = "Datacage-Lease"


class ControlPlaneError(RuntimeError):
    """The control plane refused a request or answered with something unusable."""


class IncompleteJob(ControlPlaneError):
    """A claimed run's job could not be read whole: the run is ours, and must be ended."""

    def __init__(self, message: str, run_id: str, lease: str | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.lease = lease  # the claim's lease token, to end the run with


@dataclass(frozen=True)
class DeliveryTarget:
    """Where one consumer wants this space's results: a container in their pod."""

    consumer: str
    container: str
    inbox: str | None = None


@dataclass(frozen=True)
class Job:
    run_id: str
    run_iri: str
    space_iri: str
    space_name: str
    min_individuals: int
    digest: str
    parameters: dict[str, Any]
    # The consents in force when the run was claimed; what each lets us read is asked page by
    # page, right before the pull (`RunReporter.check`), and again right before each read.
    consent_iris: tuple[str, ...]
    # Organisations' pushed datasets (server/datacage/datasets.py); none in older jobs.
    datasets: tuple[JobDataset, ...] = ()
    # Result delivery; absent from older control planes' jobs.
    purposes: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    deliveries: tuple[DeliveryTarget, ...] = ()
    # The space's differential-privacy term, handed to the algorithm and named in provenance.
    privacy: DifferentialPrivacy | None = None
    # The pull's plan: the pod servers progress is counted by (`runs.pull_progress`).
    pod_servers: tuple[str, ...] = ()
    # The claim's lease token (server/runs/leases.py): every report on the run carries it.
    lease: str | None = None
    lease_seconds: float | None = None  # the lease's length, renewed at a third of it

    @classmethod
    def from_json(cls, body: object) -> Job:
        try:
            run, space, algorithm = body["run"], body["space"], body["algorithm"]  # type: ignore[index]
            # The IRIs come in the claim's later lines; a job written whole lists consents.
            consents = tuple(
                _str(c if isinstance(c, str) else c["iri"])
                for c in body.get("consents", ())  # type: ignore[union-attr]
            )
            min_individuals = space["min_individuals"]
            if not isinstance(min_individuals, int) or isinstance(min_individuals, bool):
                raise TypeError("min_individuals")
            parameters = algorithm["parameters"]
            if not isinstance(parameters, dict):
                raise TypeError("parameters")
            return cls(
                _str(run["id"]),
                _str(run["iri"]),
                _str(space["iri"]),
                _str(space["name"]),
                min_individuals,
                _str(algorithm["digest"]),
                parameters,
                consents,
                tuple(JobDataset.from_json(d) for d in body.get("datasets", [])),  # type: ignore[union-attr]
                tuple(_str(p) for p in space.get("purposes", [])),
                tuple(_str(c) for c in space.get("consumers", [])),
                tuple(
                    DeliveryTarget(
                        _str(d["consumer"]),
                        _str(d["container"]),
                        None if d.get("inbox") is None else _str(d["inbox"]),
                    )
                    for d in body.get("deliveries", [])  # type: ignore[union-attr]
                ),
                _privacy(space.get("differential_privacy")),
                tuple(_str(p) for p in body.get("pod_servers", [])),  # type: ignore[union-attr]
                *_lease(body.get("lease")),  # type: ignore[union-attr]
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ControlPlaneError(
                f"The control plane sent a job we cannot read ({exc})."
            ) from exc


class ControlPlane:
    def __init__(self, client: SolidClient, base_url: str):
        self.client = client
        self.base = base_url.rstrip("/") + "/api/datacage/"

    # --- Taking a job -------------------------------------------------------------------------

    def next_digest(self) -> str | None:
        body = self._call("GET", "next")
        return _str(body["digest"]) if body else None

    def bundle(self, digest: str) -> bytes:
        response = self.client.session.request("GET", self.base + "bundles/" + digest)
        self._check(response)
        return self.client.http.read(response, limit=MAX_BUNDLE_BYTES)

    def claim(self, evidence: str) -> Job | None:
        """Claim the next run: its job, read as the JSON lines the control plane streams."""
        return self._claim("claim", evidence)

    def _claim(self, path: str, evidence: str) -> Job | None:
        response = self.client.session.request(
            "POST",
            self.base + path,
            headers={"Accept": "application/x-ndjson", "Content-Type": "application/json"},
            data=json.dumps({"evidence": evidence}),
        )
        self._check(response)
        if response.status_code == 204:
            response.close()
            return None
        try:
            return read_job(_json_lines(response, MAX_CLAIM_LINE))
        finally:
            response.close()

    # --- A fleet's tasks (server/fleet): one run each, under a lease -------------------------

    def waiting(self) -> list[WaitingRun]:
        """The runs waiting for a datacage (the control plane applies lapsed leases first)."""
        body = self._call("GET", "waiting")
        try:
            return [
                WaitingRun(_str(r["run"]), _str(r["digest"]), _int(r["offer"]))
                for r in body["runs"]
            ]
        except (KeyError, TypeError) as exc:
            raise ControlPlaneError("The control plane sent a list we cannot read.") from exc

    def claim_run(self, run_id: str, evidence: str) -> Job | None:
        """Claim this run; None when it no longer waits (taken, ended, a duplicate task)."""
        return self._claim(f"runs/{_segment(run_id)}/claim", evidence)

    def tick(self, chore: str) -> dict[str, Any]:
        """Ask the control plane to do a scheduled chore ("recurring" or "expiry", see
        server/web/schedule_api.py): what it did, in counts and identifiers."""
        if chore not in ("recurring", "expiry"):
            raise ValueError(f"no such chore: {chore}")
        body = self._call("POST", f"schedule/{chore}")
        if not isinstance(body, dict):
            raise ControlPlaneError("The control plane sent a tick report we cannot read.")
        return body

    # --- Push: the evidence data providers encrypt to (docs/push.md) ------------------------

    def wanted_digests(self) -> list[str]:
        body = self._call("GET", "push/wanted")
        return [_str(d) for d in body["digests"]]

    def publish_evidence(
        self, evidence: str, public_key_pem: str, fleet_key: dict[str, str] | None = None
    ) -> None:
        """`fleet_key`: the key service's signed statement of the fleet key providers seal to."""
        body: dict[str, object] = {"evidence": evidence, "public_key": public_key_pem}
        if fleet_key is not None:
            body["fleet_key"] = fleet_key
        self._call("POST", "push/evidence", body)

    # --- During the run: the consent authority of `pull` --------------------------------------

    def for_run(self, run_id: str, lease: str | None = None) -> RunReporter:
        return RunReporter(self, run_id, lease)

    # --- Plumbing -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        lease: str | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if lease:
            headers[LEASE_HEADER] = lease
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        response = self.client.session.request(method, self.base + path, headers=headers, data=data)
        self._check(response)
        if response.status_code == 204:
            response.close()
            return None
        raw = self.client.http.read(response, limit=MAX_BUNDLE_BYTES)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ControlPlaneError("The control plane answered with something not JSON.") from exc

    def _check(self, response) -> None:  # requests.Response
        if response.status_code < 400:
            return
        try:
            detail = json.loads(self.client.http.read(response, limit=64 << 10)).get("detail")
        except (ValueError, AttributeError, solid_errors.SolidError):
            detail = None
        raise ControlPlaneError(
            f"The control plane refused {response.request.method} {response.url} "
            f"({response.status_code}): {detail or 'no reason given'}"
        )


class RunReporter:
    """One run's conversation with the control plane, under the claim's lease."""

    def __init__(self, plane: ControlPlane, run_id: str, lease: str | None = None):
        self.plane = plane
        self.path = f"runs/{_segment(run_id)}/"
        self.lease = lease

    def check(self, iris: list[str]) -> list[JobConsent]:
        """Which of `iris` still count right now, with what each lets us read (one call)."""
        body = self.plane._call(
            "POST", self.path + "consents/check", {"consents": iris}, lease=self.lease
        )
        try:
            return [JobConsent.from_json(c) for c in body["in_force"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ControlPlaneError(f"The control plane's answer is unreadable ({exc}).") from exc

    def still_in_force(self, consent: JobConsent) -> bool:
        query = "consent?" + urlencode({"iri": consent.iri})
        body = self.plane._call("GET", self.path + query, lease=self.lease)
        return body is not None and body.get("in_force") is True

    def record_refusal(self, consent: JobConsent, url: str) -> None:
        body = {"consent": consent.iri, "url": url}
        self.plane._call("POST", self.path + "refusals", body, lease=self.lease)

    def record_use(self, consent: JobConsent, reads: list[Read]) -> None:
        self.plane._call(
            "POST",
            self.path + "usage",
            {
                "consent": consent.iri,
                "reads": [r.as_json() for r in reads],
            },
            lease=self.lease,
        )

    def progress(self, stage: Stage, step: int = 0) -> None:
        """A worker stage and, while running, the algorithm's step (`server.datacage.progress`)."""
        body = {"stage": stage.value, "step": step}
        self.plane._call("POST", self.path + "progress", body, lease=self.lease)

    def pull_progress(self, counts: list[tuple[int, int]]) -> None:
        """`(read, failed)` per row of the job's pod-server plan, in its order."""
        rows = [{"read": read, "failed": failed} for read, failed in counts]
        self.plane._call(
            "POST", self.path + "pull-progress", {"pod_servers": rows}, lease=self.lease
        )

    def finish(self, outcome: dict[str, Any]) -> None:
        """The codes of `JobReport.as_json`; the control plane refuses any other field."""
        self.plane._call("POST", self.path + "finish", outcome, lease=self.lease)

    def renew(self) -> None:
        """Extend the lease; ControlPlaneError once it lapsed or another worker holds the run."""
        self.plane._call("POST", self.path + "lease", {}, lease=self.lease)

    def delivery(self, state: dict[str, Any]) -> None:
        """One consumer's delivery state; allowed after `finish` too."""
        self.plane._call("POST", self.path + "deliveries", state)


def read_job(lines: Iterator[Any]) -> Job:
    """The job from the claim's JSON lines: a header, pages of consent IRIs, an end line that
    counts them. Anything else (a missing end, a wrong count, too many) is refused whole."""
    header: Job | None = None
    iris: list[str] = []
    try:
        for line in lines:
            if header is None:
                header = Job.from_json(line["job"])
            elif "consents" in line:
                iris.extend(_str(i) for i in line["consents"])
                if len(iris) > MAX_JOB_CONSENTS:
                    raise ValueError(f"more than {MAX_JOB_CONSENTS} consents")
            elif line["end"]["consents"] == len(iris) == len(set(iris)):
                return replace(header, consent_iris=tuple(iris))
            else:
                raise ValueError("the count at the end is not the count of distinct consents")
    except (KeyError, TypeError, ValueError, ControlPlaneError) as exc:
        problem = f"The control plane sent a job we cannot read ({exc})."
        if header is not None:
            raise IncompleteJob(problem, header.run_id, header.lease) from exc
        raise ControlPlaneError(problem) from exc
    if header is not None:
        raise IncompleteJob(
            "The control plane's job ended before its last line.", header.run_id, header.lease
        )
    raise ControlPlaneError("The control plane's job ended before its last line.")


def _json_lines(response, limit: int) -> Iterator[Any]:
    """The JSON values of a streamed body, one a line, read a chunk at a time: a line longer
    than `limit` bytes is refused before it is held whole."""
    pending = b""
    try:
        for chunk in response.iter_content(64 << 10):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > limit or any(len(line) > limit for line in lines):
                raise ValueError(f"a line over {limit:,} bytes")
            for line in lines:
                if line.strip():
                    yield json.loads(line)
    except requests.exceptions.RequestException as exc:
        raise ControlPlaneError(f"Reading the job was interrupted: {exc}") from exc
    if pending.strip():
        yield json.loads(pending)


@dataclass(frozen=True)
class WaitingRun:
    """A run waiting for a datacage, as a fleet's task names it: identifiers only."""

    run_id: str
    digest: str
    offer: int  # claims so far: a run offered again after a lapse is a new offer


def _lease(value: object) -> tuple[str | None, float | None]:
    if value is None:
        return None, None
    seconds = value["seconds"]  # type: ignore[index]
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError("a lease lasts a positive number of seconds")
    return _str(value["token"]), float(seconds)  # type: ignore[index]


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer")
    return value


def _segment(run_id: str) -> str:
    """A run id as one path segment: what the control plane makes is letters and digits."""
    if not run_id.isalnum():
        raise ControlPlaneError("A run id is letters and digits.")
    return run_id


def _privacy(value: object) -> DifferentialPrivacy | None:
    # PrivacyTermError is a ValueError: a term we cannot honour makes the job unreadable.
    return None if value is None else DifferentialPrivacy.from_json(value)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value
