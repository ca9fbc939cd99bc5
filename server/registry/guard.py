"""One rule for every store built on the registry: a conflict is the caller's to handle (read
again and retry), any other registry failure is the service being unavailable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from server.errors import Unavailable
from server.registry.base import Registry, RegistryConflict, RegistryError

T = TypeVar("T")


def call(registry: Callable[[], Registry], operation: Callable[[Registry], T]) -> T:
    try:
        return operation(registry())
    except RegistryConflict:
        raise
    except RegistryError as exc:
        raise Unavailable(str(exc)) from exc
