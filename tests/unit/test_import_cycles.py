"""No import cycles among our packages, at any level: the cycles once broken stay broken.

The graph is grimp's: every import statement, including those inside functions and under
`if TYPE_CHECKING:`, since a cycle hidden in a function or a type hint is still two modules
that cannot be understood (or moved) one without the other. At every package, its children
(sub-packages squashed with everything under them) must form no cycle; a package's own
`__init__` re-exporting its children is not a cycle among them.
"""

from __future__ import annotations

import re
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("server", "connectors", "vocab", "datacage_sdk", "datafuse")

#: Imports that close a cycle, known and not yet removed, each with why it is left. The check
#: runs without them: any other cycle fails it, and so does one of these once it is gone (then
#: take it out of here).
KNOWN: dict[tuple[str, str], str] = {
    ("server.algorithms.shape", "server.datacage.gate.checker.unsafe"): (
        "Registration refuses an output shape the gate would refuse, with the gate's own "
        "checks; they live in the gate's checker because that package is bound alone into the "
        "gate's sandbox (server/datacage/gate/isolation.py) and may import nothing of the server."
    ),
    ("server.registry.base", "server.registry.counters"): (
        "Registry.write_counted's default turns counter deltas into SPARQL updates "
        "(counters.increments), and the counters read through a Registry."
    ),
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*OURS)


def _child(parent: str, module: str) -> str | None:
    if not module.startswith(parent + "."):
        return None
    return parent + "." + module[len(parent) + 1 :].split(".")[0]


def _cycles(nodes: list[str], edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one node (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def cycles_in(
    graph: grimp.ImportGraph, ignored: frozenset[tuple[str, str]] = frozenset()
) -> dict[frozenset[str], list[str]]:
    """Every cycle among the children of any of our packages (or among our top packages),
    with the imports that make it; the `ignored` imports (importer, imported) left out."""
    found: dict[frozenset[str], list[str]] = {}
    parents = [m for m in graph.modules if graph.find_children(m)]
    levels = [(p, sorted(graph.find_children(p))) for p in parents] + [("", list(OURS))]
    for parent, children in levels:
        edges: dict[str, set[str]] = {}
        why: dict[tuple[str, str], str] = {}
        for module in graph.modules:
            here = _child(parent, module) if parent else module.split(".")[0]
            if here is None:
                continue
            for imported in graph.find_modules_directly_imported_by(module):
                if (module, imported) in ignored:
                    continue
                there = _child(parent, imported) if parent else imported.split(".")[0]
                if there and there != here:
                    edges.setdefault(here, set()).add(there)
                    why.setdefault((here, there), f"{module} imports {imported}")
        for cycle in _cycles(children, edges):
            found[cycle] = sorted(w for (a, b), w in why.items() if a in cycle and b in cycle)
    return found


def test_no_import_cycles_among_our_packages(graph):
    found = cycles_in(graph, frozenset(KNOWN))
    cycles = {sorted(c)[0]: imports for c, imports in found.items()}
    assert cycles == {}, "import cycles (each with the imports that close it)"


def test_each_known_cycle_is_still_there(graph):
    for importer, imported in KNOWN:
        assert graph.direct_import_exists(importer=importer, imported=imported), (
            f"{importer} no longer imports {imported}: take it out of KNOWN"
        )
        others = frozenset(KNOWN) - {(importer, imported)}
        assert cycles_in(graph, others), f"{importer} -> {imported} closes no cycle any more"


def test_the_check_sees_a_cycle_hidden_in_a_function_or_a_type_hint():
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b", line_number=1, line_contents="x")
    graph.add_import(importer="pkg.b", imported="pkg.a", line_number=9, line_contents="x")
    graph.add_import(importer="pkg", imported="pkg.c", line_number=1, line_contents="x")
    graph.add_import(importer="pkg.c", imported="pkg", line_number=1, line_contents="x")
    assert set(cycles_in(graph)) == {frozenset({"pkg.a", "pkg.b"})}


_ISSUE = re.compile(r"\b[Ii]ssues?\s+#?\d+")


def test_no_comment_cites_an_issue_of_a_tracker_not_in_the_repository():
    """A reader cannot look up "issue 6": a comment says the reason itself."""
    cited = []
    suffixes = {".py", ".ttl", ".html", ".toml", ".yaml", ".yml", ".cjs", ".js", ".css", ".sh"}
    suffixes |= {".md", ".cfg", ".ini", ".json"}
    files = [ROOT / name for name in ("Makefile", "README.md", ".importlinter", "pyproject.toml")]
    for folder in (*OURS, "tests", "bench", "docker", "docs"):
        files += [p for p in sorted((ROOT / folder).rglob("*")) if p.suffix in suffixes]
    for path in files:
        if path.name == Path(__file__).name or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if _ISSUE.search(line):
                cited.append(f"{path.relative_to(ROOT)}:{number}")
    assert cited == []
