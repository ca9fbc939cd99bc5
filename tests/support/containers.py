"""Building and running docker/'s images for real, with whichever container engine is here.

Docker where its daemon answers; otherwise Podman without a daemon (`podman build
--isolation=chroot`, `podman --runtime runc run`: the default crun fails on these machines'
hybrid cgroups). No image registry is reachable from the test machines, so the images are
built on a Debian bookworm base made locally with mmdebstrap from the Debian mirror, passed
to each Dockerfile as its BASE_IMAGE. The base is made once per machine: its tarball is kept
in a folder keyed by its recipe (change the recipe, get a new folder) and imported into the
engine under a tag carrying the same key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.docker_files import DOCKERFILES, ROOT

# What every Dockerfile's stages need from a base, from Debian packages: Python 3.11 and its
# venv (control plane, datacage), node (CSS: bookworm's nodejs 18, which CSS 7.2 accepts), and
# what the official images bring or the Dockerfiles install (passwd for useradd, bubblewrap
# and libseccomp2 for the sandbox, nginx, gettext-base and wget for the nginx image). Not
# Debian's npm: it pulls some 350 packages into every image; the CSS build stage fetches npm
# itself (docker/css.Dockerfile).
BASE_PACKAGES = (
    "python3", "python3-venv", "ca-certificates", "nodejs", "nginx", "gettext-base",
    "bubblewrap", "libseccomp2", "passwd", "wget",
)  # fmt: skip
BASE_SUITE = "bookworm"
# The host's CA bundle goes into the base: the test machines reach PyPI and npm through a
# proxy whose CA only the host's bundle carries. Operators' official bases need nothing.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Explicit limits: runc cannot raise the engine's defaults here. The images' HEALTHCHECKs are
# the engine's to schedule (Podman through systemd timers, absent here): the tests run them.
RUN_OPTIONS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--no-healthcheck"]


def _recipe() -> str:
    ca = HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.exists() else b""
    text = json.dumps([BASE_SUITE, "minbase", BASE_PACKAGES, hashlib.sha256(ca).hexdigest()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "datacage-tests" / "container-base"


@dataclass
class Engine:
    """One container engine's command line, with what this machine needs to run it."""

    name: str
    build_options: list[str] = field(default_factory=list)
    global_options: list[str] = field(default_factory=list)
    # compose's `systempaths=unconfined` (an unmasked /proc, which bwrap's --proc needs).
    unmasked_proc: str = "systempaths=unconfined"

    def command(self, *words: str) -> list[str]:
        return [self.name, *self.global_options, *words]

    def run(self, *words: str, timeout: float = 600, check: bool = True) -> str:
        result = subprocess.run(
            self.command(*words), capture_output=True, text=True, check=False, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(self.command(*words))}: {result.stderr[-3000:]}")
        return result.stdout

    def image_exists(self, tag: str) -> bool:
        return (
            subprocess.run(
                self.command("image", "inspect", tag), capture_output=True, check=False
            ).returncode
            == 0
        )

    def image_size(self, tag: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", tag).strip())


def available_engines() -> dict[str, Engine | str]:
    """Each engine by name: an Engine where it works here, else why not (for the skip)."""
    found: dict[str, Engine | str] = {}
    if shutil.which("docker") is None:
        found["docker"] = "no docker CLI on this machine"
    elif subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        found["docker"] = "the docker CLI is here but no Docker daemon answers `docker info`"
    else:
        found["docker"] = Engine("docker")
    missing = [tool for tool in ("podman", "runc") if shutil.which(tool) is None]
    if missing:
        found["podman"] = f"not installed: {', '.join(missing)} (`make setup` installs them)"
    else:
        found["podman"] = Engine(
            "podman", build_options=["--isolation=chroot", "--format", "docker", "--pull=never"],
            global_options=["--runtime", "runc"], unmasked_proc="unmask=ALL",
        )  # fmt: skip
    return found


def engine_params(engines: dict[str, Engine | str]) -> list:
    """The engines as fixture parameters; Docker's is marked `docker_daemon`, the one kind of
    test allowed to skip (tests/support/skip_rule.py): this test bed has no Docker daemon."""
    return [
        pytest.param(name, marks=pytest.mark.docker_daemon) if name == "docker" else name
        for name in sorted(engines)
    ]


def base_image(engine: Engine) -> str:
    """The locally made Debian base's tag in `engine`, made (or re-imported) when missing."""
    tag = f"localhost/datacage-test-base:{_recipe()}"
    if engine.image_exists(tag):
        return tag
    folder = cache_dir() / _recipe()
    tarball = folder / "base.tar"
    if not tarball.exists():
        if shutil.which("mmdebstrap") is None:
            raise RuntimeError("mmdebstrap is not installed (`make setup` installs it)")
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / "base.tar.partial"
        command = ["mmdebstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
        if HOST_CA_BUNDLE.exists():
            command.append(f"--customize-hook=copy-in {HOST_CA_BUNDLE} /etc/ssl/certs/")
        command += ["--format=tar", BASE_SUITE, str(partial)]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1500)
        if result.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed: {result.stderr[-3000:]}")
        partial.rename(tarball)  # only a whole tarball is ever kept
    engine.run("import", str(tarball), tag)
    return tag


@dataclass
class Built:
    """An image built for the tests: its tag and what building it cost."""

    tag: str
    seconds: float
    size: int


_SESSION_IMAGES: dict[str, dict[str, Built]] = {}


def session_images(engine: Engine) -> dict[str, Built]:
    """Every image of docker/, built once per engine and test session, on the local base:
    the image tests and the compose test share them (a second build would hit the layer
    cache, but still costs seconds per image)."""
    if engine.name not in _SESSION_IMAGES:
        base = base_image(engine)
        # Tagged with the base's recipe and this checkout: test runs of other checkouts on this
        # machine share the engine's storage, and must not retag each other's images mid-run.
        checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
        _SESSION_IMAGES[engine.name] = {
            name: build_image(engine, name, base, suffix=f"test-{_recipe()}-{checkout}")
            for name in sorted(DOCKERFILES)
        }
    return _SESSION_IMAGES[engine.name]


def build_image(engine: Engine, name: str, base: str, suffix: str = "test") -> Built:
    tag = f"localhost/datacage-{name}:{suffix}"
    started = time.monotonic()
    engine.run(
        "build", *engine.build_options, "--build-arg", f"BASE_IMAGE={base}",
        "-f", str(DOCKERFILES[name]), "-t", tag, str(ROOT), timeout=1700,
    )  # fmt: skip
    return Built(tag, time.monotonic() - started, engine.image_size(tag))


@contextlib.contextmanager
def container(engine: Engine, image: str, *options: str, command: list[str] | None = None
              ) -> Iterator[str]:  # fmt: skip
    """A detached container of `image`, removed on the way out whatever happened."""
    name = f"datacage-test-{uuid.uuid4().hex[:10]}"
    engine.run("run", "-d", "--name", name, *RUN_OPTIONS, *options, image, *(command or []))
    try:
        yield name
    finally:
        # `-v`: the container's anonymous volumes go with it. (Podman alone knows `-t`.)
        wait = ["-t", "2"] if engine.name == "podman" else []
        subprocess.run(engine.command("rm", "-f", "-v", *wait, name), capture_output=True)


def run_once(engine: Engine, image: str, *options: str, command: list[str]) -> str:
    """`command` in a fresh container of `image`, removed afterwards; its standard output."""
    return engine.run("run", "--rm", *RUN_OPTIONS, *options, image, *command)


def logs(engine: Engine, name: str) -> str:
    result = subprocess.run(
        engine.command("logs", name), capture_output=True, text=True, check=False
    )
    return (result.stdout + result.stderr)[-3000:]


def report(request: pytest.FixtureRequest, line: str) -> None:
    """A line in the test output whatever pytest captures (the figures are the point)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)
