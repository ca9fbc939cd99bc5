"""The demo's pod provider: CSS behind nginx, with an ordinary entrance and an attestation gateway.

The shape of docker/compose.yaml on one machine, with two ports where compose has two networks:

    people, the control plane --https--> entrance :E ---------------------------\\
    datacage --mTLS (RA-TLS cert)--> gateway :G --auth_request--> admission app    >--> CSS :P
                                              \\--proxy (only if admitted)-------/

CSS's public URL is the entrance's, `https://localhost:E/`, for everyone: WebIDs, issuers, DPoP
`htu`s. The datacage reaches the same URL through the gateway (the worker's `pod_routes`, as
`curl --connect-to` does), which passes the identity provider and WebID documents freely and pod
data only to a datacage whose RA-TLS certificate the admission app accepts under the provider's
policy. The entrance, in turn, refuses the datacage's reads (its WebID named by
`keep_to_gateway`), so the datacage reads pod data by the gateway or not at all. The admission
app runs in a process of its own (server/demo/gateway_processes.py). nginx's access log names
every pod request and whether it reached CSS: the demo's story counts them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from connectors.solid.css.process import free_loopback_port

from ..attestation.admission import PolicyInForce
from ..attestation.verify import TrustPolicy
from .certificates import make_local_ca
from .gateway_processes import (
    NGINX,
    AdmissionProcess,
    AdmissionServer,
    GatewayError,
    NginxProcess,
    accepts,
)

# Re-exported: the test bed (tests/support/nginx.py) and benches take them from here.
__all__ = [
    "ENTRANCE",
    "GATEWAY",
    "NGINX",
    "NGINX_CONFIG",
    "AdmissionProcess",
    "AdmissionServer",
    "GatewayError",
    "NginxProcess",
    "PodProvider",
    "PullCount",
]

NGINX_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 512; }}

http {{
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;

    # Which door, which upstream, which client certificate: the proof of every pull's path;
    # and how long CSS took, so a long demo can say which of its steps kept CSS busy.
    log_format attested '$server_port "$request" $status upstream="$upstream_addr" '
                        'client_cert="$ssl_client_verify" css_s=$upstream_response_time';
    access_log {prefix}/access.log attested;

    upstream pod_server {{ server 127.0.0.1:{css_port}; keepalive 16; }}
    upstream admission {{ server 127.0.0.1:{admission_port}; keepalive 16; }}  # asked per pod read

    # CSS rebuilds request URLs (so DPoP htu) from these, and believes X-Forwarded-Host and
    # Forwarded: a client must not choose them.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host {public_host};
    proxy_set_header X-Forwarded-Proto https;
    proxy_set_header X-Forwarded-Host "";
    proxy_set_header Forwarded "";

    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 10m;

{servers}
}}
"""

