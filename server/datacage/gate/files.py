"""Reading the output folder, which the algorithm wrote and so is treated as hostile.

Only regular files directly in the folder, named ``*.ttl``: no symbolic links (every look is
``lstat`` and every open ``O_NOFOLLOW``, relative to a descriptor of the folder, so a link
swapped in between cannot redirect a read), no subfolders, no devices or pipes (``O_NONBLOCK``,
so a pipe swapped in cannot hang the gate), no hard links to other files. The total size is
checked from ``lstat`` before anything is read, and again while reading, in case a file grew.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph

from server.algorithms.limits import describe_size
from server.algorithms.shape import SHAPE_BASE

_BAD_SYNTAX = re.compile(r"at line (\d+) of <[^>]*>:\s*Bad syntax \((.*?)\) at \^", re.DOTALL)


@dataclass
class OutputFiles:
    contents: dict[str, bytes]  # name -> bytes, in name order
    size: int  # the sum of the regular files' sizes as found
    problems: list[str]


def read_output(output_dir: Path, max_bytes: int) -> OutputFiles:
    found = OutputFiles({}, 0, [])
    try:
        folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        found.problems.append("The output folder cannot be opened: there is no result to check.")
        return found
    try:
        names = sorted(os.listdir(folder))
        sizes = _plain_files(folder, names, found.problems)
        found.size = sum(sizes.values())
        if found.size > max_bytes:
            found.problems.append(
                f"The output is {describe_size(found.size)}, more than the "
                f"{describe_size(max_bytes)} a result may be; it was not read."
            )
        if not names and not found.problems:
            found.problems.append("The algorithm wrote no output: an empty result is refused.")
        if found.problems:
            return found
        budget = max_bytes
        for name in sizes:
            data = _read(folder, name, budget, found.problems)
            if data is None:
                return found
            budget -= len(data)
            found.contents[name] = data
        return found
    finally:
        os.close(folder)


def _plain_files(folder: int, names: list[str], problems: list[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name in names:
        shown = _shown(name)
        try:
            info = os.lstat(name, dir_fd=folder)
        except OSError:
            problems.append(f"{shown} changed while the output was being checked.")
            continue
        if stat.S_ISLNK(info.st_mode):
            problems.append(f"{shown} is a symbolic link; the output may hold only plain files.")
        elif stat.S_ISDIR(info.st_mode):
            problems.append(f"{shown} is a folder; the output may hold only files, not folders.")
        elif not stat.S_ISREG(info.st_mode):
            problems.append(f"{shown} is not a plain file (a device, pipe or socket).")
        elif not name.endswith(".ttl") or name == ".ttl":
            problems.append(f"{shown} is not a Turtle file: every output file is named *.ttl.")
        elif info.st_nlink != 1:
            problems.append(f"{shown} is a hard link to another file; write a file of its own.")
        else:
            sizes[name] = info.st_size
    return sizes


def _read(folder: int, name: str, budget: int, problems: list[str]) -> bytes | None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(name, flags, dir_fd=folder)
    except OSError:
        problems.append(f"{_shown(name)} changed while it was being read.")
        return None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            problems.append(f"{_shown(name)} changed while it was being read.")
            return None
        data = file.read(budget + 1)
    if len(data) > budget:
        problems.append("The output grew while it was being read, past the size a result may be.")
        return None
    return data


def parse_output(contents: dict[str, bytes], problems: list[str]) -> Graph:
    """All files in one graph. Relative IRIs resolve as in the shape: against `SHAPE_BASE`."""
    graph = Graph()
    for name, data in contents.items():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            problems.append(f"{_shown(name)}:{line}: not UTF-8, which Turtle requires.")
            continue
        try:
            graph.parse(data=text, format="turtle", publicID=SHAPE_BASE + name)
        except Exception as error:  # BadSyntax mostly; hostile input can raise other errors
            problems.append(_turtle_problem(_shown(name), error))
    return graph


def delete_output(output_dir: Path) -> None:
    """Removes everything in the folder (links themselves, never what they point to)."""
    try:
        folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return  # no folder, or a link in its place: there is nothing of ours to delete
    try:
        for name in os.listdir(folder):
            if stat.S_ISDIR(os.lstat(name, dir_fd=folder).st_mode):
                shutil.rmtree(name, dir_fd=folder)  # does not follow links (avoids_symlink_attacks)
            else:
                os.unlink(name, dir_fd=folder)
    finally:
        os.close(folder)


def _turtle_problem(name: str, error: Exception) -> str:
    match = _BAD_SYNTAX.search(str(error))
    if match:
        return f"{name}:{match.group(1)}: not valid Turtle: {' '.join(match.group(2).split())}."
    lines = str(error).strip().splitlines()
    return f"{name} is not valid Turtle: {lines[0] if lines else type(error).__name__}."


def _shown(name: str) -> str:
    """A file name as it may be shown: printable, not too long (the algorithm chose it)."""
    printable = "".join(c if c.isprintable() else "?" for c in name)
    return printable if len(printable) <= 80 else printable[:77] + "..."
