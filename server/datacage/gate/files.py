"""Reading the output folder, which the algorithm wrote and so is treated as hostile.

Only regular files directly in the folder, named ``*.ttl``: no symbolic links (every look is
``lstat`` and every open ``O_NOFOLLOW``, relative to a descriptor of the folder, so a link
swapped in between cannot redirect a read), no subfolders, no devices or pipes (``O_NONBLOCK``,
so a pipe swapped in cannot hang the gate), no hard links to other files. The total size is
checked from ``lstat`` before anything is read, and again while reading, in case a file grew.

Problems are fixed refusals that count entries, never naming them: the algorithm chose the
names, and a name in a refusal would carry out whatever it spelled.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections import Counter
from dataclasses import dataclass

from rdflib import Graph

from server.algorithms.shape import SHAPE_BASE

from .checker.check import parse_files
from .checker.refusal import GateRefusal


@dataclass
class OutputFiles:
    contents: dict[str, bytes]  # name -> bytes, in name order
    size: int  # the sum of the regular files' sizes as found
    refusals: list[GateRefusal]


def read_output(output_dir: os.PathLike[str] | str, max_bytes: int) -> OutputFiles:
    found = OutputFiles({}, 0, [])
    try:
        folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        found.refusals.append(GateRefusal("files/unreadable"))
        return found
    try:
        names = sorted(os.listdir(folder))
        sizes = _plain_files(folder, names, found.refusals)
        found.size = sum(sizes.values())
        if found.size > max_bytes:
            found.refusals.append(GateRefusal("files/too-large", limit=max_bytes))
        if not names and not found.refusals:
            found.refusals.append(GateRefusal("files/empty"))
        if found.refusals:
            return found
        budget = max_bytes
        for name in sizes:
            data = _read(folder, name, budget, found.refusals)
            if data is None:
                return found
            budget -= len(data)
            found.contents[name] = data
        return found
    finally:
        os.close(folder)


def _plain_files(folder: int, names: list[str], refusals: list[GateRefusal]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    odd: Counter[str] = Counter()
    for name in names:
        try:
            info = os.lstat(name, dir_fd=folder)
        except OSError:
            odd["files/changed"] += 1
            continue
        if not stat.S_ISREG(info.st_mode) or not name.endswith(".ttl") or name == ".ttl":
            odd["files/not-plain"] += 1
        elif info.st_nlink != 1:
            odd["files/hard-link"] += 1
        else:
            sizes[name] = info.st_size
    refusals += [GateRefusal(rule, None, count) for rule, count in sorted(odd.items())]
    return sizes


def _read(folder: int, name: str, budget: int, refusals: list[GateRefusal]) -> bytes | None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(name, flags, dir_fd=folder)
    except OSError:
        refusals.append(GateRefusal("files/changed"))
        return None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            refusals.append(GateRefusal("files/changed"))
            return None
        data = file.read(budget + 1)
    if len(data) > budget:
        refusals.append(GateRefusal("files/too-large", limit=budget))
        return None
    return data


def decode_output(contents: dict[str, bytes], refusals: list[GateRefusal]) -> list[list[str]]:
    """[name, text] of every file; Turtle is UTF-8, so a file that is not is refused."""
    texts, bad = [], 0
    for name, data in contents.items():
        try:
            texts.append([name, data.decode("utf-8")])
        except UnicodeDecodeError:
            bad += 1
    if bad:
        refusals.append(GateRefusal("turtle/not-utf8", None, bad))
    return texts


def parse_output(texts: list[list[str]], refusals: list[GateRefusal]) -> Graph:
    """All files in one graph. Relative IRIs resolve as in the shape: against `SHAPE_BASE`."""
    graph, bad = parse_files(texts, SHAPE_BASE)
    if bad:
        refusals.append(GateRefusal("turtle/syntax", None, bad))
    return graph


def delete_output(output_dir: os.PathLike[str] | str) -> None:
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
