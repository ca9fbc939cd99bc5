"""Real object-storage emulators for the push tests: moto's S3 server and Azurite's blob service.

Each runs as a child process on a free loopback port, started once per test session, and never
outlives the tests (its own process group, a death signal from Linux, an `atexit` hook), like
the CSS and oxigraph test beds. Tests make their own buckets and containers with unique names.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from connectors.child_processes import die_with_parent_hook, terminate_group
from connectors.solid.css.process import free_loopback_port

ROOT = Path(__file__).parents[2]
#: Azurite's well-known development account (published in its README; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_READY_SECONDS = 20


@dataclass
class Emulator:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    scratch: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            terminate_group(self.process)
        shutil.rmtree(self.scratch, ignore_errors=True)


def start(
    name: str,
    command: Callable[[int, Path], list[str]],
    ready: Callable[[str], bool],
    env: dict[str, str] | None = None,
) -> Emulator:
    """Start `command(port, scratch)` and wait until `ready(url)`; an `Emulator`."""
    scratch = Path(tempfile.mkdtemp(prefix=f"datacage-{name}-"))
    port = free_loopback_port()
    log = open(scratch / "log.txt", "wb")  # noqa: SIM115  (the child writes to it until stopped)
    process = subprocess.Popen(
        command(port, scratch),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent_hook(),
        cwd=scratch,
        env={**os.environ, **(env or {})},
    )
    emulator = Emulator(name, port, process, scratch)
    atexit.register(emulator.stop)
    deadline = time.monotonic() + _READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if ready(emulator.url):
                return emulator
        except requests.RequestException:
            pass
        time.sleep(0.1)
    output = (scratch / "log.txt").read_text(errors="replace")[-2000:]
    emulator.stop()
    raise RuntimeError(f"The {name} emulator did not start:\n{output}")


def start_moto(*, strict: bool = False) -> Emulator:
    """moto's S3 server; `strict` makes it check every request's credentials (IAM), so an
    unknown access key is refused as AWS would refuse it."""
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        raise RuntimeError("moto_server is not installed: pip install -e '.[test]'.")
    return start(
        "moto-s3-strict" if strict else "moto-s3",
        lambda port, _: [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        lambda url: requests.get(url + "/moto-api/", timeout=1).status_code == 200,
        {"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if strict else None,
    )


def start_azurite() -> Emulator:
    binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise RuntimeError("Azurite is not installed: run `npm ci` (make setup).")
    return start(
        "azurite",
        lambda port, _: [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--extentMemoryLimit",
            "512",
            "--disableTelemetry",
            "--silent",
            "--skipApiVersionCheck",
        ],
        # Any HTTP answer (400 for a request without an account) means it listens.
        lambda url: requests.get(url + "/", timeout=1).status_code > 0,
    )


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key_id: str = "testing"
    secret_access_key: str = "testing"


@dataclass(frozen=True)
class AzureEndpoint:
    url: str  # the blob service URL, with the account

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={self.url};"
        )


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Endpoint]:
    emulator = start_moto()
    try:
        yield S3Endpoint(emulator.url)
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def moto_s3_strict() -> Iterator[S3Endpoint]:
    emulator = start_moto(strict=True)
    try:
        yield S3Endpoint(emulator.url)
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzureEndpoint]:
    emulator = start_azurite()
    try:
        yield AzureEndpoint(f"{emulator.url}/{AZURITE_ACCOUNT}")
    finally:
        emulator.stop()
