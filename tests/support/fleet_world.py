"""A fleet of datacage worker processes (`datacage worker --broker`) and its beat, started as a
real operator starts them, each with its own data folder (enclave key, work root, sandbox ids)
and one shared sealed delivery folder; they can be killed, paused and started again."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from connectors.child_processes import die_with_parent_hook

DATACAGE = str(Path(sys.executable).with_name("datacage"))

#: Short periods, so a test sees a lapse, an offer and a retry within seconds.
FAST = {
    "DATACAGE_FLEET_OFFER_EVERY_S": "0.5",
    "DATACAGE_FLEET_DELIVER_EVERY_S": "1",
    "DATACAGE_FLEET_OFFER_TTL_S": "4",
    "DATACAGE_FLEET_VISIBILITY_TIMEOUT_S": "30",
}


class Fleet:
    def __init__(
        self,
        control_plane: str,
        cage,
        folder: Path,
        broker_url: str,
        env: dict[str, str] | None = None,  # more settings, e.g. a faster schedule
    ):
        self.env = {**FAST, **(env or {})}
        self.control_plane = control_plane
        self.cage = cage
        self.folder = folder
        self.broker_url = broker_url
        self.processes: dict[str, subprocess.Popen] = {}
        folder.mkdir(parents=True, exist_ok=True)
        self.secret_file = folder / "cage.secret"
        self.secret_file.write_text(cage.credentials.secret)
        self.key_file = folder / "secrets" / "hold.key"  # the fleet's delivery key
        self.key_file.parent.mkdir(mode=0o700, exist_ok=True)
        self.key_file.write_bytes(secrets.token_bytes(32))
        self.shared = folder / "shared-delivery"

    def data_dir(self, name: str) -> Path:
        return self.folder / name

    def start_worker(self, name: str) -> subprocess.Popen:
        credentials = self.cage.credentials
        command = [
            DATACAGE,
            "worker",
            "--control-plane",
            self.control_plane,
            "--issuer",
            credentials.issuer,
            "--client-id",
            credentials.id,
            "--client-secret-file",
            str(self.secret_file),
            "--data-dir",
            str(self.data_dir(name)),
            "--allow-plain-http-pods",  # the session's CSS serves plain http
            "--broker",
            self.broker_url,
            "--delivery-dir",
            str(self.shared),
            "--delivery-key-file",
            str(self.key_file),
        ]
        return self._start(name, command)

    def start_beat(self, name: str = "beat") -> subprocess.Popen:
        command = [
            DATACAGE,
            "fleet-beat",
            "--broker",
            self.broker_url,
            "--schedule-file",
            str(self.folder / f"{name}-schedule"),
        ]
        return self._start(name, command)

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATACAGE_FLEET_")}
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, **self.env},
            preexec_fn=die_with_parent_hook(),  # none may outlive a killed test run
        )
        log.close()
        self.processes[name] = process
        return process

    def holder(self, run_id: str) -> str | None:
        """The worker carrying out `run_id` now: the one with its lease marker."""
        for name in self.processes:
            if (self.data_dir(name) / "work" / f"{run_id}.lease").exists():
                return name
        return None

    def signal(self, name: str, number: int) -> None:
        self.processes[name].send_signal(number)

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.kill()
        process.wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_for(condition, seconds: float, every: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    return condition()
