"""The access-control contract every pod access system implements (WAC today, ACP next).

Callers say *who* may do *what* on *which* resource; they never see ACL or ACR documents.
So ACP can join WAC behind `access_control_for` without any caller changing.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from enum import StrEnum

from vocab import ACL


class AccessMode(StrEnum):
    """The four modes of Web Access Control; ACP's `acl:` modes are the same IRIs."""

    READ = "Read"
    WRITE = "Write"
    APPEND = "Append"
    CONTROL = "Control"

    @property
    def iri(self) -> str:
        return str(ACL[self.value])

    @classmethod
    def parse(cls, values: Iterable[AccessMode | str]) -> frozenset[AccessMode]:
        modes = set()
        for value in values:
            if isinstance(value, AccessMode):
                modes.add(value)
                continue
            name = str(value).rsplit("#", 1)[-1].capitalize()
            try:
                modes.add(cls(name))
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an access mode (Read, Write, Append, Control)."
                ) from None
        return frozenset(modes)


class AccessControl(abc.ABC):
    """Who may access one resource, and the means to change it."""

    #: "WAC" or "ACP": shown to people so they know what was changed in their pod.
    system: str

    def __init__(self, resource_url: str):
        self.resource_url = resource_url

    @abc.abstractmethod
    def agent_modes(self, agent: str) -> frozenset[AccessMode]:
        """The modes `agent` holds on the resource, explicitly or as a member of the public."""

    @abc.abstractmethod
    def labelled_modes(self, agent: str, label: str) -> frozenset[AccessMode]:
        """The modes the grant labelled `label` gives `agent` here, as the pod holds it now."""

    @abc.abstractmethod
    def grant(
        self,
        agent: str,
        modes: Iterable[AccessMode | str],
        *,
        include_members: bool = False,
        label: str | None = None,
    ) -> None:
        """Give `agent` these modes on the resource (and, if asked, on everything it contains).

        Idempotent: granting what is already granted changes nothing. With a `label` (a
        consent's IRI) the grant is an entry of its own that `revoke(label=...)` removes alone.
        """

    @abc.abstractmethod
    def revoke(
        self,
        agent: str,
        modes: Iterable[AccessMode | str] | None = None,
        *,
        label: str | None = None,
    ) -> None:
        """Take these modes (default: all) from `agent`; other agents keep what they had.

        With a `label`, only from the grant of that label: other grants to `agent` stay.
        """
