"""The sandbox that runs an approved algorithm on the staged inputs of one job.

One function, :func:`run_algorithm`: it recomputes the bundle's digest and refuses anything
but the approved bundle, then runs the entry point under bubblewrap as an unprivileged user, in
fresh namespaces (no network), on a read-only file system that holds only the interpreter, the
bundle, the inputs and an output folder, with a seccomp filter and resource limits, and a wall
clock that kills the whole sandbox. The contract for code providers and what the isolation does
and does not protect against: docs/algorithm-runtime.md.
"""

from .model import Outcome, SandboxLimits, SandboxRun
from .runner import run_algorithm
from .workspace import wipe

__all__ = ["Outcome", "SandboxLimits", "SandboxRun", "run_algorithm", "wipe"]
