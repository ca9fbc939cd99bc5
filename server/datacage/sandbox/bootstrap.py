"""Runs inside the sandbox: imports the approved algorithm from /bundle and calls it with ``ctx``.

Started as ``python -I -S -B /runtime/bootstrap.py`` with nothing but the standard library on
its path, because it shares a process with the participants' code and must not bring any of
ours along. It reads /runtime/run.json (entry point, parameters, the status descriptor) and
/input/index.json, and reports progress and its end to the datacage as JSON lines on the
status descriptor, never on stdout, which belongs to the algorithm's log. (A run file given
as the first argument, with other folders under "paths", runs it outside the sandbox: the
benchmark's baseline, never the datacage.)
"""

import contextlib
import importlib
import json
import os
import re
import signal
import sys
import traceback
import types
from pathlib import Path

BUNDLE, INPUT, OUTPUT = Path("/bundle"), Path("/input"), Path("/output")
# The SDK's packages, bound read-only by the datacage (server/datacage/sandbox/libraries.py).
SDK_PATH = "/usr/lib/datacage/python"
_RESULT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_MESSAGE_CHARS = 2000


class Resource:
    """One file a person shared, as staged in /input."""

    def __init__(self, name, content_type, path):
        self.name, self.content_type, self.path = name, content_type, path

    def read_bytes(self):
        return self.path.read_bytes()

    def read_text(self, encoding="utf-8"):
        return self.path.read_text(encoding=encoding)

    def __repr__(self):
        return f"Resource({self.name!r}, {self.content_type!r})"


class Person:
    def __init__(self, id, resources):
        self.id, self.resources = id, resources

    def __repr__(self):
        return f"Person({self.id!r}, {len(self.resources)} resources)"


class Context:
    """What the algorithm gets: its parameters, the people's resources and a place to write."""

    def __init__(self, parameters, people, status):
        self.parameters = parameters
        self.people = people
        self.inputs = {person.id: person.resources for person in people}
        self.output_dir = OUTPUT
        self.input_dir, self.bundle_dir = INPUT, BUNDLE  # for the SDK: datasets, manifest
        self._status = status
        self._last = None

    def write_result(self, turtle_text, name="result.ttl"):
        if not isinstance(turtle_text, str):
            raise TypeError("write_result takes the Turtle text as a str")
        if not _RESULT_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a plain file name for /output")
        path = OUTPUT / name
        path.write_text(turtle_text, encoding="utf-8")
        return path

    def log(self, message):
        print(str(message), file=sys.stderr, flush=True)

    def progress(self, fraction):
        fraction = min(1.0, max(0.0, float(fraction)))
        if fraction != self._last:  # a tight loop reporting the same value costs nothing
            self._last = fraction
            _send(self._status, {"progress": fraction})


def _send(status, message):
    try:
        status.write(json.dumps(message) + "\n")
        status.flush()
    except (OSError, ValueError):
        pass  # the algorithm closed it; its outcome is still told by the exit status


def _people():
    index = json.loads((INPUT / "index.json").read_text(encoding="utf-8"))
    people = []
    for person in index["people"]:
        resources = []
        for item in person["resources"]:
            path = (INPUT / item["file"]).resolve()
            if INPUT not in path.parents:
                raise ValueError(f"index.json names a file outside /input: {item['file']!r}")
            resources.append(Resource(item["name"], item["content_type"], path))
        people.append(Person(person["id"], resources))
    return people


def _entry(entry_point):
    module_name, _, function_name = entry_point.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def main():
    global BUNDLE, INPUT, OUTPUT
    run_file = sys.argv[1] if len(sys.argv) > 1 else "/runtime/run.json"
    run = json.loads(Path(run_file).read_text(encoding="utf-8"))
    paths = run.get("paths", {})
    BUNDLE = Path(paths.get("bundle", BUNDLE))
    INPUT = Path(paths.get("input", INPUT))
    OUTPUT = Path(paths.get("output", OUTPUT))
    status = os.fdopen(run["status_fd"], "w", encoding="utf-8")
    os.set_inheritable(status.fileno(), False)  # the algorithm's own children do not get it
    # This process is pid 1 of the sandbox, and the kernel does not deliver a signal to pid 1
    # that has no handler: without this, the CPU soft limit would pass unnoticed.
    signal.signal(signal.SIGXCPU, lambda number, _: _cpu_limit(status, number))
    sys.path.insert(0, str(BUNDLE))
    sys.path.append(paths.get("sdk", SDK_PATH))
    sys.stdout.reconfigure(line_buffering=True)  # keep print() and ctx.log() in order in the log
    try:
        ctx = Context(run["parameters"], _people(), status)
        function = _entry(run["entry_point"])
        result = function(ctx)
        # An async def entry point (what inspect.iscoroutine checks: importing inspect would
        # cost every run several milliseconds of start-up).
        if isinstance(result, types.CoroutineType):
            import asyncio  # only then: it takes longer to import than a trivial run

            result = asyncio.run(result)
        if isinstance(result, str):
            ctx.write_result(result)
        elif result is not None:
            ctx.log(f"(the {type(result).__name__} it returned was not written: return Turtle)")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if code:
            _send(status, {"error": {"type": "SystemExit", "message": f"exit status {code}"}})
        _finish(code)
    except BaseException as error:  # all of it is the algorithm's to report
        traceback.print_exc()
        message = str(error)[:_MESSAGE_CHARS]
        _send(status, {"error": {"type": type(error).__name__, "message": message}})
        _finish(1)
    _send(status, {"done": True})
    _finish(0)


def _cpu_limit(status, number):
    _send(status, {"error": {"type": "CpuLimit", "message": "out of CPU time"}})
    _finish(128 + number)


def _finish(code):
    # os._exit: threads the algorithm left running must not keep the sandbox alive.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
