"""The storage connector contract: where an organisation puts a pushed (encrypted) dataset.

Modelled on Redash's query-runner registry: a connector class declares a configuration schema
(secret fields flagged), checks its configuration with `test_connection()`, and is listed with
`registry.register(cls)`. A connector whose optional SDK is missing stays registered but
`enabled()` is False and `disabled_reason()` says which extra to install, so importing this
package never fails for lack of a cloud SDK.

Two sides, two kinds of credential:

* the *provider* side (`upload`, `test_connection`) runs on the organisation's machine with its
  own credentials (environment, configuration file, or options), which never leave it;
* the *datacage* side gets only a `read_grant`: a read-only credential scoped to the one object
  (an S3 presigned GET URL, an Azure SAS URL with read permission on the blob, a file path), and
  reads it with `open_grant`, which needs no cloud SDK at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

#: Called with the number of bytes moved since the last call (click's progressbar.update).
Progress = Callable[[int], None]

DEFAULT_GRANT_LIFETIME = timedelta(days=7)  # S3 SigV4 presigned URLs cannot last longer


class ConnectorError(Exception):
    """A storage operation failed; the message says what to check, in plain words."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConnectorUnavailable(ConnectorError):
    """The connector is unknown, or its optional SDK is not installed here."""


class ConfigurationInvalid(ConnectorError):
    """The options given to a connector do not fit its configuration schema."""


@dataclass(frozen=True)
class Stored:
    """Where an upload went: a location to show and record (no credentials in it)."""

    location: str
    size: int


class Connector(ABC):
    """One kind of storage. Subclasses set `type`, `title`, `extra` and the schema."""

    type: ClassVar[str]
    title: ClassVar[str]
    #: The pip extra that installs this connector's SDK (`pip install 'datacage[<extra>]'`).
    extra: ClassVar[str | None] = None

    def __init__(self, configuration: Mapping[str, Any]):
        self.configuration = check_configuration(self.configuration_schema(), configuration)

    # --- What the registry and the command line ask -------------------------------------------

    @classmethod
    def enabled(cls) -> bool:
        return True

    @classmethod
    def disabled_reason(cls) -> str | None:
        if cls.enabled():
            return None
        return (
            f"The {cls.type} connector needs its SDK, which is not installed: "
            f"pip install 'datacage[{cls.extra}]'."
        )

    @classmethod
    @abstractmethod
    def configuration_schema(cls) -> dict[str, Any]:
        """A JSON Schema object: `properties`, `required`, and `secret` (names never shown)."""

    # --- The provider's side -------------------------------------------------------------------

    def use_identity(self, session, datacage_webid: str) -> None:  # noqa: B027
        """Connectors that write as the provider's WebID (solid) take its Solid session and
        the datacage's WebID to grant; storage with its own credentials ignores both."""

    @abstractmethod
    def test_connection(self) -> None:
        """Raise `ConnectorError` saying what is wrong (no bucket, bad credentials...)."""

    @abstractmethod
    def upload(self, source: Path, progress: Progress | None = None) -> Stored:
        """Store the file `source` (the envelope) at the configured place."""

    @abstractmethod
    def read_grant(self, stored: Stored, lifetime: timedelta, now: datetime) -> dict[str, str]:
        """A read-only credential for just this object, for the datacage (JSON-safe)."""

    # --- The datacage's side -------------------------------------------------------------------

    @classmethod
    @abstractmethod
    @contextmanager
    def open_grant(
        cls, grant: Mapping[str, str], *, timeout: float = 30.0, solid_client: Any = None
    ) -> Iterator[tuple[BinaryIO, int | None]]:
        """(a readable stream, its size if known) of the granted object.

        `solid_client` is the datacage's own Solid client, for grants to a WebID (solid)."""


def check_configuration(schema: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with defaults filled in; `ConfigurationInvalid` naming every problem."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems = [f"unknown option {name!r}" for name in given if name not in properties]
    values: dict[str, Any] = {}
    for name, spec in properties.items():
        if name in given and given[name] not in (None, ""):
            value = given[name]
            kind = spec.get("type", "string")
            if kind == "integer":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    problems.append(f"{name} must be a whole number")
                    continue
            elif not isinstance(value, str):
                problems.append(f"{name} must be text")
                continue
            values[name] = value
        elif "default" in spec:
            values[name] = spec["default"]
        elif name in schema.get("required", ()):
            problems.append(f"{name} is required ({spec.get('title', name)})")
    if problems:
        raise ConfigurationInvalid("The connector's options are not right: " + "; ".join(problems))
    return values


def shown(schema: Mapping[str, Any], configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with secret fields masked: what may be logged or printed."""
    secret = set(schema.get("secret", ()))
    return {k: ("********" if k in secret else v) for k, v in configuration.items()}
