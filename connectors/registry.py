"""The connector registry: one place that knows every kind of storage and whether it works here.

`register(cls)` lists a connector class (the modules in this package call it at import);
`get(type)` returns the class of an enabled connector or raises `ConnectorUnavailable` with the
reason, e.g. the extra to install. Importing the built-in connectors never needs their SDKs.
"""

from __future__ import annotations

import importlib

from .base import Connector, ConnectorUnavailable

_CONNECTORS: dict[str, type[Connector]] = {}
_BUILT_IN = (
    "connectors.files",
    "connectors.s3",
    "connectors.azure_blob",
    "connectors.solid_push",
)
_loaded = False


def register(cls: type[Connector]) -> type[Connector]:
    """List `cls` under `cls.type` (usable as a class decorator)."""
    _CONNECTORS[cls.type] = cls
    return cls


def _load_built_in() -> None:
    global _loaded
    if not _loaded:
        for module in _BUILT_IN:
            importlib.import_module(module)
        _loaded = True


def connector_types() -> dict[str, type[Connector]]:
    """Every registered connector, enabled or not, by type."""
    _load_built_in()
    return dict(sorted(_CONNECTORS.items()))


def get(connector_type: str) -> type[Connector]:
    _load_built_in()
    cls = _CONNECTORS.get(connector_type)
    if cls is None:
        known = ", ".join(sorted(_CONNECTORS)) or "none"
        raise ConnectorUnavailable(
            f"There is no connector called {connector_type[:40]!r}; known: {known}."
        )
    reason = cls.disabled_reason()
    if reason:
        raise ConnectorUnavailable(reason)
    return cls
