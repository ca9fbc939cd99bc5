"""The registry on a remote SPARQL 1.1 endpoint, for deployments with several processes or hosts.

The compare-and-swap runs inside the endpoint, as one update request (SPARQL 1.1 Update §2:
a request is applied atomically) made of two operations:

1. *claim*: if the graph's revision is the expected one (or, for 0, there is none), delete the
   whole graph and put a fresh random write token in it; also put the token in the default
   graph as a *receipt*;
2. *fill*: if the graph holds our token, insert the new content and revision.

Success is then decided by asking for the receipt. Asking for the token in the graph itself
would be wrong: another writer may already have replaced our revision by the time we ask, and
we would report a conflict for a write that happened, and the caller would apply it twice. The
receipt is deleted afterwards; registry graphs are named, so the default graph is ours.

This is only as strong as the endpoint's isolation between update requests. `oxigraph serve`
(0.5) evaluates each update on a snapshot and commits it without checking for concurrent
writers, so two writes of the same revision can both commit, and their contents merge. Writes
through one process are therefore serialised here, per endpoint; across processes, use an
endpoint that runs one update at a time (see `docs/registry.md`).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Mapping
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

import pyoxigraph as ox
import urllib3
from rdflib import Graph
from SPARQLWrapper import SPARQLWrapper
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from server.registry import terms
from server.registry.base import (
    Bindings,
    Registry,
    RegistryError,
    RegistryUnavailable,
    Row,
    StoredGraph,
    check_name,
    check_revision,
    conflict,
)
from server.registry.counters import Counter, increments
from vocab import DCG

log = logging.getLogger(__name__)

JSON = "application/sparql-results+json"
TURTLE = "text/turtle"
#: Connections to the endpoint a registry keeps open for queries (one per thread at once).
KEPT_CONNECTIONS = 16
# Update URL -> the lock that serialises this process's writes through it (see the docstring).
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_MAYBE_SAVED = " The change may or may not have been saved; reload before trying again."


class SparqlRegistry(Registry):
    """A registry on a SPARQL 1.1 endpoint. User info in a URL is sent as HTTP Basic auth."""

    limits_values = True  # its answers are parsed from JSON (`Registry.limits_values`)

    def __init__(self, query_url: str, update_url: str, *, timeout: float = 10.0) -> None:
        self._query = _Endpoint(query_url, "query")
        self._update = _Endpoint(update_url, "update")
        if not timeout > 0:
            raise RegistryError("The SPARQL timeout must be a positive number of seconds.")
        self._timeout = timeout
        self._closed = False
        # Queries reuse kept-alive connections: a new TCP connection per query cost as much as
        # the query itself (`_send` says why updates never do).
        self._queries = urllib3.PoolManager(maxsize=KEPT_CONNECTIONS, retries=False)
        with _WRITE_LOCKS_GUARD:
            self._write_lock = _WRITE_LOCKS.setdefault(self._update.url, threading.Lock())

    def __repr__(self) -> str:
        return f"SparqlRegistry({self._query.shown!r})"

    def read(self, name: str) -> StoredGraph | None:
        check_name(name)
        # One query, so content and revision come from the same snapshot.
        body, media_type = self._send(
            f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}", TURTLE
        )
        rdf_format = ox.RdfFormat.from_media_type(media_type) or ox.RdfFormat.TURTLE
        try:
            triples = list(ox.parse(body, format=rdf_format))
        except (SyntaxError, ValueError) as error:
            log.warning("The SPARQL endpoint answered with unreadable RDF: %s", error)
            raise RegistryUnavailable("The registry store gave an unreadable answer.") from None
        return terms.stored_graph(name, triples)

    def revision(self, name: str) -> int:
        check_name(name)
        rows = self.select(f"SELECT ?r WHERE {{ GRAPH <{name}> {{ <{name}> dcg:revision ?r }} }}")
        values = [str(row["r"]) for row in rows if "r" in row]
        if not values:
            return 0
        if len(values) > 1 or not values[0].isdigit():
            raise RegistryError(f"{name} is damaged: it has no single integer revision.")
        return int(values[0])

    def write(self, name: str, graph: Graph, *, expected_revision: int) -> int:
        return self.write_counted(name, graph, expected_revision=expected_revision, deltas={})

    def write_counted(
        self,
        name: str,
        graph: Graph,
        *,
        expected_revision: int,
        deltas: Mapping[Counter, int],
    ) -> int:
        check_name(name)
        expected = check_revision(expected_revision, allow_zero=True)
        token = secrets.token_urlsafe(16)
        lines = terms.insert_lines(name, graph, revision=expected + 1, token=token)
        claim = _claim(name, expected, token)
        owned = _token(name, token, graph=True)
        fill = f"INSERT {{ GRAPH <{name}> {{\n{lines}\n}} }}\nWHERE {{ {owned} }}"
        # The counters change in the same request, and only where the claim put our token.
        operations = [claim, fill, *increments(deltas, guard=owned)]
        with self._write_lock:
            self._execute_update(" ;\n".join(operations))
            self._settle(name, expected, token)
        return expected + 1

    def delete(self, name: str, *, expected_revision: int) -> None:
        check_name(name)
        expected = check_revision(expected_revision, allow_zero=False)
        token = secrets.token_urlsafe(16)
        with self._write_lock:
            self._execute_update(
                f"DELETE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}\nINSERT {{ {_token(name, token)} }}\n"
                f"WHERE {{ GRAPH <{name}> {{ <{name}> <{DCG.revision}> {expected} . ?s ?p ?o }} }}"
            )
            self._settle(name, expected, token)

    def execute_update(self, update: str) -> None:
        with self._write_lock:
            self._execute_update(update)

    def select(self, query: str, bindings: Bindings | None = None) -> list[Row]:
        return terms.select_rows(self._run_query(query, bindings, "SELECT"))

    def select_text(self, query: str, bindings: Bindings | None = None) -> list[dict[str, str]]:
        return terms.text_rows(self._run_query(query, bindings, "SELECT"))

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        return terms.ask_answer(self._run_query(query, bindings, "ASK"))

    def close(self) -> None:
        self._closed = True
        self._queries.clear()

    def _settle(self, name: str, expected: int, token: str) -> None:
        """Decide by the receipt whether our update won, then remove the receipt."""
        try:
            won = self._ask_text(f"ASK {{ {_token(name, token)} }}")
        except RegistryUnavailable as error:
            raise RegistryUnavailable(str(error) + _MAYBE_SAVED) from None
        if not won:
            raise conflict(name, expected)
        try:
            self._execute_update(f"DELETE DATA {{ {_token(name, token)} }}")
        except RegistryError:
            # The change is saved; a stale receipt only costs one triple in the default graph.
            log.warning("Could not remove a write receipt for %s; it is harmless.", name)

    def _run_query(self, query: str, bindings: Bindings | None, kind: str) -> object:
        text = terms.prepared_query(query, bindings)
        return self._parse_results(self._send(text, JSON, expect=kind)[0])

    def _ask_text(self, query: str) -> bool:
        return terms.ask_answer(self._parse_results(self._send(query, JSON, expect="ASK")[0]))

    @staticmethod
    def _parse_results(body: bytes) -> ox.QuerySolutions | ox.QueryBoolean:
        try:
            return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        except (SyntaxError, ValueError) as error:
            log.warning("The SPARQL endpoint answered with unreadable results: %s", error)
            raise RegistryUnavailable("The registry store gave an unreadable answer.") from None

    def _execute_update(self, update: str) -> None:
        self._send(update, JSON, update=True)

    def _send(
        self, text: str, accept: str, *, update: bool = False, expect: str | None = None
    ) -> tuple[bytes, str]:
        """POST one query or update (SPARQL 1.1 Protocol, URL-encoded); return the body and
        its media type.

        A query may go over a connection kept from an earlier one. The endpoint may close a
        kept connection at any moment, and a request sent just then is lost (reset, or no
        answer); a query changes nothing, so it is sent once more, on a new connection. An
        update is never sent twice: it goes over a connection of its own, opened for it and
        closed after it, so a lost connection means the endpoint really failed (and whether
        the update was applied is unknown, as the error then says)."""
        if self._closed:
            raise RegistryError("The registry is closed.")
        endpoint = self._update if update else self._query
        # Never let a query string be an update (or the other way round), whatever the
        # endpoint would accept at that URL.
        if expect is not None and _query_type(text) != expect:
            raise RegistryError(f"Expected a {expect} query.")
        headers = {"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"}
        if endpoint.credentials:
            headers |= urllib3.make_headers(basic_auth=":".join(endpoint.credentials))
        body = urlencode({"update" if update else "query": text})
        post = _Post(endpoint.url, body, headers, self._timeout)
        try:
            if update:
                response = post.on_a_connection_of_its_own()
            else:
                try:
                    response = post.over(self._queries)
                except ProtocolError:  # the kept connection was closed under the query
                    response = post.on_a_connection_of_its_own()
        except (HTTPError, OSError) as error:
            raise self._unavailable(endpoint, error, None, update) from None
        if response.status == 400:
            log.warning(
                "The SPARQL endpoint %s rejected a request: %.300s",
                endpoint.shown,
                response.data.decode(errors="replace"),
            )
            raise RegistryError(f"The registry store rejected the {endpoint.role} as malformed.")
        if response.status >= 300:
            error = RuntimeError(f"HTTP {response.status}")
            raise self._unavailable(endpoint, error, response.status, update)
        return response.data, response.headers.get("Content-Type", "")

    def _unavailable(
        self, endpoint: _Endpoint, error: Exception, status: int | None, update: bool
    ) -> RegistryUnavailable:
        log.warning("The SPARQL endpoint %s failed: %.300s", endpoint.shown, error)
        if status in (401, 403):
            message = f"The registry store refused the server's credentials (HTTP {status})."
        elif status is not None:
            message = f"The registry store failed (HTTP {status})."
        elif _timed_out(error):
            message = f"The registry store did not answer within {self._timeout:g} s."
        else:
            message = "The registry store cannot be reached."
        if update:
            # An answered error means the endpoint applied nothing (updates are atomic); a lost
            # connection leaves the outcome unknown.
            message += " The change was not saved." if status is not None else _MAYBE_SAVED
        return RegistryUnavailable(message)


class _Post:
    """One SPARQL Protocol POST, sent over a pool's kept connections or a new one."""

    def __init__(self, url: str, body: str, headers: dict[str, str], timeout: float) -> None:
        self.url, self.body, self.headers = url, body, headers
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)

    def over(self, pool: urllib3.PoolManager) -> urllib3.BaseHTTPResponse:
        return pool.request(
            "POST",
            self.url,
            body=self.body,
            headers=self.headers,
            timeout=self.timeout,
            redirect=False,
        )

    def on_a_connection_of_its_own(self) -> urllib3.BaseHTTPResponse:
        """Opened for this request and closed after it (the body read before it closes):
        never one the endpoint is closing."""
        with urllib3.PoolManager(maxsize=1, retries=False) as own:
            return own.request(
                "POST",
                self.url,
                body=self.body,
                headers={**self.headers, "Connection": "close"},
                timeout=self.timeout,
                redirect=False,
            )


