"""The step after the output gate: describe the result, sign it with the enclave key, hand it on.

One `Outbox` per job (it holds the key and the evidence the job was claimed with); the worker
makes it, `job._execute` calls `send` once, right after the result was kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rdflib import Graph

from ...attestation import EnclaveKey
from ...attestation.evidence import Evidence
from ...provenance import DatasetUse, InputUse, RunFacts, key_thumbprint, signed_document
from ..control_plane import Job
from .deliver import Deliveries


@dataclass
class Outbox:
    deliveries: Deliveries
    key: EnclaveKey
    evidence: Evidence
    datacage: str  # the datacage's WebID
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Made by the worker right before the job starts: the run's start as the datacage saw it.
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def send(
        self,
        job: Job,
        result: Graph,
        result_digest: str,
        inputs: list[InputUse],
        *,
        pull_transport: str = "tls",
    ) -> None:
        facts = RunFacts(
            run_iri=job.run_iri,
            space_iri=job.space_iri,
            purposes=job.purposes,
            algorithm_digest=job.digest,
            datacage=self.datacage,
            started_at=self.started_at,
            ended_at=self.clock(),
            evidence=self.evidence.to_bytes().decode(),
            provider=self.evidence.provider,
            code_measurement=self.evidence.measurement.datacage_code,
            key_thumbprint=key_thumbprint(self.key),
            result_digest=result_digest,
            inputs=tuple(inputs),
            datasets=tuple(
                DatasetUse(d.provider, d.name, d.ciphertext_digest) for d in job.datasets
            ),
            pull_transport=pull_transport,
            privacy=job.privacy,
        )
        document = signed_document(result, facts, self.key)
        self.deliveries.start(
            job.run_id, job.run_iri, document, list(job.deliveries), list(job.consumers)
        )
