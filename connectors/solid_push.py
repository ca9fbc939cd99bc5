"""The `solid` push connector: the existing Solid client (`connectors/solid/`), wrapped.

The provider writes the envelope into its own pod as its WebID (the DPoP session it signed in
with) and grants the datacage's WebID Read on that one resource (WAC or ACP, whichever the pod
speaks); the datacage reads it with its own Solid identity and, where the pod checks
attestation, its RA-TLS certificate. No credential is handed out: the grant names the resource
and the WebID, and the provider can take it back in its pod at any time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

from .base import Connector, ConnectorError, Progress, Stored
from .registry import register
from .solid import SolidClient
from .solid import errors as solid_errors
from .solid.http import Http, raise_for_status
from .solid.resource import Resource

#: How many containers above a profile are tried before giving up finding its pod.
_MAX_DEPTH = 16


@register
class SolidPodConnector(Connector):
    type = "solid"
    title = "A resource in the provider's own Solid pod"

    def __init__(self, configuration: Mapping[str, Any]):
        super().__init__(configuration)
        self.client: SolidClient | None = None
        self.grantee: str | None = None

    @classmethod
    def configuration_schema(cls) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"url": {"type": "string", "title": "Resource URL in your pod"}},
            "required": ["url"],
            "secret": [],
        }

    def use_identity(self, session, datacage_webid: str) -> None:
        self.client, self.grantee = SolidClient(session), datacage_webid

    def _client(self) -> SolidClient:
        if self.client is None:
            raise ConnectorError("The solid connector writes as your WebID: sign in first.")
        return self.client

    def test_connection(self) -> None:
        container = self.configuration["url"].rsplit("/", 1)[0] + "/"
        try:
            self._client().head(container)
        except solid_errors.NotFound:
            raise ConnectorError(f"The container {container} does not exist in the pod.") from None
        except (solid_errors.Forbidden, solid_errors.Unauthenticated):
            raise ConnectorError(f"Your WebID may not use {container}.") from None
        except solid_errors.SolidError as exc:
            raise ConnectorError(f"The pod could not be reached: {exc}") from None

    def upload(self, source: Path, progress: Progress | None = None) -> Stored:
        url = self.configuration["url"]
        try:
            with open(source, "rb") as data:
                # Streamed from the file (requests reads it in blocks), with progress.
                self._client().put(url, _Reading(data, progress), "application/octet-stream")  # type: ignore[arg-type]
        except solid_errors.SolidError as exc:
            raise ConnectorError(f"The upload to {url} failed: {exc}") from None
        return Stored(url, source.stat().st_size)

    def read_grant(self, stored: Stored, lifetime: timedelta, now: datetime) -> dict[str, str]:
        if not self.grantee:
            raise ConnectorError("The datacage's WebID is not known, so Read cannot be granted.")
        try:
            self._client().access_control(stored.location).grant(self.grantee, ["Read"])
        except solid_errors.SolidError as exc:
            raise ConnectorError(f"Read could not be granted on {stored.location}: {exc}") from None
        return {"url": stored.location, "webid": self.grantee}

    @classmethod
    @contextmanager
    def open_grant(
        cls, grant: Mapping[str, str], *, timeout: float = 30.0, solid_client=None
    ) -> Iterator[tuple[BinaryIO, int | None]]:
        url = grant.get("url", "")
        if solid_client is None:
            raise ConnectorError("Reading from a pod needs the datacage's Solid identity.")
        response = solid_client.session.request("GET", url, headers={"Accept": "*/*"})
        try:
            raise_for_status(response)
        except (solid_errors.Forbidden, solid_errors.Unauthenticated):
            response.close()
            raise ConnectorError(
                f"The pod refused the datacage's read of {url}: the provider must grant Read again."
            ) from None
        except solid_errors.SolidError as exc:
            response.close()
            raise ConnectorError(f"Reading {url} failed: {exc}") from None
        try:
            size = response.headers.get("Content-Length")
            yield response.raw, int(size) if size and size.isdigit() else None
        finally:
            response.close()


class _Reading:
    def __init__(self, data: BinaryIO, progress: Progress | None):
        self.data, self.progress = data, progress

    def read(self, size: int = -1) -> bytes:
        block = self.data.read(size)
        if self.progress and block:
            self.progress(len(block))
        return block


def check_in_own_pod(http: Http, provider: str, url: str) -> None:
    """Raise `ConnectorError` unless `url` lies inside the pod that holds `provider`'s WebID.

    The pod is the storage the pod *server* declares (Solid Protocol section 4.1: the nearest
    container above the profile document typed `pim:Storage`), not one the profile names: a
    profile's owner can write any storage into it, a pod server vouches only for its own. So a
    provider can register, and the datacage will read with its own identity, only resources
    in the provider's own pod: never one that someone else granted the datacage for another
    space (a confused deputy). Read through `http`, i.e. through its egress policy.
    """
    if not url.startswith(("https://", "http://")) or _dot_segment(url):
        raise ConnectorError(f"{url} is not a plain http(s) URL of a resource in a pod.")
    root = storage_holding(http, provider)
    if not url.startswith(root) or url == root:
        raise ConnectorError(
            f"{url} is not in the pod of {provider} ({root}), who registered it; it is not read."
        )


def storage_holding(http: Http, webid: str) -> str:
    """The storage root the pod server declares above `webid`'s profile document."""
    current = urljoin(webid.split("#", 1)[0], "./")
    for _ in range(_MAX_DEPTH):
        try:
            response = http.request("HEAD", current, what="the pod")
        except solid_errors.SolidError as exc:
            raise ConnectorError(f"The pod of {webid} could not be reached: {exc}") from None
        try:
            if response.status_code < 300 and Resource.from_response(response).is_storage:
                return current
        finally:
            response.close()
        parent = urljoin(current, "../")
        if parent == current:
            break
        current = parent
    raise ConnectorError(f"No pod server declares a storage holding the profile of {webid}.")


def within_own_storage(url: str, root: str) -> bool:
    """Whether `url` is a resource inside the storage `root` (not the root itself)."""
    return (
        url.startswith(("https://", "http://"))
        and not _dot_segment(url)
        and url.startswith(root)
        and url != root
    )


def _dot_segment(url: str) -> bool:
    """`..` or `.` as a path segment, spelled plainly or percent-encoded (pods resolve both)."""
    path = url.split("?", 1)[0].split("#", 1)[0].lower().replace("%2e", ".")
    return any(segment in (".", "..") for segment in path.split("/")[3:])
