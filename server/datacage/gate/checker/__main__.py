"""The gate's sandboxed process: one request on stdin, the refusals on stdout, then it ends.

It imports what it checks with first and says ``{"ready": true}``, then reads its one request.
The request (JSON) holds the shapes graph (N-Triples) and its prefixes, the output files' text,
the space's k and the number of people the run read. The answer is JSON lines: ``{"parsed":
true}`` once the output parsed (the server parses the same bytes only after that, so a
pathological file costs the sandbox its wall clock, not the server), then ``{"refusals":
[...]}``. Out of memory it exits with :data:`OUT_OF_MEMORY` instead.
"""

from __future__ import annotations

import json
import os
import sys

OUT_OF_MEMORY = 3


def _say(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    try:
        # Imported before the request is read: the sandbox may be started while the
        # algorithm still runs, and then rdflib and pySHACL are ready when its output is.
        from .check import check_request

        _say({"ready": True})
        request = json.load(sys.stdin)
        check_request(request, _say)
    except MemoryError:
        os._exit(OUT_OF_MEMORY)
    sys.stdout.flush()
    os._exit(0)  # threads or finalisers of the libraries must not keep the sandbox alive


if __name__ == "__main__":
    main()
