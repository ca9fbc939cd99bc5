"""What a pod told us about one resource: status, type, validators, links and allowed modes.

Solid describes resources in headers: `Link` carries the type (`rel="type"`), the ACL
(`rel="acl"`) and the storage description; `WAC-Allow` the modes the requester has (Web Access
Control, section "WAC-Allow"); `ETag` the version we read, which provenance records and
conditional writes (`If-Match`) rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from requests.utils import parse_header_links

from vocab import LDP, PIM, SOLID

LDP_CONTAINER = str(LDP.Container)
LDP_BASIC_CONTAINER = str(LDP.BasicContainer)
PIM_STORAGE_TYPE = str(PIM.Storage)
STORAGE_DESCRIPTION_REL = str(SOLID.storageDescription)


@dataclass(frozen=True)
class Link:
    target: str
    rel: str


@dataclass(frozen=True)
class Resource:
    url: str
    status: int
    content_type: str | None
    etag: str | None
    last_modified: str | None
    links: tuple[Link, ...]
    wac_allow: dict[str, frozenset[str]]
    body: bytes = field(default=b"", repr=False)
    location: str | None = None

    @classmethod
    def from_response(cls, response: requests.Response, body: bytes = b"") -> Resource:
        headers = response.headers
        return cls(
            url=response.url,
            status=response.status_code,
            content_type=headers.get("Content-Type"),
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            links=parse_links(headers.get("Link"), response.url),
            wac_allow=parse_wac_allow(headers.get("WAC-Allow")),
            body=body,
            location=_absolute(headers.get("Location"), response.url),
        )

    def link(self, rel: str) -> str | None:
        # Relation types compare case-insensitively (RFC 8288 section 2.1).
        wanted = rel.lower()
        return next((link.target for link in self.links if link.rel.lower() == wanted), None)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(link.target for link in self.links if link.rel.lower() == "type")

    @property
    def is_container(self) -> bool:
        return LDP_CONTAINER in self.types or LDP_BASIC_CONTAINER in self.types

    @property
    def is_storage(self) -> bool:
        return PIM_STORAGE_TYPE in self.types

    @property
    def acl_url(self) -> str | None:
        return self.link("acl")

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding)


def parse_links(header: str | None, base: str) -> tuple[Link, ...]:
    """Every (target, rel) pair; a link with several rels counts once per rel (RFC 8288)."""
    if not header:
        return ()
    links = []
    for entry in parse_header_links(header):
        target = _absolute(entry.get("url", ""), base)
        for rel in entry.get("rel", "").split():
            if target:
                links.append(Link(target, rel))
    return tuple(links)


def parse_wac_allow(header: str | None) -> dict[str, frozenset[str]]:
    """`user="read write", public="read"` -> {"user": {"read", "write"}, "public": {"read"}}."""
    modes: dict[str, frozenset[str]] = {}
    if not header:
        return modes
    for part in header.split(","):
        group, sep, value = part.partition("=")
        if sep:
            modes[group.strip().lower()] = frozenset(value.strip().strip('"').lower().split())
    return modes


def _absolute(url: str | None, base: str) -> str | None:
    return requests.compat.urljoin(base, url) if url else None
