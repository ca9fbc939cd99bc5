"""The registry on OpenLink Virtuoso 7, through its authenticated SPARQL endpoint (`/sparql-auth`).

What Virtuoso 7.2 really guarantees, and how the compare-and-swap is built on it (see the
Virtuoso section of `docs/registry.md` for the experiments behind each point):

- One HTTP request is one SQL transaction: the endpoint runs the whole request, then commits
  (`sparql_io.sql`: `exec (...); commit work;`). A crash of the server before that commit
  rolls the whole request back; a client that dies mid-request sends no complete request.
- But a request is *not* atomic on error: the endpoint commits whatever the operations before
  a failing one did. So a request must be built so that every prefix of it is harmless, and a
  failed write is settled by looking, not by trusting the status code.
- Isolation is the server's `DefaultIsolation`. Under the default (read committed) two writers
  of the same revision both succeed and their contents merge; under repeatable read two
  creators both succeed. Only serializable (8) gives one winner, so the registry refuses to
  write to a server configured otherwise. The server retries deadlock victims (40001) itself.
- Some literals cannot be stored (durations) or break the store (an infinite and a NaN
  double): `virtuoso_terms` escapes or refuses them.
- An `INSERT { template } WHERE` is compiled into SQL text limited to 10,000 lines (about a
  thousand triples, and seconds to compile), so content goes in by `INSERT DATA` into a private
  *staging* graph and is copied by a pattern whose size does not depend on the graph.

A write is one request: take the record's *lock* row (writers of one record then queue instead
of deadlocking); stage the content; *claim* the graph (empty it and put our token in it, and a
receipt in the receipts graph, only if the revision is the expected one); *fill* it from the
staging graph where our token is; empty the staging graph. The receipt decides success
afterwards, as for `SparqlRegistry`. If a request fails, or the
connection is lost after the server answered nothing, the receipt is looked up: if our claim
committed, the fill is run again (rolled forward), so the graph is never left half-written.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

import pyoxigraph as ox
import requests
from rdflib import Graph
from requests.auth import HTTPDigestAuth

from server.registry import terms, virtuoso_queries, virtuoso_terms
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

#: Where write receipts live: a graph of its own (Virtuoso has no writable default graph).
RECEIPTS = str(DCG.writeToken)
#: Where each record's lock row lives (see `_lock`).
LOCKS = f"{RECEIPTS}/locks"
SERIALIZABLE = "8"  # Virtuoso's DefaultIsolation value for SERIALIZABLE
_CHUNK = 1000  # triples per INSERT DATA (see `_stage`)
_DEADLOCK_RETRIES = 5  # on top of the endpoint's own six
_JITTER = secrets.SystemRandom()
_RESULTS = "application/sparql-results+json"
_SQL_STATE = re.compile(r"\b(40001|S1TAT)\b")
_MAYBE_SAVED = " The change may or may not have been saved; reload before trying again."
_NOT_SAVED = " The change was not saved."


class VirtuosoRegistry(Registry):
    """A registry on Virtuoso's `/sparql-auth` endpoint; the URL's user info is the login,
    sent with HTTP Digest authentication and never logged or shown."""

    limits_values = True  # its answers are parsed from JSON (`Registry.limits_values`)

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url, self._shown, user, password = _split_url(url)
        if not timeout > 0:
            raise RegistryError("The Virtuoso timeout must be a positive number of seconds.")
        self._timeout = timeout
        self._auth = HTTPDigestAuth(user, password)
        self._local = threading.local()  # one requests.Session per thread
        self._sessions: list[requests.Session] = []
        self._guard = threading.Lock()
        self._isolation_checked = False
        self._closed = False

    def __repr__(self) -> str:
        return f"VirtuosoRegistry({self._shown!r})"

    def read(self, name: str) -> StoredGraph | None:
        check_name(name)
        # A SELECT, not a CONSTRUCT: Virtuoso cuts both at ResultSetMaxRows, but says so
        # (X-SPARQL-MaxRows) only for a SELECT, and a cut record must never be read as whole.
        # One query: content and revision come from one serializable transaction.
        result = self._results(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}")
        solution = None
        try:
            if not isinstance(result, ox.QuerySolutions):
                raise RegistryUnavailable("The registry store gave an unreadable answer.")
            triples = []
            for solution in result:
                triple = ox.Triple(solution["s"], solution["p"], solution["o"])
                triples.append(virtuoso_terms.read_triple(triple))
        except (TypeError, ValueError) as error:
            log.warning("Virtuoso answered with unreadable terms: %s", error)
            raise RegistryUnavailable("The registry store gave an unreadable answer.") from None
        finally:
            # pyoxigraph results must be freed by the thread that made them (see terms).
            del result, solution
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
        check_name(name)
        expected = check_revision(expected_revision, allow_zero=True)
        token = secrets.token_urlsafe(16)
        stored = virtuoso_terms.stored_graph(graph)
        lines = terms.insert_lines(name, stored, revision=expected + 1, token=token)
        staging = _staging(token)
        stage = _stage(staging, lines)
        finish = _fill_and_unstage(name, token, staging)
        claim = _claim(name, expected, token)
        self._change(
            name, expected, token, [*_lock(name), *stage, *claim, *finish], [*stage, *finish]
        )
        return expected + 1

    # Virtuoso 7.2 answers `IF(?day < "…", ?n, 0)` with 0 where `?day < "…"` alone is true.
    sums_counters = False
    # A request failing after its claim is rolled forward without its counters.
    counts_with_record = False

    def write_counted(
        self,
        name: str,
        graph: Graph,
        *,
        expected_revision: int,
        deltas: Mapping[Counter, int],
    ) -> int:
        """`write`, with the counters changed in the same request, only where the claim won
        (their operations need the write's token in the record's graph). A request that fails
        after the claim is rolled forward without them (re-adding could count twice): the
        counters then lag until a recount (`counters.replace`), as docs/registry.md says."""
        check_name(name)
        expected = check_revision(expected_revision, allow_zero=True)
        token = secrets.token_urlsafe(16)
        stored = virtuoso_terms.stored_graph(graph)
        lines = terms.insert_lines(name, stored, revision=expected + 1, token=token)
        staging = _staging(token)
        stage = _stage(staging, lines)
        finish = _fill_and_unstage(name, token, staging)
        claim = _claim(name, expected, token)
        count = increments(deltas, guard=f"GRAPH <{name}> {{ {_token(name, token)} }}")
        self._change(
            name,
            expected,
            token,
            [*_lock(name), *stage, *claim, *count, *finish],
            [*stage, *finish],
        )
        return expected + 1

    def execute_update(self, update: str) -> None:
        """One update request (the counters' recount): Virtuoso runs it as one transaction."""
        self._check_isolation()
        self._execute_update(update)

    def delete(self, name: str, *, expected_revision: int) -> None:
        check_name(name)
        expected = check_revision(expected_revision, allow_zero=False)
        token = secrets.token_urlsafe(16)
        remove = (
            f"DELETE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}\n"
            f"INSERT {{ GRAPH <{RECEIPTS}> {{ {_token(name, token)} }} }}\n"
            f"WHERE {{ GRAPH <{name}> {{ <{name}> <{DCG.revision}> {expected} . ?s ?p ?o }} }}"
        )
        self._change(name, expected, token, [*_lock(name), remove], [])

    def select(self, query: str, bindings: Bindings | None = None) -> list[Row]:
        rows = terms.select_rows(self._run_query(query, bindings, "SelectQuery"))
        return [virtuoso_terms.read_row(row) for row in rows]

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        return terms.ask_answer(self._run_query(query, bindings, "AskQuery"))

    def close(self) -> None:
        with self._guard:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    # --- Writing -----------------------------------------------------------------------------

    def _change(
        self, name: str, expected: int, token: str, operations: list[str], refill: list[str]
    ) -> None:
        """Send one write request; decide by the receipt whether it won, whatever happened.

        `refill` finishes the write if it failed after its claim (see `_recover`).
        """
        self._check_isolation()
        try:
            self._execute_update(" ;\n".join(operations))
        except RegistryUnavailable as failure:
            self._recover(name, token, failure, refill)
            return
        if not self._receipt(name, token):
            raise conflict(name, expected)
        self._drop_receipt(name, token)

    def _execute_update(self, update: str) -> None:
        self._post("update", update, _RESULTS)

    def _recover(
        self, name: str, token: str, failure: RegistryUnavailable, refill: list[str]
    ) -> None:
        """After a failed or unanswered write: roll it forward if our claim committed."""
        answered = getattr(failure, "answered", False)
        try:
            won = self._ask_text(f"ASK {{ GRAPH <{RECEIPTS}> {{ {_token(name, token)} }} }}")
        except RegistryError:
            raise RegistryUnavailable(str(failure) + _MAYBE_SAVED) from None
        if not won:
            if not answered:
                # The request may still be running on the server: it can yet commit.
                raise RegistryUnavailable(str(failure) + _MAYBE_SAVED) from None
            self._clean_staging(token)
            raise RegistryUnavailable(str(failure) + _NOT_SAVED) from None
        # Our claim committed, so the graph holds our token (or a later writer's content):
        # finish our fill from the content we still hold. It is a no-op if it already ran.
        log.warning("A registry write to %s failed after its claim; rolling it forward.", name)
        if refill:
            try:
                self._post("update", " ;\n".join(refill), _RESULTS)
            except RegistryUnavailable:
                raise RegistryUnavailable(str(failure) + _MAYBE_SAVED) from None
        self._drop_receipt(name, token)

    def _receipt(self, name: str, token: str) -> bool:
        try:
            return self._ask_text(f"ASK {{ GRAPH <{RECEIPTS}> {{ {_token(name, token)} }} }}")
        except RegistryUnavailable as error:
            raise RegistryUnavailable(str(error) + _MAYBE_SAVED) from None

    def _drop_receipt(self, name: str, token: str) -> None:
        try:
            self._post(
                "update",
                f"DELETE DATA {{ GRAPH <{RECEIPTS}> {{ {_token(name, token)} }} }}",
                _RESULTS,
            )
        except RegistryError:
            # The change is saved; a stale receipt costs one triple in the receipts graph.
            log.warning("Could not remove a write receipt for %s; it is harmless.", name)

    def _clean_staging(self, token: str) -> None:
        try:
            self._post(
                "update", f"DELETE WHERE {{ GRAPH <{_staging(token)}> {{ ?s ?p ?o }} }}", _RESULTS
            )
        except RegistryError:
            log.warning("Could not remove a staging graph; it holds no record.")

    def _check_isolation(self) -> None:
        """Refuse to write unless the server runs serializable transactions (see the docstring)."""
        if self._isolation_checked:
            return
        rows = terms.select_rows(
            self._results(
                "SELECT ?i WHERE { BIND (bif:cfg_item_value(bif:virtuoso_ini_path(), "
                "'Parameters', 'DefaultIsolation') AS ?i) }"
            )
        )
        found = str(rows[0].get("i", "")) if rows else ""
        if found.strip() != SERIALIZABLE:
            raise RegistryError(
                "The Virtuoso registry needs serializable transactions: set "
                f"DefaultIsolation = {SERIALIZABLE} in the [Parameters] section of virtuoso.ini "
                f"and restart Virtuoso (it is {found.strip() or 'unset'}, which lets two "
                "concurrent writes of the same record both succeed)."
            )
        self._isolation_checked = True

    # --- Querying ----------------------------------------------------------------------------

    def _run_query(self, query: str, bindings: Bindings | None, kind: str) -> object:
        if not isinstance(query, str):
            raise RegistryError("A query must be a string.")
        if virtuoso_queries.query_kind(query) != kind:
            raise RegistryError(
                f"Expected {'a SELECT' if kind == 'SelectQuery' else 'an ASK'} query."
            )
        return self._results(
            virtuoso_queries.with_bindings(query, virtuoso_terms.stored_bindings(bindings))
        )

    def _ask_text(self, query: str) -> bool:
        return terms.ask_answer(self._results(query))

    def _results(self, text: str) -> ox.QuerySolutions | ox.QueryBoolean:
        body = self._post("query", text, _RESULTS)
        try:
            return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        except (SyntaxError, ValueError) as error:
            log.warning("Virtuoso answered with unreadable results: %s", error)
            raise RegistryUnavailable("The registry store gave an unreadable answer.") from None

    # --- HTTP --------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = HTTPDigestAuth(self._auth.username, self._auth.password)
            with self._guard:
                self._sessions.append(session)
            self._local.session = session
        return session

    def _post(self, field: str, text: str, accept: str) -> bytes:
        """POST one query or update; retry deadlock victims (rolled back, so nothing applied)."""
        if self._closed:
            raise RegistryError("The registry is closed.")
        update = field == "update"
        for attempt in range(_DEADLOCK_RETRIES + 1):
            try:
                response = self._session().post(
                    self.url,
                    data={field: text},
                    headers={"Accept": accept},
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.Timeout:
                raise _unavailable(
                    f"The registry store did not answer within {self._timeout:g} s.", False
                ) from None
            except requests.RequestException as error:
                log.warning("Virtuoso at %s cannot be reached: %.300s", self._shown, error)
                raise _unavailable("The registry store cannot be reached.", False) from None
            state = _SQL_STATE.search(response.text[:2000]) if response.status_code >= 400 else None
            if state and state.group(1) == "40001" and attempt < _DEADLOCK_RETRIES:
                # The victim was rolled back, so trying again applies nothing twice.
                time.sleep(_JITTER.uniform(0.05, 0.2) * (attempt + 1))
                continue
            return self._checked(response, update)
        raise AssertionError("unreachable")  # pragma: no cover

    def _checked(self, response: requests.Response, update: bool) -> bytes:
        status = response.status_code
        if status == 200:
            if "X-SPARQL-MaxRows" in response.headers:
                raise RegistryError(
                    "The registry store cut the answer at "
                    f"{response.headers['X-SPARQL-MaxRows']} rows (ResultSetMaxRows in "
                    "virtuoso.ini); the answer would be incomplete, so none is given."
                )
            return response.content
        detail = response.text[:300].replace("\n", " ")
        log.warning("Virtuoso at %s answered HTTP %s: %s", self._shown, status, detail)
        if status == 400:
            raise RegistryError(
                f"The registry store rejected the {'update' if update else 'query'} as malformed."
            )
        if status in (401, 403):
            message = f"The registry store refused the server's credentials (HTTP {status})."
        elif status == 206:
            message = "The registry store gave a partial answer (its query time limit)."
        else:
            message = f"The registry store failed (HTTP {status})."
        raise _unavailable(message, True)


def _unavailable(message: str, answered: bool) -> RegistryUnavailable:
    error = RegistryUnavailable(message)
    error.answered = answered  # type: ignore[attr-defined]
    return error


def _split_url(url: str) -> tuple[str, str, str, str]:
    """The URL without user info, the URL to show, and the login (user, password)."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except (ValueError, TypeError, AttributeError):
        valid = False
    if not valid:
        # The URL is not repeated: it may hold a password.
        raise RegistryError("The Virtuoso registry URL must be an absolute http(s) URL.")
    if not parts.username or not parts.password:
        raise RegistryError(
            "The Virtuoso registry URL needs a user and password "
            "(http://USER:PASSWORD@host:8890/sparql-auth): writes go through the "
            "authenticated endpoint."
        )
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit(parts._replace(netloc=host))
    shown = urlunsplit((parts.scheme, host, parts.path, "", ""))
    return bare, shown, unquote(parts.username), unquote(parts.password)


def _lock(name: str) -> list[str]:
    """Operations that take the record's lock row before anything else is read: writers of
    one record then wait for each other instead of all reading the revision and deadlocking
    when they upgrade their read locks. The row stays: it is the lock, not a record."""
    row = f'GRAPH <{LOCKS}> {{ <{name}> <{DCG.writeToken}> "" . }}'
    return [f"DELETE DATA {{ {row} }}", f"INSERT DATA {{ {row} }}"]


def _claim(name: str, expected: int, token: str) -> list[str]:
    """The operations that take the graph with `token` if its revision is `expected`."""
    triple = _token(name, token)
    mark = f"INSERT {{ GRAPH <{name}> {{ {triple} }} GRAPH <{RECEIPTS}> {{ {triple} }} }}"
    revision = f"<{name}> <{DCG.revision}>"
    if expected:
        return [
            f"DELETE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}\n{mark}\n"
            f"WHERE {{ GRAPH <{name}> {{ {revision} {expected} . ?s ?p ?o }} }}"
        ]
    # Virtuoso 7.2 ignores `FILTER NOT EXISTS` in an otherwise empty WHERE, and finds no
    # solution for `OPTIONAL {...} FILTER (!BOUND(...))` there: a COUNT always has one row.
    absent = (
        f"{{ SELECT (COUNT(?r) AS ?n) WHERE {{ GRAPH <{name}> {{ {revision} ?r }} }} }} "
        "FILTER (?n = 0)"
    )
    return [
        # Stray content without a revision is no record: it goes, so a create starts empty.
        f"DELETE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}\n"
        f"WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} {absent} }}",
        f"{mark}\nWHERE {{ {absent} }}",
    ]


def _stage(staging: str, lines: str) -> list[str]:
    """INSERT DATA operations putting `lines` into the staging graph, in chunks: Virtuoso's
    SPARQL parser runs out of memory on one INSERT DATA of about 5,000 triples."""
    rows = lines.split("\n")
    return [
        f"INSERT DATA {{ GRAPH <{staging}> {{\n" + "\n".join(rows[start : start + _CHUNK]) + "\n} }"
        for start in range(0, len(rows), _CHUNK)
    ]


def _fill_and_unstage(name: str, token: str, staging: str) -> list[str]:
    owned = f"GRAPH <{name}> {{ {_token(name, token)} }}"
    return [
        f"INSERT {{ GRAPH <{name}> {{ ?s ?p ?o }} }}\n"
        f"WHERE {{ {owned} GRAPH <{staging}> {{ ?s ?p ?o }} }}",
        f"DELETE WHERE {{ GRAPH <{staging}> {{ ?s ?p ?o }} }}",
    ]


def _staging(token: str) -> str:
    """A write's private staging graph; it holds content only inside the write's request."""
    return f"{RECEIPTS}/staging/{token}"


def _token(name: str, token: str) -> str:
    return f"<{name}> <{DCG.writeToken}> {ox.Literal(token)} ."
