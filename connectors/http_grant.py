"""Reading a granted object over HTTPS with no SDK: S3 presigned URLs and Azure SAS URLs.

Both are plain GETs of a URL that carries its own read-only, object-scoped credential, so the
datacage needs neither boto3 nor azure-storage-blob, and never holds a provider's keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO
from urllib.parse import urlsplit

import requests

from .base import ConnectorError
from .egress import default_policy


def describe(url: str) -> str:
    """The URL without its query (the query is the credential): safe to show and log."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def session_of(solid_client: object) -> requests.Session | None:
    """The egress-policed session of the datacage's own Solid client, when one is given."""
    http = getattr(getattr(solid_client, "session", None), "http", None)
    return getattr(http, "session", None)


@contextmanager
def open_url(
    grant: Mapping[str, str],
    what: str,
    *,
    timeout: float = 30.0,
    session: requests.Session | None = None,
) -> Iterator[tuple[BinaryIO, int | None]]:
    """Stream the granted URL through the egress policy (`session`, or this process's own):
    a grant is a URL a provider chose, so it must not reach the datacage's own network."""
    url = grant.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise ConnectorError(f"The {what} read grant has no http(s) URL.")
    try:
        response = (session or default_policy().session()).get(url, stream=True, timeout=timeout)
    except requests.RequestException:
        # One message whatever failed: a grant must not tell a closed port from a slow one.
        raise ConnectorError(
            f"The {what} object at {describe(url)} could not be reached."
        ) from None
    try:
        if response.status_code in (401, 403):
            raise ConnectorError(
                f"The read grant for {describe(url)} was refused ({response.status_code}): it "
                "has expired or was revoked; the provider must push or grant again."
            )
        if response.status_code == 404:
            raise ConnectorError(f"There is no object at {describe(url)} any more (404).")
        if response.status_code >= 300:
            raise ConnectorError(
                f"Reading {describe(url)} failed with HTTP {response.status_code}."
            )
        size = response.headers.get("Content-Length")
        response.raw.decode_content = True
        yield response.raw, int(size) if size and size.isdigit() else None
    finally:
        response.close()
