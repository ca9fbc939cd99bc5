"""`datacage demo` as a child process, as a newcomer runs it: its output read as they read it.

Both demo tests run the real command (a fresh interpreter, its own CSS, control plane and
worker) and learn the URLs from what it prints. `processes_using` finds what it left behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DATACAGE = Path(sys.executable).with_name("datacage")
_URL = re.compile(r"^  (?P<label>[^:]+(?:: the report)?): (?P<url>https?://\S+)$")


@dataclass
class DemoOutput:
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def url(self, label: str) -> str:
        for line in self.lines:
            found = _URL.match(line)
            if found and found["label"] == label:
                return found["url"]
        raise AssertionError(f"The demo printed no URL for {label!r}:\n{self.text}")

    @property
    def css_base(self) -> str:
        found = re.search(r"ready on (https://localhost:\d+/)", self.text)
        assert found, self.text
        return found[1]


def demo_command(folder: Path, people: int, *extra: str) -> list[str]:
    return [str(DATACAGE), "demo", "--people", str(people), "--port", "0", "--css-port", "0",
            "--folder", str(folder), *extra]  # fmt: skip


def run_to_end(folder: Path, people: int, timeout: float) -> tuple[int, DemoOutput]:
    """`datacage demo --check`: its exit code and output."""
    done = subprocess.run(
        demo_command(folder, people, "--check"),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        check=False,
    )
    return done.returncode, DemoOutput((done.stdout + done.stderr).splitlines())


class RunningDemo:
    """`datacage demo` (waiting for Ctrl-C) started; `ready()` reads up to "demo ready"."""

    def __init__(self, folder: Path, people: int) -> None:
        self.output = DemoOutput()
        self.process = subprocess.Popen(
            demo_command(folder, people),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )

    def ready(self, timeout: float) -> DemoOutput:
        return self.until("demo ready", timeout)

    def until(self, start: str, timeout: float) -> DemoOutput:
        """Read the output up to a line starting with `start`."""
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        for line in self.process.stdout:  # blocks per line; the demo prints often
            self.output.lines.append(line.rstrip("\n"))
            if line.startswith(start):
                return self.output
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"The demo never printed {start!r}:\n{self.output.text}")

    def interrupt(self, timeout: float = 60) -> int:
        """What Ctrl-C does: SIGINT, then wait for it to stop everything and exit."""
        self.process.send_signal(signal.SIGINT)
        rest, _ = self.process.communicate(timeout=timeout)
        self.output.lines += rest.splitlines()
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def processes_using(folder: Path) -> list[str]:
    """Command lines of live processes that name `folder` (the demo's CSS is started with it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if str(folder) in argv:
            found.append(argv.strip())
    return found


def _env() -> dict[str, str]:
    # Unbuffered, so the lines arrive as the demo prints them.
    return {**os.environ, "PYTHONUNBUFFERED": "1"}
