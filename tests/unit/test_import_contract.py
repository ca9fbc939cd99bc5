"""The import contract (`.importlinter`, drawn in docs/architecture.md) holds: connectors use
only vocab; vocab, datacage_sdk and datafuse use nothing of ours; the control plane never
imports the data plane; the data plane takes from the control plane only the job's wire types.
Every exception is named in `.importlinter`, and one that no longer matches fails too."""

from __future__ import annotations

import os
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contract_holds(capsys):
    here = Path.cwd()
    os.chdir(ROOT)  # root_packages are found from the repository root
    try:
        code = lint_imports(
            config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True
        )
    finally:
        os.chdir(here)
    assert code == 0, capsys.readouterr().out
