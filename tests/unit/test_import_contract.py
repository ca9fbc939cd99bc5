"""The import contract (`.importlinter`, drawn in docs/architecture.md) holds: connectors use
only vocab; vocab, datacage_sdk and datafuse use nothing of ours; the control plane never
imports the data plane; the data plane takes from the control plane only the job's wire types.
Every exception is named in `.importlinter`, and one that no longer matches fails too."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]

# In a child process: import-linter sets up logging of its own, which would silence the
# loggers that later tests in this process read.
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"
)


def test_the_import_contract_holds():
    # root_packages are found from the repository root
    done = subprocess.run(
        [sys.executable, "-c", LINT, str(ROOT / ".importlinter")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# The contracts above forbid what is listed; the two below allow only what is listed, so a
# package added to either plane later is covered without anyone remembering to list it.
OURS = ("server", "connectors", "vocab", "datacage_sdk", "datafuse")
DATA_PLANE = ("server.datacage", "server.fleet")
#: Libraries of the server that belong to neither plane (docs/architecture.md): the enclave's
#: attestation and keys, the signed provenance of a result, the algorithm bundle's reading and
#: checks, the domain errors, the log format and writing a private file whole.
SHARED = (
    "server.attestation",
    "server.provenance",
    "server.algorithms",
    "server.errors",
    "server.logs",
    "server.private_files",
)
PROTOCOL = "server.protocol"


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _named_exceptions() -> set[tuple[str, str]]:
    """The data-plane contract's ignore_imports: imports named, each with its reason."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    lines = config["importlinter:contract:data-plane"].get("ignore_imports", "").splitlines()
    pairs = (line.split("->") for line in lines if "->" in line and not line.startswith("#"))
    return {(a.strip(), b.strip()) for a, b in pairs}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*OURS)


def test_the_data_plane_takes_from_the_control_plane_only_the_job_protocol(graph):
    named = _named_exceptions()
    crossings = sorted(
        (module, imported)
        for module in graph.modules
        if _under(module, DATA_PLANE)
        for imported in graph.find_modules_directly_imported_by(module)
        if _under(imported, ("server",))
        and not _under(imported, (*DATA_PLANE, PROTOCOL, *SHARED))
        and (module, imported) not in named
    )
    assert crossings == [], "the data plane imports the control plane outside server.protocol"


def test_the_job_protocol_imports_nothing_of_ours_but_vocab(graph):
    imports = sorted(
        (module, imported)
        for module in graph.modules
        if _under(module, (PROTOCOL,))
        for imported in graph.find_modules_directly_imported_by(module)
        if not _under(imported, (PROTOCOL, "vocab"))
    )
    assert imports == [], "server.protocol is pure data: it may import only vocab of ours"