#: The ordinary entrance: people, pod owners' apps, the control plane. No client certificate;
#: the pod's own access control decides who reads what. A datacage reads pod data only through
#: the gateway: the admission app refuses a read whose access token names a datacage's WebID
#: (server/attestation/entrance.py). What the gateway passes without attestation (the identity
#: provider, WebID documents) the entrance passes without asking, and a datacage's writes
#: (results it delivers, notifications) are for the pod's access control to decide.
ENTRANCE = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;

        location = /_entrance {{
            internal;
            # No credentials, nobody named: nginx answers itself, the admission app is not asked.
            if ($http_authorization = "") {{ return 204; }}
            proxy_pass http://admission;
            proxy_pass_request_body off;
            # Headers set here replace the http block's, whose `Connection ""` keeps the
            # connection to the admission app alive: without it, a new one per pod request.
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header X-Client-Cert "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;  # the request's, not GET
        }}

        location ^~ /.well-known/ {{ proxy_pass http://pod_server; }}
        location ^~ /.oidc/ {{ proxy_pass http://pod_server; }}
        location ^~ /.account/ {{ proxy_pass http://pod_server; }}
        location ~ ^/[^/]+/profile/card$ {{ proxy_pass http://pod_server; }}

        location / {{
            auth_request /_entrance;
            error_page 403 = @gateway_only;
            proxy_pass http://pod_server;
        }}
        location @gateway_only {{
            return 403 "A datacage reads pods only through the attestation gateway.\\n";
        }}
    }}
"""

#: The attestation gateway, as in docker/nginx/gateway and docs/attestation.md.
GATEWAY = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        # RA-TLS certificates are self-signed: ask for one, let the admission app judge it.
        ssl_verify_client optional_no_ca;
        # No TLS session resumption: a resumed session keeps its first handshake's certificate
        # without proving its key again. A datacage keeps its connections alive instead.
        ssl_session_cache off;
        ssl_session_tickets off;

        location = /_admission {{
            internal;
            proxy_pass http://admission;
            proxy_pass_request_body off;
            # Headers set here replace the http block's, whose `Connection ""` keeps the
            # connection to the admission app alive: without it, a new one per pod request.
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-Original-URI $request_uri;
        }}

        # The identity provider and WebID documents: a datacage signs in before it attests.
        location ^~ /.well-known/ {{ proxy_pass http://pod_server; }}
        location ^~ /.oidc/ {{ proxy_pass http://pod_server; }}
        location ^~ /.account/ {{ proxy_pass http://pod_server; }}
        location ~ ^/[^/]+/profile/card$ {{ proxy_pass http://pod_server; }}

        # Pod data: only an admitted datacage. A refusal is 495, so the datacage tells it from
        # the pod's own 403 (a withdrawn grant).
        location / {{
            auth_request /_admission;
            error_page 401 403 = @not_admitted;
            proxy_pass http://pod_server;
        }}
        location @not_admitted {{
            return 495 "The client certificate's attestation was not accepted.\\n";
        }}
    }}
"""


@dataclass(frozen=True)
class PullCount:
    """What the gateway's access log says of pod-data requests (not sign-in, not WebIDs)."""

    admitted: int  # reached CSS with an admitted RA-TLS certificate
    refused: int  # stopped at the gateway


_LOG_LINE = re.compile(r'^(?P<port>\d+) "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) ')
_OPEN_PATHS = re.compile(r"^/(\.well-known|\.oidc|\.account)/|^/[^/]+/profile/card$")


class PodProvider:
    """CSS's public front for the demo: `entrance` and `gateway` ports, the CA, the pull log."""

    def __init__(
        self,
        folder: Path,
        *,
        entrance_port: int,
        policy: TrustPolicy,
        extra_servers: str = "",
        admission_in_process: bool = False,
    ):
        """`extra_servers`: more nginx `server` blocks in the same `http` block (a benchmark's
        baseline door, say); they may use the `pod_server` upstream. The admission check runs
        in a process of its own (`AdmissionProcess`), or with `admission_in_process` in a
        thread of this one (its refusals then reach this process's log handlers)."""
        self.folder = folder
        self.extra_servers = extra_servers
        self.entrance_port = entrance_port
        self.gateway_port = free_loopback_port()
        self.css_port = free_loopback_port()
        self.policy = policy
        self.ca, self._cert, self._key = make_local_ca(folder, days=30)
        self.admission_in_process = admission_in_process
        self._admission: AdmissionServer | AdmissionProcess | None = None
        self._nginx: NginxProcess | None = None

    @property
    def public_url(self) -> str:
        return f"https://localhost:{self.entrance_port}/"

    @property
    def admission_pid(self) -> int | None:
        """The admission process's pid; None when it runs in a thread of this process."""
        admission = self._admission
        return admission.pid if isinstance(admission, AdmissionProcess) else None

    @property
    def route(self) -> dict[str, tuple[str, int]]:
        """The worker's `pod_routes`: the public origin through the gateway."""
        return {self.public_url.rstrip("/"): ("127.0.0.1", self.gateway_port)}

    def start(self) -> PodProvider:
        hardware = self.policy.hardware.snp or self.policy.hardware.tdx  # kept in its own file
        if self.admission_in_process or hardware:
            self._admission = AdmissionServer(self.policy).__enter__()
        else:
            self._admission = AdmissionProcess(self.policy, self.folder).__enter__()
        servers = ENTRANCE.format(port=self.entrance_port) + GATEWAY.format(port=self.gateway_port)
        servers += self.extra_servers
        config = NGINX_CONFIG.format(
            prefix=self.folder,
            css_port=self.css_port,
            admission_port=self._admission.port,
            public_host=f"localhost:{self.entrance_port}",
            cert=self._cert,
            key=self._key,
            servers=servers,
            # As root, workers would drop to `nobody`, who cannot use this private prefix.
            user="user root;" if os.geteuid() == 0 else "",
        )
        self._nginx = NginxProcess(self.folder, config, self.entrance_port).start()
        if not accepts(self.gateway_port):
            raise GatewayError(f"nginx does not answer on the gateway's port {self.gateway_port}.")
        return self

    def stop(self) -> None:
        if self._nginx is not None:
            self._nginx.stop()
            self._nginx = None
        if self._admission is not None:
            self._admission.__exit__(None, None, None)
            self._admission = None

    def keep_to_gateway(self, webid: str) -> None:
        """Name a datacage's WebID: from now on the ordinary entrance refuses its tokens."""
        self.policy = replace(self.policy, datacage_webids=self.policy.datacage_webids | {webid})
        if isinstance(self._admission, AdmissionServer):
            held = self._admission.policy
            assert isinstance(held, PolicyInForce)  # we gave it a policy, not a file
            held.replace(self.policy)
        elif isinstance(self._admission, AdmissionProcess):
            self._admission.write_policy(self.policy)  # the process re-reads it when it changes

    def pulls(self) -> PullCount:
        """Pod-data requests through the gateway: admitted (reached CSS) and refused."""
        log = self.folder / "access.log"
        admitted = refused = 0
        for line in log.read_text().splitlines() if log.exists() else ():
            found = _LOG_LINE.match(line)
            if not found or int(found["port"]) != self.gateway_port:
                continue
            if _OPEN_PATHS.search(found["path"].split("?", 1)[0]):
                continue
            if 'upstream="-"' in line or found["status"] == "495":
                refused += 1
            else:
                admitted += 1
        return PullCount(admitted, refused)
