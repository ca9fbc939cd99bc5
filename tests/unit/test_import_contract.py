"""The import contract (`.importlinter`, drawn in docs/architecture.md) holds: connectors use
only vocab; vocab, datacage_sdk and datafuse use nothing of ours; the control plane never
imports the data plane; the data plane takes from the control plane only the job's wire types.
Every exception is named in `.importlinter`, and one that no longer matches fails too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
