"""pyproject.toml says what the code imports: every third-party import of the product's
packages is a declared distribution, and every main dependency is imported somewhere."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("server", "connectors", "vocab", "datacage_sdk", "datafuse")
#: Extras that are not the product's: what the tests and the benchmarks need.
NOT_THE_PRODUCT = {"test", "bench"}


def _name(requirement: str) -> str:
    bare = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


@cache
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared() -> dict[str, str]:
    """Each declared distribution and where: "dependencies" or the extra's name."""
    found = {_name(r): "dependencies" for r in project()["dependencies"]}
    for extra, requirements in project()["optional-dependencies"].items():
        if extra in NOT_THE_PRODUCT:
            continue
        for requirement in requirements:
            if not _name(requirement).startswith("datacage"):
                found.setdefault(_name(requirement), extra)
    return found


@cache
def third_party_imports() -> dict[str, set[str]]:
    """Each imported module name outside the standard library and ours, with its files."""
    found: dict[str, set[str]] = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in PRODUCT:
                        continue
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


@cache
def _providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@cache
def distributions_of(module: str) -> set[str]:
    """The installed distributions that provide `module` (namespace packages such as
    `azure` are shared by several: the one holding the module's own files is the answer)."""
    top = module.split(".")[0]
    candidates = _providers().get(top, [])
    if len(candidates) > 1:
        prefix = module.replace(".", "/")
        owning = [
            name
            for name in candidates
            if any(str(file).startswith(prefix) for file in importlib.metadata.files(name) or ())
        ]
        candidates = owning or candidates
    return {_name(name) for name in candidates}


def test_every_third_party_import_is_declared() -> None:
    names = declared()
    undeclared = {}
    for module, files in third_party_imports().items():
        providers = distributions_of(module)
        assert providers, f"{module} (imported by {sorted(files)}) is not installed"
        if not providers & names.keys():
            undeclared[module] = (sorted(providers), sorted(files)[:3])
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_every_main_dependency_is_imported() -> None:
    imported = {name for module in third_party_imports() for name in distributions_of(module)}
    unused = sorted(
        name for name, where in declared().items() if where == "dependencies"
        and name not in imported
    )  # fmt: skip
    assert not unused, f"declared in dependencies but never imported: {unused}"


def test_the_worker_extra_is_apart_and_installed_by_make() -> None:
    extras = project()["optional-dependencies"]
    main = {_name(r) for r in project()["dependencies"]}
    assert "opendp" in {_name(r) for r in extras["worker"]}
    assert not main & {_name(r) for r in extras["worker"]}
    # `make test` and `make run` install `.[test]`, which must bring the worker along.
    assert "worker" in re.search(r"datacage\[([^\]]*)\]", " ".join(extras["test"])).group(1)
    assert "-e '.[test]'" in (ROOT / "Makefile").read_text()


def test_cryptography_is_bounded_where_the_hpke_api_lives() -> None:
    [requirement] = [r for r in project()["dependencies"] if _name(r) == "cryptography"]
    assert ">=49" in requirement
    assert "<" in requirement.replace("<=", "")
