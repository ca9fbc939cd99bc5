"""Run the Community Solid Server (CSS) as a child process on a loopback port.

The tests, the benchmarks and the demo need a real Solid server, and a leaked one is expensive
(300 MB, a port, pods on disk), so this module's main job is that node never outlives us:

- the child runs in its own process group, and `stop()` signals the whole group;
- on Linux the kernel sends it SIGTERM when we die, even by SIGKILL (`PR_SET_PDEATHSIG`);
- an `atexit` hook stops it when the interpreter exits without anyone calling `stop()`.

CSS 7 cannot be told which host to listen on, so a node preload (`loopback.cjs`) keeps it on
127.0.0.1. The base URL still says `localhost`: Solid-OIDC only accepts plain http there, and
with `127.0.0.1` CSS issues tokens that its own pods then refuse.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import requests

from connectors.child_processes import die_with_parent_hook, terminate_group
from connectors.solid.css.errors import CssError

CSS_HOME_ENV = "DATACAGE_CSS_HOME"
CSS_PACKAGE = Path("node_modules", "@solid", "community-server")
LOOPBACK_PRELOAD = Path(__file__).with_name("loopback.cjs")
_LOG_TAIL_LINES = 30


def strip_css_env(env: Mapping[str, str]) -> dict[str, str]:
    """Return `env` without `CSS_*` variables.

    CSS turns every `CSS_*` variable into a command-line option and exits on an unknown one, so
    a stray variable in a developer's shell would otherwise stop the test bed from starting.
    """
    return {key: value for key, value in env.items() if not key.startswith("CSS_")}


def find_css_home(
    explicit: Path | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    search_from: Iterable[Path] | None = None,
) -> Path:
    """Locate the installed `@solid/community-server` package.

    Order: `explicit`, then `$DATACAGE_CSS_HOME`, then a `node_modules` found upward from this
    file or from the current directory (the repository checkout in both usual cases).
    """
    if explicit is not None:
        return _checked_css_home(explicit, origin="css_home")
    if env.get(CSS_HOME_ENV):
        return _checked_css_home(Path(env[CSS_HOME_ENV]), origin=f"${CSS_HOME_ENV}")
    starts = [Path(__file__).resolve().parent, Path.cwd()] if search_from is None else search_from
    for start in starts:
        for folder in (start, *start.parents):
            if (folder / CSS_PACKAGE / "bin" / "server.js").is_file():
                return folder / CSS_PACKAGE
    raise CssError(
        "The Community Solid Server is not installed (no node_modules/@solid/community-server "
        f"found); run `make setup` in the repository, or set {CSS_HOME_ENV} to its folder."
    )


def _checked_css_home(path: Path, *, origin: str) -> Path:
    if not (path / "bin" / "server.js").is_file():
        raise CssError(
            f"{origin} points to {path}, which holds no bin/server.js of the Community Solid "
            "Server; run `make setup` or fix the path."
        )
    return path


def free_loopback_port() -> int:
    """Ask the kernel for a port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_taken(port: int) -> bool:
    # Without this check, another server on the port could answer our readiness probe.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like node, ignore connections of a previous run still in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class CommunitySolidServer:
    """One CSS process on `http://localhost:PORT/`, stopped with its whole process group.

    Use it as a context manager, or call `start()` and `stop()`. `startup_seconds` records how
    long CSS took to answer its OpenID configuration, which is most of a test session's set-up.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: Path | None = None,
        config: str = "@css:config/file.json",
        log_level: str = "warn",
        node: str = "node",
        css_home: Path | None = None,
        seed_config: Path | None = None,
        public_url: str | None = None,
        extra_ca: Path | None = None,
        preloads: tuple[Path, ...] = (),
    ) -> None:
        """`public_url` (with `extra_ca`, the CA of its certificate) puts CSS behind a TLS
        front such as nginx: CSS still listens on `http://127.0.0.1:port`, but names itself
        and checks DPoP proofs by the public URL, and trusts that CA when it fetches its own
        WebIDs and keys through the front. `preloads` are more node `-r` modules (a test's
        request counter, say), loaded after the loopback one."""
        self.css_home = find_css_home(css_home)
        self.public_url = public_url
        self.extra_ca = extra_ca
        self.port = port if port is not None else free_loopback_port()
        self.config = config
        self.log_level = log_level
        self.node = node
        self.seed_config = seed_config
        self.preloads = tuple(preloads)
        self.startup_seconds: float | None = None
        self._data_dir = data_dir
        self._runtime_dir: Path | None = None  # private: the log and, if ours, the data
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://localhost:{self.port}/"

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def data_dir(self) -> Path | None:
        return self._data_dir or (self._runtime_dir / "data" if self._runtime_dir else None)

    @property
    def log_path(self) -> Path | None:
        return self._runtime_dir / "css.log" if self._runtime_dir else None

    def command(self, data_dir: Path) -> list[str]:
        """The node command line that runs CSS (without starting anything)."""
        argv = [self.node, "-r", str(LOOPBACK_PRELOAD)]
        for preload in self.preloads:
            argv += ["-r", str(preload)]
        argv.append(str(self.css_home / "bin" / "server.js"))
        if self.extra_ca is not None:  # `env` execs node in place: same process group
            argv = ["env", f"NODE_EXTRA_CA_CERTS={self.extra_ca}", *argv]
        argv += ["-c", self.config, "-f", str(data_dir), "-p", str(self.port)]
        argv += ["-b", self.base_url, "-l", self.log_level]
        if self.seed_config is not None:
            argv += ["--seedConfig", str(self.seed_config)]
        return argv

    def start(self, timeout: float = 60) -> CommunitySolidServer:
        """Start CSS and wait until it serves its OpenID configuration."""
        if self._process is not None:
            raise CssError(f"The Community Solid Server on {self.base_url} is already started.")
        if _port_is_taken(self.port):
            raise CssError(f"Port {self.port} on 127.0.0.1 is already in use; pick another.")
        began = time.monotonic()
        self._runtime_dir = Path(tempfile.mkdtemp(prefix="datacage-css-"))
        atexit.register(self.stop)
        try:
            self._spawn(self._runtime_dir / "css.log")
            self._wait_until_ready(began + timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _spawn(self, log_path: Path) -> None:
        data_dir = self._data_dir or log_path.with_name("data")
        data_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            try:
                # The command is built from our own settings, never from request data.
                self._process = subprocess.Popen(  # noqa: S603
                    self.command(data_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=strip_css_env(os.environ),
                    start_new_session=True,
                    preexec_fn=die_with_parent_hook(),
                )
            except OSError as exc:
                raise CssError(
                    f"Could not run node ({self.node!r}): {exc.strerror}. Install Node 20 "
                    "or pass the path of the node binary."
                ) from None

    def _wait_until_ready(self, deadline: float) -> None:
        process = self._process
        if process is None:
            raise CssError("The Community Solid Server was not started.")
        # Probe CSS itself, with the headers a TLS front adds, not the front.
        probe = f"http://127.0.0.1:{self.port}/.well-known/openid-configuration"
        public = urlsplit(self.base_url)
        headers = {"Host": public.netloc, "X-Forwarded-Proto": public.scheme}
        with requests.Session() as session:
            session.trust_env = False  # a proxy from the environment must not see localhost
            while True:
                code = process.poll()
                if code is not None:
                    raise CssError(
                        f"The Community Solid Server exited with code {code} while starting. "
                        f"Last lines of its log:\n{self.log_tail()}"
                    )
                with contextlib.suppress(requests.RequestException):
                    if session.get(probe, headers=headers, timeout=0.5).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise CssError(
                        f"The Community Solid Server did not answer {probe} in time. "
                        f"Last lines of its log:\n{self.log_tail()}"
                    )
                time.sleep(0.1)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines CSS wrote, for error messages; empty when there is no log."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop CSS and its children (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process)
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None

    def __enter__(self) -> CommunitySolidServer:
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
        return f"<CommunitySolidServer {self.base_url} {state}>"
