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

import http.client
import logging
import secrets
import threading
import urllib.error
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

import pyoxigraph as ox
from rdflib import Graph
from SPARQLWrapper import BASIC, JSON, POST, TURTLE, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (
    EndPointInternalError,
    EndPointNotFound,
    QueryBadFormed,
    SPARQLWrapperException,
    Unauthorized,
    URITooLong,
)

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

_STATUS = {
    QueryBadFormed: 400,
    Unauthorized: 401,
    EndPointNotFound: 404,
    URITooLong: 414,
    EndPointInternalError: 500,
}
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
        # Every request opens its own connection, so there is nothing to release.
        self._closed = True

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
        self, text: str, return_format: str, *, update: bool = False, expect: str | None = None
    ) -> tuple[bytes, str]:
        """POST one query or update; return the body and its media type."""
        if self._closed:
            raise RegistryError("The registry is closed.")
        endpoint = self._update if update else self._query
        # A new wrapper per request: SPARQLWrapper objects hold per-query state (not thread-safe).
        wrapper = SPARQLWrapper(endpoint.url, updateEndpoint=endpoint.url)
        wrapper.setMethod(POST)
        wrapper.setOnlyConneg(True)
        wrapper.setReturnFormat(return_format)
        # Not setTimeout(): it truncates to int, and 0.5 s would become 0, meaning no timeout.
        wrapper.timeout = self._timeout  # type: ignore[assignment]
        if endpoint.credentials:
            wrapper.setHTTPAuth(BASIC)
            wrapper.setCredentials(*endpoint.credentials)
        wrapper.setQuery(text)
        # SPARQLWrapper routes by the detected query type; never let a query string be an update.
        if expect is not None and wrapper.queryType != expect:
            raise RegistryError(f"Expected a {expect} query.")
        try:
            response = wrapper.query().response
            return response.read(), response.headers.get("Content-Type", "")
        except QueryBadFormed as error:
            log.warning("The SPARQL endpoint %s rejected a request: %s", endpoint.shown, error)
            raise RegistryError(
                f"The registry store rejected the {endpoint.role} as malformed."
            ) from None
        except (SPARQLWrapperException, urllib.error.HTTPError) as error:
            raise self._unavailable(endpoint, error, _status(error), update) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            raise self._unavailable(endpoint, error, None, update) from None

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


def _status(error: Exception) -> int | None:
    if isinstance(error, urllib.error.HTTPError):
        return error.code
    return next((code for kind, code in _STATUS.items() if isinstance(error, kind)), None)


def _timed_out(error: Exception) -> bool:
    reason = getattr(error, "reason", None)
    return isinstance(error, TimeoutError) or isinstance(reason, TimeoutError)
