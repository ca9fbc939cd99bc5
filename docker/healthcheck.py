"""Container health checks with the standard library only (the images carry no curl or wget).

    datacage-healthcheck http URL [--expect STATUS]    a GET answers with STATUS (default 200)
    datacage-healthcheck heartbeat FILE [--max-age S]  the worker's loop ran in the last S seconds

Exit status 0 means healthy, 1 unhealthy; the one line printed is what `docker inspect` shows
as the reason. It imports nothing of ours, so a check costs a bare interpreter start.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence


def check_http(url: str, expect: int, timeout: float) -> str:
    """The reason `url` is unhealthy, or '' when a GET answers with `expect`."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url}"
    try:
        # The URL comes from the image's own HEALTHCHECK line, never from a request.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:  # a refusal can be the healthy answer (admission)
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        return f"{url} did not answer: {getattr(error, 'reason', error)}"
    return "" if status == expect else f"{url} answered {status}, expected {expect}"


def check_heartbeat(path: str, max_age: float, now: float) -> str:
    """The reason the heartbeat file is unhealthy, or '' when it is younger than `max_age`."""
    try:
        age = now - os.stat(path).st_mtime
    except FileNotFoundError:
        return f"no heartbeat yet at {path}: the worker has not reached the control plane"
    except OSError as error:
        return f"cannot read the heartbeat {path}: {error.strerror}"
    if age > max_age:
        return f"the worker's last heartbeat is {age:.0f} s old (more than {max_age:.0f} s)"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="datacage-healthcheck", description=__doc__)
    kinds = parser.add_subparsers(dest="kind", required=True)
    http = kinds.add_parser("http", help="a GET answers with the expected status")
    http.add_argument("url")
    http.add_argument("--expect", type=int, default=200)
    http.add_argument("--timeout", type=float, default=5.0)
    beat = kinds.add_parser("heartbeat", help="the worker's loop ran recently")
    beat.add_argument("file")
    beat.add_argument("--max-age", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.kind == "http":
        problem = check_http(args.url, args.expect, args.timeout)
    else:
        problem = check_heartbeat(args.file, args.max_age, time.time())
    print(problem or "healthy")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
