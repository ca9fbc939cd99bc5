"""A real Virtuoso Open Source 7 (`virtuoso-t`, Debian `virtuoso-opensource`) for the tests.

Each server gets a temporary directory with its own database and `virtuoso.ini`, listens on
127.0.0.1 only (SQL and HTTP on free ports), and is set up the way `docs/registry.md` tells an
operator to: serializable transactions, a `registry` user with the SPARQL_UPDATE role and a
random password for `/sparql-auth`, no graph readable by anonymous `/sparql`, and a random
`dba` password in place of the well-known default. Like the other servers of the test bed it
leads its own process group, dies with us, and `stop()` escalates to SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
import requests

from connectors.child_processes import die_with_parent_hook, terminate_group
from connectors.solid.css.process import free_loopback_port

VIRTUOSO = "/usr/bin/virtuoso-t"
ISQL = "/usr/bin/isql-vt"
USER = "registry"
_PORT_ATTEMPTS = 3

_INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
MaxClientConnections = 20
CheckpointInterval = 60
CaseMode = 2
DirsAllowed = {dir}
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
ThreadsPerQuery = 2
; The registry's compare-and-swap needs serializable transactions (docs/registry.md).
DefaultIsolation = {isolation}

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {dir}
MaxClientConnections = 20
ServerThreads = 20
EnabledGzipContent = 0

[SPARQL]
ResultSetMaxRows = {max_rows}
MaxQueryExecutionTime = 60
"""

_SETUP = """\
USER_CREATE ('{user}', '{password}');
GRANT SPARQL_UPDATE TO "{user}";
DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 0);
DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('{user}', 3);
USER_SET_PASSWORD ('dba', '{dba_password}');
"""


class VirtuosoError(RuntimeError):
    """`virtuoso-t` could not be found or started."""


class VirtuosoServer:
    """One `virtuoso-t` in a temporary directory, as a context manager.

    `isolation` is `DefaultIsolation` (8: serializable, what the registry needs);
    `max_rows` is `ResultSetMaxRows`, the most rows one SPARQL answer may hold.
    """

    def __init__(self, *, isolation: int = 8, max_rows: int = 10000) -> None:
        for binary in (VIRTUOSO, ISQL):
            if not Path(binary).is_file():
                raise VirtuosoError(
                    f"No {binary}: install the Debian package virtuoso-opensource (make setup)."
                )
        self.isolation = isolation
        self.max_rows = max_rows
        self.password = secrets.token_urlsafe(18)
        self.sql_port: int | None = None
        self.http_port: int | None = None
        self._scratch: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._system_graphs: frozenset[str] = frozenset()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"

    @property
    def registry_url(self) -> str:
        """The authenticated endpoint, with the registry user's login as user info."""
        return f"http://{USER}:{self.password}@127.0.0.1:{self.http_port}/sparql-auth"

    @property
    def anonymous_url(self) -> str:
        return self.base_url + "sparql"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 60) -> VirtuosoServer:
        if self._process is not None:
            raise VirtuosoError(f"Virtuoso on {self.base_url} is already started.")
        self._scratch = Path(tempfile.mkdtemp(prefix="datacage-virtuoso-"))
        atexit.register(self.stop)
        try:
            for attempt in range(_PORT_ATTEMPTS):
                self.sql_port, self.http_port = free_loopback_port(), free_loopback_port()
                self._spawn()
                if self._wait_until_ready(time.monotonic() + timeout):
                    break
                if attempt + 1 == _PORT_ATTEMPTS:
                    raise VirtuosoError(f"virtuoso-t did not start:\n{self.log_tail()}")
            self._set_up()
            self._system_graphs = frozenset(self._graphs())
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, timeout: float = 60) -> None:
        """Stop the server (SIGKILL: no checkpoint) and start it again on the same database."""
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process, grace=0)
        self._spawn()
        if not self._wait_until_ready(time.monotonic() + timeout):
            raise VirtuosoError(f"virtuoso-t did not restart:\n{self.log_tail()}")

    def reset(self) -> None:
        """Drop every graph but Virtuoso's own (its configuration lives in graphs too)."""
        for graph in self._graphs():
            if graph not in self._system_graphs:
                self.update(f"DROP SILENT GRAPH <{graph}>")

    def update(self, text: str) -> None:
        response = self._session().post(
            self.registry_url.replace(f"{USER}:{self.password}@", ""),
            data={"update": text},
            auth=requests.auth.HTTPDigestAuth(USER, self.password),
            timeout=30,
        )
        response.raise_for_status()

    def log_tail(self, lines: int = 20) -> str:
        log = self._scratch / "server.log" if self._scratch else None
        if log is None or not log.is_file():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _spawn(self) -> None:
        assert self._scratch is not None
        if self._process is not None:
            terminate_group(self._process, grace=0)
        ini = self._scratch / "virtuoso.ini"
        ini.write_text(
            _INI.format(
                dir=self._scratch,
                sql_port=self.sql_port,
                http_port=self.http_port,
                isolation=self.isolation,
                max_rows=self.max_rows,
            )
        )
        with (self._scratch / "server.log").open("ab") as log:
            self._process = subprocess.Popen(
                [VIRTUOSO, "+foreground", "+configfile", str(ini)],
                cwd=self._scratch,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(),
            )

    def _wait_until_ready(self, deadline: float) -> bool:
        """True once /sparql answers; False if the process exited (e.g. a port was taken)."""
        process = self._process
        assert process is not None
        session = self._session()
        while process.poll() is None:
            with contextlib.suppress(requests.RequestException):
                probe = session.get(self.anonymous_url, params={"query": "ASK {}"}, timeout=1)
                if probe.status_code == 200:
                    return True
            if time.monotonic() > deadline:
                raise VirtuosoError(f"virtuoso-t did not answer in time:\n{self.log_tail()}")
            time.sleep(0.1)
        return False

    def _set_up(self) -> None:
        assert self._scratch is not None
        script = self._scratch / "setup.sql"
        script.touch(mode=0o600)
        script.write_text(
            _SETUP.format(user=USER, password=self.password, dba_password=secrets.token_urlsafe(18))
        )
        # A fresh database's dba password is the well-known "dba"; the script replaces it.
        done = subprocess.run(
            [ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba", str(script)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        script.unlink()
        if done.returncode != 0 or "Error" in done.stdout + done.stderr:
            raise VirtuosoError(f"Setting up Virtuoso failed:\n{done.stdout}\n{done.stderr}")

    def _graphs(self) -> list[str]:
        response = self._session().post(
            self.registry_url.replace(f"{USER}:{self.password}@", ""),
            data={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
            headers={"Accept": "application/sparql-results+json"},
            auth=requests.auth.HTTPDigestAuth(USER, self.password),
            timeout=30,
        )
        response.raise_for_status()
        return [row["g"]["value"] for row in response.json()["results"]["bindings"]]

    @staticmethod
    def _session() -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # a proxy from the environment must not see loopback
        return session

    def __enter__(self) -> VirtuosoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self._process else "stopped"
        return f"<VirtuosoServer {self.base_url if self.http_port else '(no port)'} {state}>"


@pytest.fixture(scope="session")
def virtuoso() -> Iterator[VirtuosoServer]:
    """One Virtuoso for the session, set up as docs/registry.md asks; tests `reset()` it."""
    with VirtuosoServer() as server:
        yield server
