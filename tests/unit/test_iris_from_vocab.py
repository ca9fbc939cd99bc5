"""Every IRI comes from vocab/: no namespace is built, and no vocabulary IRI is typed, in the
server or the connectors. A test walks their code (docstrings and comments may cite IRIs)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vocab

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("server", "connectors")
#: W3C's namespace space: any IRI under it is a vocabulary term, declared in vocab/ or not.
W3C_NS = "http://www.w3.org/ns/"
#: Documents, not terms: the Solid-OIDC JSON-LD context a Client ID Document names.
NOT_TERMS = {"https://www.w3.org/ns/solid/oidc-context.jsonld"}
PREFIXES = sorted({str(namespace) for namespace in vocab.NAMESPACES.values()} | {W3C_NS})


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def findings(root: Path = ROOT) -> list[str]:
    found = []
    for package in CHECKED:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            docstrings = _docstrings(tree)
            where = path.relative_to(root)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                    if name == "Namespace":
                        found.append(f"{where}:{node.lineno}: builds a Namespace")
                elif (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings
                    and node.value not in NOT_TERMS
                ):
                    text = node.value
                    if any(prefix in text for prefix in PREFIXES):
                        found.append(f"{where}:{node.lineno}: types {text[:70]!r}")
    return found


def test_server_and_connectors_take_every_iri_from_vocab() -> None:
    assert findings() == []


@pytest.mark.parametrize(
    "source",
    [
        'from rdflib import Namespace\nACL = Namespace("http://www.w3.org/ns/auth/acl#")\n',
        'CONTAINS = "http://www.w3.org/ns/ldp#contains"\n',
        'def iri(mode):\n    return f"http://www.w3.org/ns/auth/acl#{mode}"\n',
    ],
)
def test_the_walk_sees_each_way_of_typing_an_iri(source: str, tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "connectors").mkdir()
    (tmp_path / "server" / "typed.py").write_text(source)
    assert findings(tmp_path)


def test_docstrings_may_cite_iris(tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "connectors").mkdir()
    cited = '"""Reads `http://www.w3.org/ns/ldp#contains` from a listing."""\n'
    (tmp_path / "connectors" / "cited.py").write_text(cited)
    assert findings(tmp_path) == []
