"""docker/nginx/: the two nginx templates, rendered as the nginx image renders them and run by
the real Debian nginx: both pass `nginx -t`, and the gateway, in front of a real CSS and the
real admission service reading a policy file, admits only an attested datacage to pod data.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from string import Template

import pytest
import requests

from connectors.solid.css.process import free_loopback_port
from server.attestation import (
    EnclaveKey,
    Measurement,
    SoftwareAttestationProvider,
    client_certificate,
    measure_datacage_code,
)
from tests.support.docker_files import DOCKER, load_compose, script
from tests.support.nginx import AdmissionServer, Nginx, PodServerBehindNginx

APPROVED_BUNDLE = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def _templates() -> dict[str, str]:
    return {
        name: (DOCKER / "nginx" / name / "default.conf.template").read_text()
        for name in ("entrance", "gateway")
    }


def _render(template: str, values: dict[str, str]) -> str:
    """The nginx image's envsubst: set `${NAME}`s replaced, nginx's own `$name`s left alone."""
    rendered = Template(template.replace("$$", "$$$$")).safe_substitute(values)
    leftover = re.findall(r"\$\{\w+\}", rendered)
    assert not leftover, f"not set in compose.yaml: {leftover}"
    return rendered


_TEMP_PATHS = {"client_body": "body", "proxy": "proxy", "fastcgi": "fastcgi", "uwsgi": "uwsgi",
               "scgi": "scgi"}  # fmt: skip


def _main_config(prefix: Path, server_config: Path) -> str:
    """What the nginx image's own nginx.conf does around conf.d/default.conf, in a prefix."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix}/temp/{folder};" for kind, folder in _TEMP_PATHS.items()
    )
    user = "user root;" if os.geteuid() == 0 else ""
    return (
        f"daemon off;\nmaster_process on;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log info;\n{user}\nevents {{ worker_connections 64; }}\n"
        f"http {{\n{temp}\n    include {server_config};\n}}\n"
    )


def _values(compose: dict, service: str, **overrides: str) -> dict[str, str]:
    return {**compose["services"][service]["environment"], **overrides}


def _make_certs() -> Callable[..., bool]:
    return script("make_certs").make_certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    _make_certs()(folder, ["localhost", "control.localhost"])
    return folder


@pytest.mark.parametrize("name", ["entrance", "gateway"])
def test_the_nginx_templates_pass_nginx_t(name, compose, certs, tmp_path):
    rendered = _render(
        _templates()[name],
        _values(
            compose,
            name,
            CERT_DIR=str(certs),
            POD_SERVER="127.0.0.1:3000",
            CONTROL_PLANE="127.0.0.1:5000",
            ADMISSION="127.0.0.1:9180",
            ACCESS_LOG=str(tmp_path / "access.log"),
            PUBLIC_PORT=str(free_loopback_port()),
            HEALTH_PORT=str(free_loopback_port()),
        ),
    )
    assert "$ssl_client_escaped_cert" in rendered or name == "entrance"
    for folder in _TEMP_PATHS.values():
        (tmp_path / "temp" / folder).mkdir(parents=True)
    (tmp_path / "default.conf").write_text(rendered)
    (tmp_path / "nginx.conf").write_text(_main_config(tmp_path, tmp_path / "default.conf"))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    argv = [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
    result = subprocess.run(
        [*argv, "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _attested_cert(tmp_path: Path) -> tuple[EnclaveKey, bytes, SoftwareAttestationProvider]:
    provider = SoftwareAttestationProvider(tmp_path / "attestation")
    key = EnclaveKey.generate()
    evidence = provider.attest(key, Measurement(measure_datacage_code(), APPROVED_BUNDLE))
    return key, client_certificate(key, evidence), provider


@pytest.mark.css
def test_the_gateway_admits_only_an_attested_datacage_to_pod_data(compose, certs, tmp_path):
    """The gateway's config, run by the real nginx in front of a real CSS and the real admission
    service reading a policy file: the identity provider is open, pod data is 495 without an
    admitted certificate (CSS never sees it), and an approved RA-TLS certificate goes through."""
    key, certificate, provider = _attested_cert(tmp_path)
    policy = tmp_path / "policy" / "policy.toml"
    policy.parent.mkdir()
    shutil.copy(DOCKER / "admission" / "policy.toml", policy)  # as shipped: nobody
    public_port, css_port = free_loopback_port(), free_loopback_port()
    prefix = tmp_path / "nginx"
    with AdmissionServer(policy) as admission:  # type: ignore[arg-type]
        values = _values(
            compose,
            "gateway",
            PODS_HOST="localhost",
            CONTROL_PLANE_HOST="control.localhost",
            PUBLIC_PORT=str(public_port),
            CERT_DIR=str(certs),
            POD_SERVER=f"127.0.0.1:{css_port}",
            CONTROL_PLANE=f"127.0.0.1:{free_loopback_port()}",
            ADMISSION=f"127.0.0.1:{admission.port}",
            ACCESS_LOG=str(prefix / "access.log"),
            HEALTH_PORT=str(free_loopback_port()),
        )
        prefix.mkdir()
        (prefix / "default.conf").write_text(_render(_templates()["gateway"], values))
        nginx = Nginx(
            prefix,
            port=public_port,
            css_port=css_port,
            admission_port=admission.port,
            cert=certs / "server.pem",
            key=certs / "server.key",
        )
        nginx.config = _main_config(prefix, prefix / "default.conf")
        nginx.start()
        try:
            with PodServerBehindNginx(public_port=public_port, ca=certs / "ca.pem", port=css_port):
                base = f"https://localhost:{public_port}/"
                ca = str(certs / "ca.pem")
                with requests.Session() as http:
                    http.trust_env = False
                    assert http.get(base + ".well-known/openid-configuration", verify=ca).ok
                    assert http.get(base, verify=ca).status_code == 495
                    with key.tls_files(certificate) as cert_files:
                        refused = http.get(base, verify=ca, cert=cert_files)
                        assert refused.status_code == 495  # the shipped policy admits nobody
                        policy.write_text(
                            f'code_digests = ["{measure_datacage_code()}"]\n'
                            f'bundle_digests = ["{APPROVED_BUNDLE}"]\n'
                            'allow_software = true\nsoftware_key_files = ["cage.pub"]\n'
                        )
                        (policy.parent / "cage.pub").write_text(provider.public_key_pem())
                        admitted = http.get(base, verify=ca, cert=cert_files)
                    assert admitted.status_code != 495, admitted.text
                pod_reads = _logged(prefix / "access.log", '"GET / HTTP', 3)
                assert [f"127.0.0.1:{css_port}" in line for line in pod_reads] == [
                    False,
                    False,
                    True,
                ]
        finally:
            nginx.stop()


def _logged(log: Path, needle: str, count: int) -> list[str]:
    """The access log's lines with `needle`, waiting briefly: nginx logs after the reply."""
    for _ in range(100):
        lines = [line for line in log.read_text().splitlines() if needle in line]
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"{log} has {len(lines)} of {count} lines with {needle!r}")
