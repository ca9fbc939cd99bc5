"""Algorithm runs in the real bubblewrap sandbox for the sandbox's tests: fast limits, bundles made
from source text, staged inputs, and an autouse check (`nothing_of_the_sandbox_survives`) that
test modules import by name so no sandbox process outlives a test."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path

import pytest

from server.algorithms import Bundle, build_bundle, read_bundle
from server.datacage.sandbox import SandboxLimits, SandboxRun, run_algorithm

FIXTURES = Path(__file__).parents[1] / "fixtures"


# Small limits keep the suite fast; each test that needs others says so.
FAST = SandboxLimits(
    cpu_seconds=2,
    memory_bytes=256 << 20,
    wall_seconds=3.0,
    processes=16,
    output_bytes=1 << 20,
    log_bytes=64 << 10,
    tmp_bytes=8 << 20,
)


SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://example.org/t#> .
ex:S a sh:NodeShape ; sh:targetClass ex:Report .
"""


PEOPLE = {
    "person-1": [
        ("customers.ttl", "text/turtle", b'<#me> <http://schema.org/name> "Ada" .\n'),
        ("orders.csv", "text/csv", b"order,amount\n1,9.50\n2,3.00\n"),
    ],
    "person-2": [("orders.csv", "text/csv", b"order,amount\n7,1.25\n")],
}


def bundle_from(directory: Path) -> Bundle:
    return read_bundle(build_bundle(directory))


def make_bundle(root: Path, source: str, parameters: str = "") -> Bundle:
    """A one-module bundle (``algo:run``) written under ``root``."""
    root.mkdir(parents=True)
    (root / "shapes").mkdir()
    (root / "shapes" / "out.ttl").write_text(SHAPE)
    (root / "algo.py").write_text(textwrap.dedent(source))
    (root / "manifest.toml").write_text(
        textwrap.dedent(
            """\
            [algorithm]
            name = "sandbox-test"
            version = "1.0.0"
            description = "A test algorithm."
            entry_point = "algo:run"
            events = ["SANDBOX_TEST"]
            output_shape = "shapes/out.ttl"
            """
        )
        + textwrap.dedent(parameters)
    )
    return bundle_from(root)


def stage_inputs(inputs: Path, people: dict[str, list[tuple[str, str, bytes]]]) -> Path:
    """The layout of docs/algorithm-runtime.md, private (0700) as the job stages it."""
    inputs.mkdir(mode=0o700, parents=True)
    index = []
    for person, resources in people.items():
        (inputs / person).mkdir(mode=0o700)
        listed = []
        for number, (name, content_type, data) in enumerate(resources, start=1):
            (inputs / person / str(number)).write_bytes(data)
            listed.append(
                {"file": f"{person}/{number}", "name": name, "content_type": content_type}
            )
        index.append({"id": person, "resources": listed})
    (inputs / "index.json").write_text(json.dumps({"people": index}))
    return inputs


def tree(root: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every entry under ``root``: mode, owner and content, to compare before and after."""
    seen = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        data = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
        seen[str(path.relative_to(root))] = (info.st_mode, info.st_uid, data)
    return seen


#: Host uids a run (or an output-gate check) may lease (server.datacage.sandbox.ids).
SANDBOX_UIDS = range(2_000_000_000, 2_100_000_000)


def is_sandbox_uid(uid: int) -> bool:
    return uid in SANDBOX_UIDS


def sandbox_processes() -> list[tuple[int, int]]:
    """(pid, process group) of every process of a run's leased uid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if is_sandbox_uid(int(uid_line.split()[1])):  # the real uid
                found.append((int(entry), os.getpgid(int(entry))))
        except (OSError, StopIteration, ValueError):
            continue  # it ended while we looked
    return found


def run(
    bundle: Bundle,
    tmp_path: Path,
    parameters: dict | None = None,
    *,
    limits: SandboxLimits = FAST,
    people: dict | None = None,
    digest: str | None = None,
    on_progress=None,
) -> tuple[SandboxRun, Path]:
    work = tmp_path / "work"
    work.mkdir(mode=0o700, exist_ok=True)
    inputs = work / "input"
    if not inputs.exists():
        stage_inputs(inputs, PEOPLE if people is None else people)
    result = run_algorithm(
        bundle.files,
        bundle.digest if digest is None else digest,
        inputs,
        work / "output",
        parameters or {},
        limits=limits,
        work_dir=work,
        on_progress=on_progress,
    )
    return result, work / "output"


def leftovers(work: Path) -> list[str]:
    return sorted(p.name for p in work.iterdir() if p.name.startswith("sandbox-"))


@pytest.fixture(autouse=True)
def nothing_of_the_sandbox_survives():
    assert sandbox_processes() == [], "a sandbox process was running before the test"
    yield
    assert sandbox_processes() == [], "a sandbox process outlived its run"
