"""Reach a public origin through another address, as `curl --connect-to` does.

A pod provider serves its pods under one public URL (`https://pods.example/`) to everyone, but
datacages must enter through its attestation gateway, which demands their RA-TLS client
certificate. Where DNS cannot send the datacage elsewhere (one machine, the demo), this adapter
does: the URL, the `Host` header, the DPoP `htu` and the TLS server name all stay the public
ones, only the TCP connection goes to the gateway's address. The server certificate is still
checked against the public host name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


def parse_route(text: str) -> tuple[str, tuple[str, int]]:
    """`https://pods.example:443=127.0.0.1:8444` -> (origin, (host, port)); ValueError if not."""
    origin, sep, address = text.partition("=")
    host, colon, port = address.rpartition(":")
    parts = urlsplit(origin)
    if not sep or not colon or not host or not port.isdigit() or parts.scheme != "https":
        raise ValueError(
            f"{text!r} is not ORIGIN=HOST:PORT with an https origin "
            "(for example https://pods.example=127.0.0.1:8444)."
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or not parts.hostname:
        raise ValueError(f"{origin!r} is not an origin (scheme, host and port only).")
    return _origin(origin), (host.strip("[]"), int(port))


class ConnectTo(HTTPAdapter):
    """Connect to `routes[origin]` for requests to that origin; the URL stays the public one."""

    def __init__(self, routes: Mapping[str, tuple[str, int]], **options: Any):
        super().__init__(**options)
        self.routes = {_origin(origin): address for origin, address in routes.items()}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        route = self.routes.get(_origin(request.url or ""))
        if route is not None:
            public_host = host_params["host"]
            host_params = {**host_params, "host": route[0], "port": route[1]}
            # SNI and the certificate check keep the public name.
            pool_kwargs = {**pool_kwargs, "server_hostname": public_host}
            if pool_kwargs.get("cert_reqs") == "CERT_REQUIRED":
                pool_kwargs["assert_hostname"] = public_host
        return host_params, pool_kwargs

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if _origin(request.url or "") in self.routes:
            # urllib3 would name the address it connects to; the server must see the public one.
            request.headers["Host"] = urlsplit(request.url).netloc
        return super().send(request, **kwargs)


def mount_routes(session: requests.Session, routes: Mapping[str, tuple[str, int]]) -> None:
    """Mount `ConnectTo` on `session` for the routed origins only, so every other URL keeps the
    session's own adapters (an egress policy's, say). The route's address was named by the
    operator, like the control plane's, so it is not a participant's choice to check."""
    adapter = ConnectTo(routes)
    for origin in adapter.routes:
        parts = urlsplit(origin)
        session.mount(f"{origin}/", adapter)
        if parts.port == (443 if parts.scheme == "https" else 80):  # written without the port
            session.mount(f"{parts.scheme}://{parts.hostname}/", adapter)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
