"""Test modules share fixtures through conftest.py and tests/support, never through each other:
importing a test module runs its tests' collection twice and hides where a fixture lives."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
TEST_MODULE = re.compile(r"^tests\.(unit|integration|browser)\.test_")


def imports_of_test_modules(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found += [
                f"{path.relative_to(root.parent)}:{node.lineno} imports {name}"
                for name in names
                if TEST_MODULE.match(name)
            ]
    return found


def test_no_test_module_imports_another() -> None:
    assert imports_of_test_modules(TESTS) == []


def test_the_check_sees_both_spellings(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text(
        "from tests.unit.test_api import app\nimport tests.integration.test_sandbox\n"
    )
    assert len(imports_of_test_modules(tmp_path)) == 2
