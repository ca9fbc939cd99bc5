"""The one HTTP layer under every Solid call: timeouts, TLS, size limits and error mapping.

Everything that reaches a pod or an identity provider goes through `Http`, so that no call can
hang forever, read an unbounded body, follow a redirect to another origin with our proof on it,
or leak a `requests` exception to a caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from . import errors

log = logging.getLogger(__name__)

#: (connect, read) seconds. A pod that does not answer within these is "down" for this call.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
#: Bodies larger than this are refused unless a caller asks for more (RDF documents, profiles).
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
#: A 429 answer (RFC 6585 section 4) is retried this many times, after the `Retry-After` delay
#: (RFC 9110 section 10.2.3), or `DEFAULT_RETRY_AFTER` without one.
RATE_LIMIT_RETRIES = 3
DEFAULT_RETRY_AFTER = 1.0
#: A server asking for a longer wait is not waited for within a call: the 429 is reported
#: (`errors.RateLimited`, with the wait it asked for) so the caller can come back later.
MAX_RETRY_AFTER = 30.0
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class TlsSettings:
    """How we check servers and, for mutual TLS, who we are.

    `verify` is a CA bundle path or a bool; `cert` a client certificate (and key) file path or a
    (cert, key) pair of paths. Passed per request, because a session-level `verify` is silently
    replaced by `REQUESTS_CA_BUNDLE` when requests trusts the environment.
    """

    verify: str | bool | None = None
    cert: str | tuple[str, str] | None = None


class Http:
    """A `requests.Session` with the policies every Solid call needs."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        tls: TlsSettings | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        user_agent: str = "datacage-solid-client/0.1",
        sleep: Callable[[float], None] = time.sleep,
        max_retry_after: float = MAX_RETRY_AFTER,
    ):
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", user_agent)
        self.timeout = timeout
        self.tls = tls or TlsSettings()
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep
        self.max_retry_after = max_retry_after
        self._settings: dict[str, dict[str, Any]] = {}  # per origin, see `_environment`

    def request(
        self,
        method: str,
        url: str,
        *,
        auth: requests.auth.AuthBase | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | str | Mapping[str, str] | None = None,
        what: str | None = None,
    ) -> requests.Response:
        """Send one request, following GET/HEAD redirects; never raise `requests` errors.

        With `auth`, only same-origin redirects are followed: our DPoP proof and token are for
        the origin we chose. Without it (public reads, e.g. a WebID behind a w3id redirect),
        any http(s) redirect is followed. The body is left unread (streamed) so the caller can
        read it within a limit.
        """
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send_paced(
                method, target, auth=auth, headers=headers, data=data, what=what
            )
            if not response.is_redirect or method.upper() not in ("GET", "HEAD"):
                return response
            location = requests.compat.urljoin(target, response.headers["Location"])
            response.close()
            if auth is not None and _origin(location) != _origin(target):
                # Our DPoP proof and token are for this origin only; another origin must be
                # asked for explicitly by the caller, never reached silently.
                raise errors.UpstreamError(
                    f"{what or target} redirected to another site ({_origin(location)}); "
                    "not followed.",
                    url=target,
                    status=response.status_code,
                )
            target = location
        raise errors.UpstreamError(f"Too many redirects from {url}.", url=url)

    def _send_paced(
        self,
        method: str,
        url: str,
        *,
        auth: requests.auth.AuthBase | None,
        headers: Mapping[str, str] | None,
        data: Any,
        what: str | None,
    ) -> requests.Response:
        """Send, and resend after the wait a 429 asks for: a bounded number of times, and only
        for waits up to `max_retry_after`. The last 429 is returned for `raise_for_status`."""
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            response = self._send(method, url, auth=auth, headers=headers, data=data, what=what)
            if response.status_code != 429 or attempt == RATE_LIMIT_RETRIES:
                return response
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            wait = DEFAULT_RETRY_AFTER if wait is None else wait
            if wait > self.max_retry_after:
                return response
            response.close()
            log.info("rate limited; waiting", extra={"url": url, "seconds": wait})
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        url: str,
        *,
        auth: requests.auth.AuthBase | None,
        headers: Mapping[str, str] | None,
        data: Any,
        what: str | None,
    ) -> requests.Response:
        label = what or url
        try:
            # `Session.request`, with the environment's part looked up once per origin.
            prepared = self.session.prepare_request(
                requests.Request(method, url, headers=dict(headers or {}), data=data, auth=auth)
            )
            return self.session.send(
                prepared,
                timeout=self.timeout,
                allow_redirects=False,
                **self._environment(prepared.url or url),
            )
        except requests.exceptions.SSLError as exc:
            raise errors.UpstreamUnavailable(
                f"The TLS connection to {label} failed: {_short(exc)}", url=url
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise errors.UpstreamUnavailable(f"{label} did not answer in time.", url=url) from exc
        except requests.exceptions.ConnectionError as exc:
            raise errors.UpstreamUnavailable(f"Could not connect to {label}.", url=url) from exc
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise errors.SolidError(f"{url!r} is not a valid URL.", url=url) from exc
        except requests.exceptions.RequestException as exc:
            raise errors.UpstreamError(
                f"Request to {label} failed: {_short(exc)}", url=url
            ) from exc

    def _environment(self, url: str) -> dict[str, Any]:
        """`proxies`, `verify`, `cert` and `stream` for a request to `url`, as
        `Session.request` would merge them from the session, our `tls` and the environment.

        `requests` reads the proxy variables afresh for every request, which cost a read's
        client more CPU than its DPoP proof; they and `REQUESTS_CA_BUNDLE` are read here once
        per origin (proxy choices depend on the host and port only) and per `Http`, so an
        `Http` made after the environment changed sees the change.
        """
        origin = _origin(url)
        found = self._settings.get(origin)
        if found is None:
            verify = self.tls.verify if self.tls.verify is not None else True
            found = self.session.merge_environment_settings(url, {}, True, verify, self.tls.cert)
            self._settings[origin] = found
        return {**found, "proxies": dict(found["proxies"])}  # a copy: adapters may change it

    def read(self, response: requests.Response, limit: int | None = None) -> bytes:
        """Read the whole body, refusing (and closing) anything over `limit` bytes."""
        limit = self.max_body_bytes if limit is None else limit
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            response.close()
            raise errors.TooLarge(
                f"{response.url} is {int(declared):,} bytes, over the limit of {limit:,}.",
                url=response.url,
            )
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise errors.TooLarge(
                        f"{response.url} is larger than the limit of {limit:,} bytes.",
                        url=response.url,
                    )
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            raise errors.UpstreamUnavailable(
                f"Reading {response.url} was interrupted: {_short(exc)}", url=response.url
            ) from exc
        finally:
            response.close()
        return b"".join(chunks)


_STATUS_ERRORS: dict[int, type[errors.SolidError]] = {
    401: errors.Unauthenticated,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.UnsupportedRequest,
    409: errors.Conflict,
    410: errors.NotFound,
    412: errors.PreconditionFailed,
    413: errors.TooLarge,
    415: errors.UnsupportedRequest,
    501: errors.UnsupportedRequest,
    # nginx's own codes for a client certificate it refuses (495) or that is missing (496).
    495: errors.CertificateRefused,
    496: errors.CertificateRefused,
}

_STATUS_WORDS: dict[int, str] = {
    401: "needs a signed-in identity it accepts",
    403: "is not accessible to this identity",
    404: "does not exist",
    405: "does not allow this operation",
    409: "is in a state that conflicts with this request",
    410: "no longer exists",
    412: "changed since it was read",
    413: "was refused as too large by the server",
    415: "does not accept this content type",
    501: "is not supported by this server",
    495: "refused our client certificate (for a datacage: its attestation was not accepted)",
    496: "asked for a client certificate we did not present",
}


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, moment.timestamp() - current)


