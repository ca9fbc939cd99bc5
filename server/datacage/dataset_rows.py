"""A pushed dataset as the job names it: where its envelope is, what it was sealed for.

A wire type of the job protocol, apart from the code that opens datasets (datasets.py,
envelope_open.py): the job's reader (control_plane.py) is loaded wherever a run is sent to the
fleet, the control plane included, and must not bring the opening code with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobDataset:
    id: str
    provider: str
    name: str
    connector: str
    grant: Mapping[str, str]
    format: str
    schema: dict[str, Any] | None
    ciphertext_digest: str
    size: int
    evidence_sha256: str
    key_sha256: str

    @classmethod
    def from_json(cls, item: Any) -> JobDataset:
        if not isinstance(item, dict):
            raise TypeError("dataset")
        strings = ("id", "provider", "name", "connector", "format", "ciphertext_digest")
        values = {k: item[k] for k in (*strings, "evidence_sha256", "key_sha256")}
        if not all(isinstance(v, str) for v in values.values()):
            raise TypeError("dataset fields")
        grant, schema, size = item["grant"], item["schema"], item["size"]
        if not isinstance(grant, dict) or not all(isinstance(v, str) for v in grant.values()):
            raise TypeError("grant")
        if schema is not None and not isinstance(schema, dict):
            raise TypeError("schema")
        if type(size) is not int:
            raise TypeError("size")
        return cls(grant=dict(grant), schema=schema, size=size, **values)
