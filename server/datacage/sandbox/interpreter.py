"""The Python the sandbox runs, and the least of the host it needs to start.

The algorithm runs on the base interpreter of this server (never the virtual environment: its
packages are ours, not the algorithm's), with the standard library only. What it needs from
the host is found, not hard-coded: the executable, its libpython, the standard library, and
the folders of the shared libraries that they and the stdlib's extension modules link to (read
from ``ldd``). The stdlib's ``site-packages`` is masked, so no third-party code is reachable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Top-level links of a merged-/usr system, recreated inside so the ELF loader path
# (/lib64/ld-linux-x86-64.so.2) and library paths that ldd reports resolve.
_TOP_LEVEL_LINKS = ("/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True)
class Interpreter:
    executable: Path
    stdlib: Path  # also holds lib-dynload
    site_packages: Path  # inside stdlib; masked in the sandbox
    read_only: tuple[Path, ...]  # everything else to bind at its own path: libpython, lib dirs
    links: tuple[tuple[str, str], ...]  # (link, target) to recreate, e.g. ("/lib64", "usr/lib64")


@lru_cache(maxsize=1)
def host_interpreter() -> Interpreter:
    executable = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    stdlib = Path(os.path.realpath(sysconfig.get_paths(vars={"base": sys.base_prefix})["stdlib"]))
    binaries = [executable, *sorted((stdlib / "lib-dynload").glob("*.so"))]
    libraries, folders = _linked_libraries(binaries)
    # A library beside the stdlib (pyenv's libpython) is bound alone, not its whole folder.
    own = {lib for lib in libraries if lib.parent == stdlib.parent}
    folders.discard(stdlib.parent)
    links = tuple((link, os.readlink(link)) for link in _TOP_LEVEL_LINKS if os.path.islink(link))
    extra = [Path("/etc/ld.so.cache")] if os.path.exists("/etc/ld.so.cache") else []
    return Interpreter(
        executable=executable,
        stdlib=stdlib,
        site_packages=stdlib / "site-packages",
        read_only=tuple(sorted(folders | own)) + tuple(extra),
        links=links,
    )


def _linked_libraries(binaries: list[Path]) -> tuple[set[Path], set[Path]]:
    """Real paths of the shared libraries (and the loader) the binaries link to, and the real
    folders they are reached through (/lib64 is /usr/lib64, which links on to /usr/lib)."""
    result = subprocess.run(  # noqa: S603 - ldd on the interpreter's own files
        ["/usr/bin/ldd", *map(str, binaries)],
        capture_output=True,
        text=True,
        check=False,  # ldd exits 1 when one argument is not dynamic; the rest is still listed
        timeout=30,
    )
    found: set[Path] = set()
    folders: set[Path] = set()
    for line in result.stdout.splitlines():
        for word in line.split():
            if word.startswith("/") and not word.endswith(":"):
                real = Path(os.path.realpath(word))
                found.add(real)
                folders.update({real.parent, Path(os.path.realpath(Path(word).parent))})
    return found, folders
