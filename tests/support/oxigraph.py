"""A real `oxigraph serve` SPARQL 1.1 endpoint on a free loopback port, for integration tests.

The binary comes with the PyPI `oxigraph` package, next to the venv's python. Like the CSS test
bed, the server must never outlive the tests: it leads its own process group, Linux sends it
SIGTERM if we die (`PR_SET_PDEATHSIG`), an `atexit` hook stops it, and `stop()` escalates to
SIGKILL when SIGTERM is not enough.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import requests

from connectors.child_processes import die_with_parent_hook, terminate_group
from connectors.solid.css.process import free_loopback_port

_PORT_ATTEMPTS = 3  # another program may take the free port before oxigraph binds it


class OxigraphError(RuntimeError):
    """`oxigraph serve` could not be found or started."""


def oxigraph_binary() -> Path:
    """The `oxigraph` executable installed beside this interpreter."""
    binary = Path(sys.executable).with_name("oxigraph")
    if not binary.is_file():
        raise OxigraphError(f"No oxigraph binary at {binary}; install the `oxigraph` package.")
    return binary


class OxigraphServer:
    """`oxigraph serve --location DIR --bind 127.0.0.1:PORT`, as a context manager.

    Without `location`, the data lives in a temporary directory removed on `stop()`.
    """

    def __init__(self, location: Path | None = None) -> None:
        self.binary = oxigraph_binary()
        self.port: int | None = None
        self._location = location
        self._scratch: Path | None = None  # ours to delete: the log, and the data if no location
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def query_url(self) -> str:
        return self.base_url + "query"

    @property
    def update_url(self) -> str:
        return self.base_url + "update"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 10) -> OxigraphServer:
        """Start the server and wait until it answers a query."""
        if self._process is not None:
            raise OxigraphError(f"Oxigraph on {self.base_url} is already started.")
        self._scratch = Path(tempfile.mkdtemp(prefix="datacage-oxigraph-"))
        location = self._location or self._scratch / "data"
        atexit.register(self.stop)
        try:
            for attempt in range(_PORT_ATTEMPTS):
                self.port = free_loopback_port()
                self._spawn(location)
                if self._wait_until_ready(time.monotonic() + timeout):
                    return self
                if attempt + 1 == _PORT_ATTEMPTS or "in use" not in self.log_tail():
                    raise OxigraphError(f"oxigraph serve did not start:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise
        return self

    def reset(self) -> None:
        """Empty the whole dataset (every named graph and the default graph)."""
        with requests.Session() as session:
            session.trust_env = False
            session.post(self.update_url, data={"update": "DROP ALL"}, timeout=5).raise_for_status()

    def log_tail(self, lines: int = 20) -> str:
        log = self._scratch / "oxigraph.log" if self._scratch else None
        if log is None or not log.is_file():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        atexit.unregister(self.stop)
        self._terminate()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _spawn(self, location: Path) -> None:
        self._terminate()  # a previous attempt that lost its port
        argv = [str(self.binary), "serve", "--location", str(location)]
        argv += ["--bind", f"127.0.0.1:{self.port}"]
        assert self._scratch is not None
        with (self._scratch / "oxigraph.log").open("wb") as log:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(),
            )

    def _wait_until_ready(self, deadline: float) -> bool:
        """True once the server answers; False if it exited (e.g. its port was taken)."""
        process = self._process
        assert process is not None
        with requests.Session() as session:
            session.trust_env = False  # a proxy from the environment must not see loopback
            while process.poll() is None:
                with contextlib.suppress(requests.RequestException):
                    probe = session.get(self.query_url, params={"query": "ASK {}"}, timeout=0.5)
                    if probe.status_code == 200:
                        return True
                if time.monotonic() > deadline:
                    raise OxigraphError(
                        f"oxigraph serve did not answer in time:\n{self.log_tail()}"
                    )
                time.sleep(0.02)
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process)

    def __enter__(self) -> OxigraphServer:
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
        return f"<OxigraphServer {self.base_url if self.port else '(no port)'} {state}>"