def raise_for_status(response: requests.Response, what: str | None = None) -> None:
    """Turn a non-2xx answer into the matching domain error, with the status in plain words."""
    status = response.status_code
    if status < 300 or status == 304:  # a 304 answers the caller's own conditional GET
        return
    label = what or response.url
    response.close()
    if status < 400:
        # `Http.request` follows the GET/HEAD redirects it may; a 3xx reaching here (a write,
        # or a credentialed read sent elsewhere) was not carried out, so it is no success.
        raise errors.UpstreamError(
            f"The server redirected the request for {label} ({status}); it was not followed.",
            url=response.url,
            status=status,
        )
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        later = f"; it asks to wait {wait:.0f} s" if wait is not None else ""
        raise errors.RateLimited(
            f"The server for {label} is refusing requests because too many were sent "
            f"(429){later}. Please try again later.",
            url=response.url,
            status=status,
            retry_after=wait,
        )
    cls = _STATUS_ERRORS.get(status)
    if cls is not None:
        raise cls(f"{label} {_STATUS_WORDS[status]} ({status}).", url=response.url, status=status)
    if status in (502, 503, 504):
        raise errors.UpstreamUnavailable(
            f"The server for {label} is unavailable right now ({status}).",
            url=response.url,
            status=status,
        )
    if status >= 500:
        raise errors.UpstreamError(
            f"The server failed while handling {label} ({status}).", url=response.url, status=status
        )
    raise errors.UpstreamError(
        f"The server refused the request for {label} ({status}).", url=response.url, status=status
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> str:
    """scheme://host:port with the default port made explicit (RFC 6454 section 4)."""
    parts = requests.compat.urlparse(url)
    scheme = parts.scheme.lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
