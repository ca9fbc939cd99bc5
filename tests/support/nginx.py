"""A real nginx with mutual TLS and attestation admission in front of a real CSS, for tests.

The pod provider's side of docs/attestation.md, as a test bed:

    datacage --mTLS (RA-TLS cert)--> nginx :N --auth_request--> admission app (thread)
                                          \\--proxy (only if admitted)--> CSS on 127.0.0.1:P

* nginx runs from a private prefix (`nginx -p DIR -e DIR/error.log -c DIR/nginx.conf`,
  `daemon off`, its own process group, SIGTERM when we die; see connectors/child_processes.py).
* A test CA made with `cryptography` signs nginx's certificate for localhost/127.0.0.1.
* CSS's base URL is `https://localhost:N/`, the URL every client uses: DPoP `htu`s and token
  issuers must match it. nginx sets `Host` and `X-Forwarded-Proto` for CSS and blanks any
  `X-Forwarded-Host`/`Forwarded` a client sends (CSS trusts those headers).
* Pod paths need admission. The identity provider (`/.well-known/`, `/.oidc/`, `/.account/`)
  and WebID documents (`/<pod>/profile/card`) do not: a datacage signs in before it runs
  anything, and every Solid server, CSS itself included, must read WebID documents and the
  issuer's keys to check a token. CSS fetches those from `https://localhost:N/`, so node is
  given the test CA (`NODE_EXTRA_CA_CERTS`).
* Pod owners are not datacages: `owner_session()` reaches CSS on its loopback port, standing in
  for the provider's ordinary front door, with the headers nginx would set.
* The product's ordinary entrance runs too, on a port of its own (`entrance_session()`): it
  refuses access tokens naming a WebID given to `keep_to_gateway()`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import requests

from connectors.solid.connect_to import mount_routes
from connectors.solid.css import CommunitySolidServer
from connectors.solid.css.process import free_loopback_port
from server.attestation.admission import PolicyInForce
from server.attestation.verify import TrustPolicy
from server.demo.certificates import make_local_ca
from server.demo.gateway import ENTRANCE, GATEWAY, NGINX_CONFIG, AdmissionServer, NginxProcess

# --- nginx ----------------------------------------------------------------------------------------


class Nginx(NginxProcess):
    """nginx from a private prefix, in its own process group; `stop()` stops the group."""

    def __init__(
        self,
        prefix: Path,
        *,
        port: int,
        css_port: int,
        admission_port: int,
        cert: Path,
        key: Path,
        entrance_port: int | None = None,
    ):
        # The product's gateway (server/demo/gateway.py); with `entrance_port`, the product's
        # ordinary entrance too, on the same public host name.
        servers = GATEWAY.format(port=port)
        if entrance_port is not None:
            servers += ENTRANCE.format(port=entrance_port)
        config = NGINX_CONFIG.format(
            prefix=prefix,
            css_port=css_port,
            admission_port=admission_port,
            public_host=f"localhost:{port}",
            cert=cert,
            key=key,
            servers=servers,
            # As root, workers would drop to `nobody`, who cannot use this private prefix.
            user="user root;" if os.geteuid() == 0 else "",
        )
        super().__init__(prefix, config, port)
        self.entrance_port = entrance_port

    def log_lines_for(self, path: str) -> list[str]:
        """Access log lines of requests for `path` (waits briefly: nginx logs after the reply)."""
        pattern = re.compile(rf'"[A-Z]+ {re.escape(path)}[ ?]')
        for _ in range(50):
            lines = [ln for ln in self.access_log.read_text().splitlines() if pattern.search(ln)]
            if lines:
                return lines
            time.sleep(0.02)
        return []


# --- CSS behind nginx ----------------------------------------------------------------------------


class PodServerBehindNginx(CommunitySolidServer):
    """CSS on a loopback port whose public base URL is nginx's `https://localhost:N/`.

    It logs at `info`, so its log names every request it received: the CSS-side proof that a
    refused datacage never reached it.
    """

    def __init__(self, *, public_port: int, ca: Path, **options: object):
        super().__init__(  # type: ignore[arg-type]
            log_level="info",
            public_url=f"https://localhost:{public_port}/",
            extra_ca=ca,
            **options,
        )

    def received_get(self, path: str) -> bool:
        """Whether CSS logged a GET for exactly `path`."""
        log = self.log_path.read_text() if self.log_path else ""
        return f"Received GET request for {path}\n" in log


class _FrontDoor(requests.adapters.HTTPAdapter):
    """Send `https://localhost:N/...` straight to CSS, as the provider's ordinary entrance."""

    def __init__(self, public_port: int, css_port: int):
        super().__init__()
        self.public, self.inner = f"https://localhost:{public_port}", f"http://127.0.0.1:{css_port}"
        self.host = f"localhost:{public_port}"

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        # The DPoP proof was made for the public URL before this point, as CSS will see it.
        assert (request.url or "").startswith(self.public)
        request.url = self.inner + request.url[len(self.public) :]
        request.headers["Host"] = self.host
        request.headers["X-Forwarded-Proto"] = "https"
        response = super().send(request, **kwargs)  # type: ignore[arg-type]
        response.url = self.public + response.url[len(self.inner) :]
        return response


@dataclass
class AttestedPodGateway:
    """The running test bed: nginx on `base_url`, CSS behind it, the admission check."""

    base_url: str
    ca: Path
    nginx: Nginx
    css: PodServerBehindNginx
    admission: AdmissionServer

    def owner_session(self) -> requests.Session:
        """A cookie-less requests session for pod owners, entering beside nginx."""
        session = requests.Session()
        session.trust_env = False
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        session.mount(self.base_url, _FrontDoor(self.nginx.port, self.css.port))
        return session

    def entrance_session(self) -> requests.Session:
        """A cookie-less session reaching the public URL through nginx's ordinary entrance (no
        client certificate), as people and the control plane do."""
        assert self.nginx.entrance_port is not None
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca)
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        mount_routes(session, {self.base_url.rstrip("/"): ("127.0.0.1", self.nginx.entrance_port)})
        return session

    def keep_to_gateway(self, webid: str) -> None:
        """Name a datacage's WebID in the policy: the ordinary entrance refuses its tokens."""
        held = self.admission.policy
        assert isinstance(held, PolicyInForce), "a policy file is changed by editing the file"
        policy = held.current()
        held.replace(replace(policy, datacage_webids=policy.datacage_webids | {webid}))

    def path_of(self, url: str) -> str:
        assert url.startswith(self.base_url)
        return "/" + url[len(self.base_url) :]


@contextlib.contextmanager
def attested_pod_gateway(policy: TrustPolicy) -> Iterator[AttestedPodGateway]:
    """Start admission, nginx and CSS (in that order); stop all of them afterwards."""
    prefix = Path(tempfile.mkdtemp(prefix="datacage-nginx-"))
    try:
        ca, cert, key = make_local_ca(prefix)
        nginx_port, css_port = free_loopback_port(), free_loopback_port()
        entrance_port = free_loopback_port()
        with AdmissionServer(policy) as admission:
            nginx = Nginx(
                prefix,
                port=nginx_port,
                css_port=css_port,
                admission_port=admission.port,
                cert=cert,
                key=key,
                entrance_port=entrance_port,
            ).start()
            try:
                css = PodServerBehindNginx(public_port=nginx_port, ca=ca, port=css_port)
                with css:
                    yield AttestedPodGateway(css.base_url, ca, nginx, css, admission)
            finally:
                nginx.stop()
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
