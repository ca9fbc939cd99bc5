"""The bundle's Python code: parsed to check the manifest's claims, never imported or run.

Parsing is enough to prove that the entry point exists and can be called with the run context,
and it cannot execute anything. Files must be UTF-8 and may not declare another encoding:
the source participants review must be the source Python will run, and a coding cookie
(``# coding: utf-7``) would let the two differ.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Mapping

from server.algorithms.limits import BundleLimits, describe_size
from server.algorithms.paths import MANIFEST_PATH, sort_key

_UTF8 = ("utf-8", "utf-8-sig")
_Function = ast.FunctionDef | ast.AsyncFunctionDef


def check_python(
    files: Mapping[str, bytes], limits: BundleLimits
) -> tuple[dict[str, ast.Module], list[str]]:
    """Parse every ``.py`` file; return the syntax trees of those that parse, and the problems."""
    sources = {path: content for path, content in files.items() if path.endswith(".py")}
    total = sum(map(len, sources.values()))
    if total > limits.max_python_bytes:
        limit = describe_size(limits.max_python_bytes)
        return {}, [
            f"The bundle's Python files add up to {describe_size(total)}; the limit is {limit}."
        ]
    modules: dict[str, ast.Module] = {}
    problems: list[str] = []
    for path in sorted(sources, key=sort_key):
        module = _parse(path, sources[path], problems)
        if module is not None:
            modules[path] = module
    return modules, problems


def _parse(path: str, content: bytes, problems: list[str]) -> ast.Module | None:
    try:
        text = content.decode("utf-8-sig")
        encoding, _ = tokenize.detect_encoding(io.BytesIO(content).readline)
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        byte = content[error.start]
        problems.append(f"{path}:{line}: not UTF-8 (byte 0x{byte:02x}); save the file as UTF-8.")
        return None
    except SyntaxError as error:  # detect_encoding: an unknown or contradictory cookie
        problems.append(f"{path}:{error.lineno or 1}: {error.msg}")
        return None
    if encoding not in _UTF8:
        problems.append(f"{path}: declares the encoding {encoding!r}; use UTF-8 (or no cookie).")
        return None
    if "\0" in text:  # Python refuses NUL bytes in source, but its message has no line number
        line = text[: text.index("\0")].count("\n") + 1
        problems.append(f"{path}:{line}: source code cannot contain NUL bytes")
        return None
    try:
        return ast.parse(text, filename=path)
    except SyntaxError as error:
        problems.append(f"{path}:{error.lineno or 1}: {error.msg}")
    except (RecursionError, MemoryError):
        problems.append(f"{path}: the code is nested too deeply to be checked.")
    return None


def check_entry_point(
    entry_point: str, files: Mapping[str, bytes], modules: Mapping[str, ast.Module]
) -> list[str]:
    """Problems with ``module:function``: the module must be in the bundle and define the
    function at its top level, callable with the run context as its only argument."""
    module, _, function = entry_point.partition(":")
    base = module.replace(".", "/")
    # Python prefers a package to a module of the same name, so look for the package first.
    candidates = (f"{base}/__init__.py", f"{base}.py")
    path = next((candidate for candidate in candidates if candidate in files), None)
    if path is None:
        return [
            f"{MANIFEST_PATH}: entry_point {entry_point!r} names the module {module!r}, "
            f"but the bundle has neither {candidates[1]} nor {candidates[0]}."
        ]
    tree = modules.get(path)
    if tree is None:
        return []  # it does not parse, and that is already reported
    definitions = [node for node in tree.body if isinstance(node, _Function)]
    named = [node for node in definitions if node.name == function]
    if not named:
        others = sorted({node.name for node in definitions})
        found = f" (it defines {', '.join(others)})" if others else ""
        return [
            f"{path} has no top-level function {function!r}{found}, "
            f"but {MANIFEST_PATH} names it as the entry_point {entry_point!r}."
        ]
    return _signature_problems(path, named[-1])  # the last definition is the one Python keeps


def _signature_problems(path: str, function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    where = f"{path}:{function.lineno}: {function.name}()"
    if not positional and args.vararg is None:
        return [
            f"{where} must take the run context as its first positional argument, "
            f"like 'def {function.name}(ctx):'."
        ]
    problems = []
    # Defaults belong to the last positional parameters; the first one is the context.
    needed = [arg.arg for arg in positional[1 : len(positional) - len(args.defaults)]]
    needed += [
        arg.arg
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if default is None
    ]
    if needed:
        problems.append(
            f"{where} is called with the run context only, so {', '.join(needed)} "
            "must have default values."
        )
    return problems
