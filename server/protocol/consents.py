"""A consent as the job protocol carries it: what the datacage may read, and what it read.

The control plane answers the datacage's re-check of a batch of consents with a `JobConsent`
each (`POST /api/datacage/runs/<id>/consents/check`), and the datacage reports each person's
reads (`Read`, `POST .../usage`) for their usage record. Both ends (de)serialise with the
functions here, so the two sides of the wire cannot drift apart; what the datacage receives is
checked like any outside input (`from_json` raises KeyError, TypeError or ValueError).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PodResource:
    """One thing in a person's pod the datacage may read: a resource, or a container with all
    it holds (only when the space asked for a folder and the consent page said so)."""

    url: str
    is_container: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "is_container": self.is_container}

    @classmethod
    def from_json(cls, body: Any) -> PodResource:
        # Only a literal true makes a container: anything else reads one resource.
        body = fields(body)
        return cls(text(body["url"]), body["is_container"] is True)


@dataclass(frozen=True)
class JobConsent:
    """A consent in force for a run, with what the datacage needs to read under it."""

    iri: str
    subject: str
    resources: tuple[PodResource, ...]
    # Usage receipts: the Append-only container next to the receipt (None: given before usage
    # records were kept), and the purposes the receipt names.
    usage_records: str | None = None
    purposes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "iri": self.iri,
            "subject": self.subject,
            "resources": [r.as_json() for r in self.resources],
            "usage_records": self.usage_records,
            "purposes": list(self.purposes),
        }

    @classmethod
    def from_json(cls, body: Any) -> JobConsent:
        body = fields(body)
        return cls(
            text(body["iri"]),
            text(body["subject"]),
            tuple(PodResource.from_json(r) for r in body["resources"]),
            optional_text(body.get("usage_records")),
            tuple(text(p) for p in body.get("purposes", ())),
        )


@dataclass(frozen=True)
class Read:
    """One resource as the datacage read it for a run."""

    url: str
    version: str | None  # the ETag as read

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "version": self.version}

    @classmethod
    def from_json(cls, body: Any) -> Read:
        body = fields(body)
        return cls(text(body["url"]), optional_text(body["version"]))


def fields(value: object) -> dict[str, Any]:
    """A JSON object from the wire; TypeError for anything else."""
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return value


def text(value: object) -> str:
    """A string from the wire; TypeError for anything else."""
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def optional_text(value: object) -> str | None:
    return None if value is None else text(value)
