"""The processes behind the demo's pod provider: nginx from a private prefix, and the admission
check, in a thread of this process (`AdmissionServer`) or in a process of its own
(`AdmissionProcess`, `datacage admission --server gunicorn`). server/demo/gateway.py composes them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from connectors.child_processes import die_with_parent_hook, terminate_group
from connectors.solid.css.process import free_loopback_port

from ..attestation.admission import PolicyFile, PolicyInForce, create_app, policy_document
from ..attestation.verify import TrustPolicy

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class GatewayError(RuntimeError):
    """nginx or the admission app would not start."""


class NginxProcess:
    """nginx from a private prefix with a given configuration, in its own process group."""

    def __init__(self, prefix: Path, config: str, port: int):
        self.prefix, self.config, self.port = prefix, config, port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def start(self, timeout: float = 10) -> NginxProcess:
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config)
        argv = [
            NGINX,
            "-p",
            str(self.prefix),
            "-e",
            str(self.prefix / "error.log"),
            "-c",
            str(conf),
        ]
        try:
            # Our own binary and configuration, never request data.
            check = subprocess.run([*argv, "-t"], capture_output=True, text=True, check=False)  # noqa: S603
        except OSError as exc:
            raise GatewayError(f"nginx could not be run ({exc.strerror}); install nginx.") from None
        if check.returncode != 0:
            raise GatewayError(f"nginx refused its configuration:\n{check.stderr}")
        self._process = subprocess.Popen(  # noqa: S603
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent_hook(),
        )
        deadline = time.monotonic() + timeout
        while not accepts(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise GatewayError(f"nginx did not start:\n{self.error_log_tail()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process)

    def error_log_tail(self, lines: int = 20) -> str:
        path = self.prefix / "error.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""


class AdmissionServer:
    """`server.attestation.admission` on 127.0.0.1 in a daemon thread (werkzeug). Given a
    policy, it may be replaced while it runs (`policy.replace`); given a policy file's path,
    the file is followed."""

    def __init__(self, policy: TrustPolicy | Path | str):
        self.policy: PolicyInForce | PolicyFile = (
            PolicyInForce(policy) if isinstance(policy, TrustPolicy) else PolicyFile(Path(policy))
        )
        self.server = make_server("127.0.0.1", 0, create_app(self.policy), threaded=True)
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AdmissionServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class AdmissionProcess:
    """`datacage admission` in a process of its own, as a pod provider runs it.

    In a thread of the process that also pulls (the demo's worker, a benchmark's client) every
    admission would contend for that process's GIL with the pulls it admits. Its log goes to
    `<folder>/admission.log`; its policy is written to `<folder>/admission-policy.json`.
    """

    def __init__(self, policy: TrustPolicy, folder: Path):
        self.folder = folder
        self.port = free_loopback_port()
        self.policy_path = folder / "admission-policy.json"
        self.write_policy(policy)
        self._process: subprocess.Popen[bytes] | None = None

    def write_policy(self, policy: TrustPolicy) -> None:
        # Whole or not at all: the running process must never read half a file.
        partial = self.policy_path.with_suffix(".partial")
        partial.write_text(json.dumps(policy_document(policy), indent=2))
        partial.replace(self.policy_path)

    @property
    def log_path(self) -> Path:
        return self.folder / "admission.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> AdmissionProcess:
        argv = [
            sys.executable,
            "-c",
            "from server.cli import main; main()",
            "admission",
            "--config",
            str(self.policy_path),
            "--port",
            str(self.port),
            "--server",
            "gunicorn",
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603  (our own interpreter and command)
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(),
                cwd=Path(__file__).resolve().parents[2],  # where `server` is importable
            )
        deadline = time.monotonic() + 20
        while not accepts(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise GatewayError(f"The admission process did not start:\n{tail}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process)


def accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False