class _Endpoint:
    """One endpoint URL, with user info taken out (sent as Basic auth, never logged)."""

    def __init__(self, url: str, role: str) -> None:
        self.role = role
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except (ValueError, TypeError, AttributeError):
            valid = False
        if not valid:
            # The URL is not repeated: it may hold a password.
            raise RegistryError(f"The SPARQL {role} URL must be an absolute http(s) URL.")
        host = parts.netloc.rpartition("@")[2]
        self.url = urlunsplit(parts._replace(netloc=host))
        self.shown = urlunsplit((parts.scheme, host, parts.path, "", ""))
        self.credentials = (
            (unquote(parts.username), unquote(parts.password or ""))
            if parts.username is not None
            else None
        )


def _claim(name: str, expected: int, token: str) -> str:
    """The operation that empties the graph and takes it with `token` if `expected` holds."""
    take = f"INSERT {{ GRAPH <{name}> {{ {_token(name, token)} }} {_token(name, token)} }}"
    if expected == 0:
        # For an empty graph ?s ?p ?o stay unbound and the DELETE template is skipped
        # (SPARQL 1.1 Update §3.1.3); any stray content without a revision is deleted.
        condition = (
            f"OPTIONAL {{ GRAPH <{name}> {{ ?s ?p ?o }} }}\n"
            f"FILTER NOT EXISTS {{ GRAPH <{name}> {{ <{name}> <{DCG.revision}> ?revision }} }}"
        )
    else:
        condition = f"GRAPH <{name}> {{ <{name}> <{DCG.revision}> {expected} . ?s ?p ?o }}"
    return f"DELETE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}\n{take}\nWHERE {{ {condition} }}"


def _token(name: str, token: str, *, graph: bool = False) -> str:
    """The triple `<name> dcg:writeToken "token"`, in graph `name` if `graph`."""
    triple = f"<{name}> <{DCG.writeToken}> {ox.Literal(token)} ."
    return f"GRAPH <{name}> {{ {triple} }}" if graph else triple


def _query_type(text: str) -> str:
    """SELECT, ASK, CONSTRUCT, DESCRIBE, or an update's first keyword (INSERT, DELETE, ...),
    as SPARQLWrapper's parser reads it (prologue and comments skipped)."""
    parsed = SPARQLWrapper("http://localhost/")
    parsed.setQuery(text)
    return parsed.queryType


def _timed_out(error: Exception) -> bool:
    # urllib3 2 makes a refused connection a kind of connect timeout; it is not one here.
    if isinstance(error, NewConnectionError):
        return False
    return isinstance(error, Urllib3Timeout | TimeoutError)
