"""The datacage worker: its own process, its own identity, its own key; it takes jobs and runs them.

At start it makes the enclave key (in memory, never exported) and signs in as the datacage's
WebID with client credentials. For each job it fetches the bundle the next run needs, checks it
(`read_bundle` recomputes the digest from the files), has the attestation provider vouch for
*this* code and *this* bundle bound to *this* key, and claims the run with that evidence. Pulls
then go out with a client certificate carrying the evidence (RA-TLS), so a pod behind an
attestation-checking proxy refuses a datacage that is not running the approved measurement
before any request reaches it.

A worker survives any one run: whatever goes wrong inside a run ends that run with a plain
reason and the worker takes the next. At start (and between runs) it sweeps its work root:
the folders a killed or crashed worker left there hold decrypted inputs; they are deleted,
and a run the control plane still shows under way is ended with a plain reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from connectors.egress import EgressPolicy, default_policy, hosts_addresses
from connectors.solid import SolidClient, SolidSession
from connectors.solid.connect_to import mount_routes
from connectors.solid.errors import SolidError
from connectors.solid.http import Http, TlsSettings

from ..algorithms import BundleError, read_bundle
from ..attestation import (
    AttestationProvider,
    EnclaveKey,
    Measurement,
    client_certificate,
    measure_datacage_code,
)
from ..protocol.outcomes import Note, Outcome
from .control_plane import ControlPlane, ControlPlaneError, IncompleteJob
from .datasets import DatacageKeys
from .delivery import Deliveries, DeliveryQueue, Outbox
from .fleet_keys import FleetKeyring, FleetKeyUnavailable, KeyServiceClient
from .job import JobReport, JobSettings, execute
from .lease_keeper import LeaseKeeper
from .sandbox.launcher import start_launcher
from .sandbox.tree import empty as empty_folder
from .schedule import Timer, tick

log = logging.getLogger(__name__)

#: A job's work folder is `<run id>-<8 hex>` (job.execute); anything else is removed unreported.
_RUN_FOLDER = re.compile(r"(?P<run>[A-Za-z0-9._-]+)-[0-9a-f]{8}")


def sweep_work_root(work_root: Path) -> list[tuple[str, Path]]:
    """Empty every leftover folder in ``work_root``: (run id, emptied folder) of each that
    looks like a run's, for the caller to report and then remove; the rest is removed.

    Deep trees and odd files are no obstacle (iterative, links not followed).
    """
    if not work_root.is_dir():
        return []
    found = []
    for entry in sorted(os.scandir(work_root), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            empty_folder(path)
            match = _RUN_FOLDER.fullmatch(entry.name)
            if match:
                found.append((match["run"], path))
                continue
            path.rmdir()
        else:
            path.unlink()
    return found


#: A datacage pulls datasets of gigabytes, in the background: a long deadline and a cap as
#: large as the largest dataset it accepts (the allow-list is the control plane's).
WORKER_EGRESS_LIMITS = {"deadline_seconds": 3600.0, "max_response_bytes": 64 << 30}
#: Evidence is published again after this long, well inside a provider's default max age (1 h).
PUBLISH_EVERY_S = 20 * 60.0
#: Checked bundles kept in memory, for the tasks of runs of the same algorithm.
_BUNDLES_KEPT = 8
#: `<work root>/<run id>.lease` holds the lease token of a run this worker is carrying out.
_LEASE_SUFFIX = ".lease"


def _held_leases(work_root: Path) -> dict[str, str]:
    """The lease tokens a killed worker left beside its work folders: run id -> token."""
    held = {}
    if work_root.is_dir():
        for marker in work_root.glob(f"*{_LEASE_SUFFIX}"):
            if marker.is_file() and not marker.is_symlink():
                held[marker.name.removesuffix(_LEASE_SUFFIX)] = marker.read_text().strip()
    return held


@dataclass(frozen=True)
class Identity:
    issuer: str
    client_id: str
    client_secret: str


class Worker:
    def __init__(
        self,
        control_plane_url: str,
        identity: Identity,
        provider: AttestationProvider,
        settings: JobSettings,
        *,
        pod_ca: str | None = None,  # a CA bundle for pods' TLS certificates, if not the system's
        pod_routes: Mapping[str, tuple[str, int]] | None = None,
        egress: EgressPolicy | None = None,  # default: this process's DATACAGE_EGRESS_* settings
        delivery_key_file: Path | None = None,  # a fleet's shared hold key (delivery.queue)
        key_service: KeyServiceClient | None = None,  # a fleet's key service (fleet_keys)
    ):
        """`pod_routes` sends the datacage's reads of a pod origin to another address (its
        provider's attestation gateway) where DNS does not: see `connectors.solid.connect_to`."""
        self.key = EnclaveKey.generate()
        self.provider = provider
        if pod_routes and not settings.pod_routes:  # the pull bounds each gateway, not origin
            settings = dataclasses.replace(settings, pod_routes=dict(pod_routes))
        self.settings = settings
        self.identity = identity
        self.pod_ca = pod_ca
        self.pod_routes = dict(pod_routes or {})
        # Pods, inboxes and grant URLs come from participants: every request goes through the
        # egress policy. The control plane and our own issuer were named by the operator, so
        # their addresses are allowed even on a private network.
        self.egress = (egress or default_policy(**WORKER_EGRESS_LIMITS)).allowing(
            hosts_addresses([control_plane_url, identity.issuer])
        )
        self.plane = ControlPlane(self._client(None), control_plane_url)
        self.keys = DatacageKeys(self.key)
        if key_service is not None:  # pushed datasets are sealed to the fleet's keys
            self.keys.fleet = FleetKeyring(key_service, self.key, self._evidence_for)
        self._published: dict[str, float] = {}  # bundle digest -> when (monotonic)
        self._bundles: dict[str, object] = {}  # bundle digest -> checked bundle
        # Results waiting for consumers' pods survive a restart: the queue is files.
        self.deliveries = Deliveries(
            DeliveryQueue(settings.delivery_dir, delivery_key_file),
            self.plane.client,
            lambda run_id, state: self.plane.for_run(run_id).delivery(state),
            settings.delivery,
        )
        log.info(
            "datacage started",
            extra={"provider": provider.name, "key_sha256": self.key.public_key_sha256()},
        )

    def publish_evidence(self) -> int:
        """Publish evidence for each open space's algorithm, when new or getting old.

        Data providers encrypt their datasets to the key this evidence vouches for
        (docs/push.md). It attests the *digest* the control plane names; the bundle's files
        are checked against that digest when a run of it is taken, before any data is opened.
        Returns how many were published.
        """
        now, count = time.monotonic(), 0
        for digest in self.plane.wanted_digests():
            if now - self._published.get(digest, -PUBLISH_EVERY_S) < PUBLISH_EVERY_S:
                continue
            evidence = self._evidence_for(digest)
            pem = self.key.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            fleet_key = None
            if self.keys.fleet is not None:
                try:  # without its fleet key, nothing is published: providers wait, not guess
                    fleet_key = self.keys.fleet.published_statement(digest)
                except FleetKeyUnavailable as exc:
                    log.error("fleet key not obtained", extra={"digest": digest, "error": str(exc)})
                    continue
            self.plane.publish_evidence(evidence, pem.decode(), fleet_key)
            self._published[digest] = now
            count += 1
        return count

    def _evidence_for(self, digest: str) -> str:
        """Fresh evidence of this code running the bundle `digest`, bound to the enclave key."""
        measurement = Measurement(measure_datacage_code(), digest)
        evidence = self.provider.attest(self.key, measurement).to_bytes()
        self.keys.remember(evidence, measurement)
        return evidence.decode()

    def run_once(self) -> JobReport | None:
        """Take and run one waiting run; None when none is waiting (the in-process engine:
        what a fleet's `take` task does, fed by this worker's own look at the waiting runs)."""
        self.sweep()  # at start, what a killed worker left; later, almost always nothing
        try:
            self.publish_evidence()
        except ControlPlaneError as exc:  # pushes wait; pulls need no published evidence
            log.error("evidence not published", extra={"error": str(exc)})
        for waiting in self.plane.waiting():
            report = self.take(waiting.run_id, waiting.digest)
            if report is not None:
                return report
        return None

    def take(self, run_id: str, digest: str) -> JobReport | None:
        """One task: claim this run under a lease and carry it out. None when the run no
        longer waits (another worker took it, it ended, or this is a task delivered twice)."""
        self.sweep()
        bundle = self._bundle(digest)
        if bundle is None:
            return None
        measurement = Measurement(measure_datacage_code(), bundle.digest)
        evidence = self.provider.attest(self.key, measurement)
        self.keys.remember(evidence.to_bytes(), measurement)
        try:
            job = self.plane.claim_run(run_id, evidence.to_bytes().decode())
        except IncompleteJob as exc:  # the run is ours but its job is not whole: end it
            log.error("job not read whole", extra={"run": exc.run_id, "error": str(exc)})
            report = JobReport(Outcome.DATACAGE_ERROR)
            self._end_run(exc.run_id, report, exc.lease)
            return report
        except ControlPlaneError as exc:  # no such run (a forged or stale task), or refused
            log.info("claim refused", extra={"run": run_id, "error": str(exc)})
            return None
        if job is None:
            return None
        log.info("job claimed", extra={"run": job.run_id, "people": len(job.consent_iris)})
        reporter = self.plane.for_run(job.run_id, job.lease)
        marker = self._hold(job)
        try:
            with ExitStack() as stack:
                keeper = stack.enter_context(LeaseKeeper(reporter, job.lease_seconds, job.run_id))
                certificate = client_certificate(self.key, evidence)
                cert_file, key_file = stack.enter_context(self.key.tls_files(certificate))
                cage = self._client((cert_file, key_file))
                report = execute(
                    job,
                    bundle.files,
                    bundle.output_shape,
                    cage,
                    reporter,
                    self.settings,
                    self.keys,
                    Outbox(self.deliveries, self.key, evidence, self.plane.client.webid or ""),
                )
                if keeper.lost.is_set():
                    log.warning("run carried out after its lease lapsed", extra={"run": run_id})
                return report
        except Exception:  # the run ends, the worker goes on; the detail stays in our log
            log.exception("run failed in the worker", extra={"run": job.run_id})
            report = JobReport(Outcome.DATACAGE_ERROR)  # its wording: the operator must look
            self._end_run(job.run_id, report, job.lease)
            self.sweep()  # whatever the failure left in the work root
            return report
        finally:
            marker.unlink(missing_ok=True)

    def _bundle(self, digest: str):
        """The checked bundle of `digest` (kept: a digest names its files for good), or None."""
        if digest in self._bundles:
            return self._bundles[digest]
        try:
            bundle = read_bundle(self.plane.bundle(digest))
        except BundleError as exc:
            log.error("bundle refused", extra={"digest": digest, "problems": exc.problems})
            return None
        except ControlPlaneError as exc:  # no run waits for it any more: a stale task
            log.info("bundle not served", extra={"digest": digest, "error": str(exc)})
            return None
        if bundle.digest != digest:  # the control plane served other files than it named
            log.error("bundle digest mismatch", extra={"asked": digest, "got": bundle.digest})
            return None
        if len(self._bundles) >= _BUNDLES_KEPT:
            self._bundles.pop(next(iter(self._bundles)))
        self._bundles[digest] = bundle
        return bundle

    def _hold(self, job) -> Path:
        """Write the run's lease token beside its work folder (0600), so that this worker,
        restarted after being killed, can end the run at once instead of waiting for the
        lease to lapse (`sweep`)."""
        root = self.settings.work_root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        marker = root / f"{job.run_id}{_LEASE_SUFFIX}"
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(job.lease or "")
        return marker

    def sweep(self) -> list[str]:
        """Delete what earlier runs left in the work root and end, with a plain reason, each
        such run the control plane still shows under way; the runs ended."""
        ended = []
        try:
            held = _held_leases(self.settings.work_root)
            leftovers = sweep_work_root(self.settings.work_root)
        except OSError:
            log.exception("work root not swept")
            return ended
        for run_id, folder in leftovers:
            log.warning("leftover of an interrupted run deleted", extra={"run": run_id})
            restarted = JobReport(Outcome.DATACAGE_ERROR, notes={Note.DATACAGE_RESTARTED})
            told = self._end_run(run_id, restarted, held.get(run_id))
            if told is None:
                continue  # the empty folder stays, so the next sweep tells the control plane
            if told:
                ended.append(run_id)
            with contextlib.suppress(OSError):
                folder.rmdir()
        return ended

    def _end_run(self, run_id: str, report: JobReport, lease: str | None) -> bool | None:
        """Tell the control plane the run ended: True; False if it refused (the run had ended
        already, or is not ours: its lease lapsed); None if it could not be reached."""
        try:
            self.plane.for_run(run_id, lease).finish(report.as_json())
        except ControlPlaneError as exc:
            log.info("run not ended by the worker", extra={"run": run_id, "error": str(exc)})
            return False
        except (SolidError, OSError) as exc:  # requests' connection errors are OSErrors
            log.error("control plane not reached", extra={"run": run_id, "error": str(exc)})
            return None
        return True

    def deliver_pending(self) -> None:
        """Retry the deliveries that are due (results of earlier runs, before a restart too)."""
        try:
            self.deliveries.retry_due()
        except OSError:  # a full or failing disk must not stop the worker taking jobs
            log.exception("delivery pass failed")

    def serve(
        self,
        stop: threading.Event,
        poll_seconds: float = 5.0,
        heartbeat: Path | None = None,
        schedule: Timer | None = None,
    ) -> None:
        """Take jobs until `stop`; `heartbeat` is touched after each look for work that reached
        the control plane (a container's health check reads its age, docker/healthcheck.py).
        `schedule`: the chores a fleet's beat would send (recurring runs, consent expiry),
        ticked from this loop instead, with the same task code (`server.datacage.schedule`)."""
        try:  # now, not on the first run; a run that still cannot start is refused, in words
            start_launcher()
        except (OSError, RuntimeError) as exc:
            log.error("the sandbox launcher did not start", extra={"error": str(exc)})
        while not stop.is_set():
            try:
                for chore in schedule.due() if schedule is not None else ():
                    tick(self, chore)
                self.deliver_pending()
                ran = self.run_once()
                if heartbeat is not None:
                    heartbeat.touch()
                if ran is not None:
                    continue  # there may be more waiting
            except (ControlPlaneError, SolidError) as exc:  # try again at the next poll
                log.error("no job taken", extra={"error": str(exc)})
            except Exception:  # one bad pass must not end the worker
                log.exception("worker pass failed")
            stop.wait(poll_seconds)

    def _client(self, cert: tuple[str, str] | None) -> SolidClient:
        """The long-lived client (no certificate: the control plane, deliveries), or a run's
        client presenting the RA-TLS certificate, whose pod requests take `pod_routes`."""
        tls = TlsSettings(verify=self.pod_ca, cert=cert)
        transport = self.egress.session()
        if cert is not None and self.pod_routes:
            # The gateway's address was named by the operator: it bypasses the egress policy.
            mount_routes(transport, self.pod_routes)
        session = SolidSession.from_client_credentials(
            self.identity.issuer,
            self.identity.client_id,
            self.identity.client_secret,
            http=Http(transport, tls=tls),
        )
        return SolidClient(session)
