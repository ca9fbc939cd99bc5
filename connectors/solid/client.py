"""The Solid client: LDP reads and writes on pods, as one identity (Solid Protocol sections 5-6).

`SolidClient` wraps a `SolidSession` and speaks the Solid Protocol: GET/HEAD/PUT/POST/PATCH/
DELETE with conditional requests, RDF by content negotiation into rdflib graphs, container
listing and recursive walks that never leave the container, and storage discovery. Access
control lives in `connectors.solid.access`, reached through `access_control()`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from urllib.parse import urldefrag, urljoin, urlsplit

from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from vocab import LDP

from . import errors
from .access import AccessControl, access_control_for
from .http import Http, raise_for_status
from .patch import Triple, n3_patch
from .rdf import ACCEPT_RDF, parse_graph, serialize_turtle
from .reads import ReadMemo, T
from .resource import LDP_BASIC_CONTAINER, Resource
from .session import SolidSession

#: A walk stops (and says so) after this many resources, unless the caller allows more.
DEFAULT_WALK_LIMIT = 10_000


@dataclass(frozen=True)
class ContainerEntry:
    url: str
    is_container: bool
    depth: int = 0


class SolidClient:
    """Read and write resources in Solid pods as the session's identity."""

    def __init__(self, session: SolidSession | None = None, *, max_body_bytes: int | None = None):
        self.session = session or SolidSession.anonymous()
        self.max_body_bytes = max_body_bytes
        self._memo: ReadMemo | None = None

    @property
    def http(self) -> Http:
        return self.session.http

    @property
    def webid(self) -> str | None:
        return self.session.webid

    # --- Reading once -------------------------------------------------------------------------

    @contextmanager
    def reads_once(self) -> Iterator[None]:
        """Within the block, each resource's `HEAD` (and each `remembered` read) is sent once.

        For one request of one person (a consent answer), on one thread: what is read is
        not re-read within the block, and forgotten when it ends (see `reads`). A block
        inside another shares the outer one's reads."""
        if self._memo is not None:
            yield
            return
        self._memo = ReadMemo()
        try:
            yield
        finally:
            self._memo = None

    def remembered(self, kind: str, url: str, read: Callable[[], T]) -> T:
        """`read()`, once per `kind`, `url` and signed-in WebID inside `reads_once`."""
        if self._memo is None:
            return read()
        return self._memo.once(kind, self.webid or "", url, read)

    # --- Reading ------------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        accept: str = "*/*",
        if_none_match: str | None = None,
        limit: int | None = None,
    ) -> Resource:
        """Read a resource. With `if_none_match`, an unchanged resource comes back as a 304."""
        headers = {"Accept": accept}
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        response = self.session.request("GET", url, headers=headers)
        if response.status_code == 304:
            response.close()
            return Resource.from_response(response)
        raise_for_status(response)
        body = self.http.read(response, limit=limit or self.max_body_bytes)
        resource = Resource.from_response(response, body)
        if self._memo is not None:
            # A GET's headers describe the resource as its HEAD would: spare that HEAD.
            self._memo.keep("head", self.webid or "", url, replace(resource, body=b""))
        return resource

    def head(self, url: str) -> Resource:
        return self.remembered("head", url, lambda: self._head(url))

    def _head(self, url: str) -> Resource:
        response = self.session.request("HEAD", url)
        raise_for_status(response)
        response.close()
        return Resource.from_response(response)

    def get_graph(
        self, url: str, *, limit: int | None = None, prefixes: bool = True, remember: bool = False
    ) -> tuple[Graph, Resource]:
        """Read an RDF resource into a graph (Turtle preferred, JSON-LD accepted); without
        `prefixes`, for reading only (see `parse_graph`). With `remember`, read once inside
        `reads_once` (each caller gets its own copy of the graph)."""
        if remember:
            graph, resource = self.remembered(
                "graph", url, lambda: self.get_graph(url, limit=limit, prefixes=prefixes)
            )
            copy = Graph(base=graph.base)  # the kept graph stays as read, whatever callers do
            copy += graph
            return copy, resource
        resource = self.get(url, accept=ACCEPT_RDF, limit=limit)
        document, _ = urldefrag(resource.url)
        graph = parse_graph(resource.body, resource.content_type, document, prefixes=prefixes)
        return graph, resource

    def exists(self, url: str) -> bool:
        try:
            self.head(url)
        except errors.NotFound:
            return False
        return True

    # --- Writing ------------------------------------------------------------------------------

    def put(
        self,
        url: str,
        body: bytes | str,
        content_type: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> Resource:
        """Create or replace a resource. `if_none_match="*"` creates only if absent."""
        headers = {"Content-Type": content_type}
        _conditions(headers, if_match, if_none_match)
        return self._write("PUT", url, headers, body)

    def put_graph(
        self,
        url: str,
        graph: Graph,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> Resource:
        body = serialize_turtle(graph, base=urldefrag(url)[0])
        return self.put(url, body, "text/turtle", if_match=if_match, if_none_match=if_none_match)

    def post(
        self,
        container: str,
        body: bytes | str,
        content_type: str,
        *,
        slug: str | None = None,
    ) -> str:
        """Add a resource to a container; return the URL the server gave it."""
        headers = {"Content-Type": content_type}
        if slug:
            headers["Slug"] = slug
        resource = self._write("POST", _as_container(container), headers, body)
        if not resource.location:
            raise errors.UpstreamError(
                f"The server created a resource in {container} but did not say where.",
                url=container,
            )
        return resource.location

    def create_container(self, url: str) -> Resource:
        """Create an empty container (and, as Solid servers do, any missing parents)."""
        headers = {
            "Content-Type": "text/turtle",
            "Link": f'<{LDP_BASIC_CONTAINER}>; rel="type"',
            "If-None-Match": "*",
        }
        return self._write("PUT", _as_container(url), headers, b"")

    def ensure_container(self, url: str) -> None:
        """Create the container unless it is already there (and is a container)."""
        try:
            self.create_container(url)
        except (errors.PreconditionFailed, errors.Conflict):
            # Already there: 412 by the book; CSS answers 409 to any PUT on an existing
            # container before it looks at If-None-Match. A 409 could also mean a document
            # sits at that path, so make sure what is there is a container.
            if not self.head(_as_container(url)).is_container:
                raise

    def patch(
        self,
        url: str,
        *,
        inserts: Iterable[Triple] | Graph = (),
        deletes: Iterable[Triple] | Graph = (),
        if_match: str | None = None,
    ) -> Resource:
        """Insert and delete triples with an N3 Patch; the server applies it atomically."""
        headers = {"Content-Type": "text/n3"}
        _conditions(headers, if_match, None)
        return self._write("PATCH", url, headers, n3_patch(inserts, deletes))

    def patch_sparql(self, url: str, update: str, *, if_match: str | None = None) -> Resource:
        """Apply a SPARQL 1.1 Update (`INSERT DATA`, `DELETE DATA`, `DELETE/INSERT WHERE`)."""
        headers = {"Content-Type": "application/sparql-update"}
        _conditions(headers, if_match, None)
        return self._write("PATCH", url, headers, update)

    def delete(self, url: str, *, if_match: str | None = None) -> None:
        headers: dict[str, str] = {}
        _conditions(headers, if_match, None)
        self._write("DELETE", url, headers, None)

    def _write(
        self, method: str, url: str, headers: dict[str, str], body: bytes | str | None
    ) -> Resource:
        data = body.encode("utf-8") if isinstance(body, str) else body
        response = self.session.request(method, url, headers=headers, data=data)
        if self._memo is not None:  # even a refused write may have changed something
            self._memo.forget(url)
        raise_for_status(response)
        response.close()
        return Resource.from_response(response)

    # --- Containers ---------------------------------------------------------------------------

    def list_container(self, url: str) -> list[ContainerEntry]:
        """The direct members of a container (`ldp:contains`), each marked container or not.

        Members outside the container's own path are ignored: a hostile server could list any
        URL there, and a walk must not be steered to other sites.
        """
        container = _as_container(url)
        graph, resource = self.get_graph(container, prefixes=False)  # only read
        base = _as_container(resource.url)
        entries = []
        for member in sorted(set(graph.objects(URIRef(base), LDP.contains))):
            member_url = str(member)
            if not _is_direct_child(base, member_url):
                continue
            is_container = member_url.endswith("/") or (member, RDF.type, LDP.Container) in graph
            entries.append(ContainerEntry(member_url, is_container))
        return entries

    def walk(
        self, url: str, *, max_depth: int | None = None, limit: int = DEFAULT_WALK_LIMIT
    ) -> Iterator[ContainerEntry]:
        """Every resource under a container, breadth first; raise `TooLarge` past `limit`."""
        queue: deque[tuple[str, int]] = deque([(_as_container(url), 0)])
        seen: set[str] = set()
        count = 0
        while queue:
            container, depth = queue.popleft()
            for entry in self.list_container(container):
                if entry.url in seen:
                    continue
                seen.add(entry.url)
                count += 1
                if count > limit:
                    raise errors.TooLarge(
                        f"{url} holds more than {limit:,} resources; walk stopped.", url=url
                    )
                yield ContainerEntry(entry.url, entry.is_container, depth + 1)
                if entry.is_container and (max_depth is None or depth + 1 < max_depth):
                    queue.append((entry.url, depth + 1))

    def find_storage(self, url: str) -> str:
        """The root of the storage (pod) holding `url` (Solid Protocol 4.1: pim:Storage type)."""
        current = _as_container(url) if url.endswith("/") else urljoin(url, "./")
        while True:
            try:
                if self.head(current).is_storage:
                    return current
            except (errors.Forbidden, errors.Unauthenticated, errors.NotFound):
                pass  # we may not see every ancestor; keep climbing
            parent = urljoin(current, "../")
            if parent == current:
                raise errors.NotFound(f"No Solid storage contains {url}.", url=url)
            current = parent

    # --- Access control -----------------------------------------------------------------------

    def access_control(self, url: str) -> AccessControl:
        """The access-control editor for a resource: Web Access Control or Access Control Policies,
        whichever the pod uses for it."""
        return access_control_for(self, url)


def _conditions(headers: dict[str, str], if_match: str | None, if_none_match: str | None) -> None:
    if if_match:
        headers["If-Match"] = if_match
    if if_none_match:
        headers["If-None-Match"] = if_none_match


def _as_container(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _is_direct_child(container: str, member: str) -> bool:
    if urlsplit(member).netloc != urlsplit(container).netloc or not member.startswith(container):
        return False
    rest = member[len(container) :].rstrip("/")
    return bool(rest) and "/" not in rest
