"""docker/: the images and the compose file, checked as far as this machine allows.

Without a Docker daemon (this machine has the CLI only) nothing can be built or started, so
what can be checked for real is checked for real: the compose file's services, users,
capabilities, networks and volumes; the nginx templates rendered and run by the real Debian
nginx, the gateway in front of a real CSS and the real admission service; every path the
Dockerfiles copy; the commands they run, against our own CLI; the health check script against
a real HTTP server and the worker's real heartbeat. `docker build` runs only where `docker
info` answers, and says so when it skips.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template

import pytest
import requests
import yaml

from connectors.solid.css.process import free_loopback_port
from server.attestation import (
    EnclaveKey,
    Measurement,
    SoftwareAttestationProvider,
    client_certificate,
    measure_datacage_code,
)
from tests.support.nginx import AdmissionServer, Nginx, PodServerBehindNginx

ROOT = Path(__file__).parents[2]
DOCKER = ROOT / "docker"
DATACAGE = ROOT / ".venv" / "bin" / "datacage"
DOCKERFILES = {
    "control-plane": DOCKER / "control-plane.Dockerfile",
    "datacage": DOCKER / "datacage.Dockerfile",
    "css": DOCKER / "css.Dockerfile",
}
APPROVED_BUNDLE = "sha256:" + "ab" * 32

# --- Reading the compose file as compose would --------------------------------------------------

_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?::-([^}]*))?\}")


def interpolate(value: object, environ: dict[str, str]) -> object:
    """Compose's `${NAME}` / `${NAME:-default}` substitution (`$$` is a `$`), on every string."""
    if isinstance(value, str):
        return _VARIABLE.sub(
            lambda m: "$" if m[0] == "$$" else environ.get(m[1]) or (m[2] or ""), value
        )
    if isinstance(value, list):
        return [interpolate(v, environ) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, environ) for k, v in value.items()}
    return value


class _StrictLoader(yaml.SafeLoader):
    """Refuses a key given twice in one mapping, as compose's own YAML parser does."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    keys = [key.value for key, _ in node.value]
    twice = {key for key in keys if keys.count(key) > 1}
    if twice:
        raise yaml.constructor.ConstructorError(
            None, None, f"keys given twice: {twice}", node.start_mark
        )
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@pytest.fixture(scope="module")
def compose() -> dict:
    text = (DOCKER / "compose.yaml").read_text()
    return interpolate(yaml.load(text, Loader=_StrictLoader), {})  # noqa: S506 - a safe loader


def _volumes(service: dict) -> dict[str, str]:
    """target -> source of a service's short-syntax volumes."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def _dockerfile(service: str) -> str:
    return DOCKERFILES[service].read_text()


def _final_stage(text: str) -> str:
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[-1]


def _instructions(text: str, name: str) -> list[str]:
    """The arguments of every `name` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [m[1].strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, flags=re.MULTILINE)]


def test_the_compose_file_brings_up_the_whole_product(compose):
    assert set(compose["services"]) == {
        "certs", "identity", "css", "control-plane", "admission", "entrance", "gateway",
        "datacage",
    }  # fmt: skip
    services = compose["services"]
    assert _volumes(services["css"])["/data"] == "pods"
    assert _volumes(services["control-plane"])["/var/lib/datacage"] == "control-plane"
    assert _volumes(services["datacage"])["/var/lib/datacage-worker"] == "datacage"
    for name in ("entrance", "gateway"):
        assert _volumes(services[name])["/etc/nginx/certs"] == "certs"
    assert _volumes(services["identity"])["/var/lib/datacage-identity"] == "cage-identity"
    assert _volumes(services["datacage"])["/run/datacage-identity"] == "cage-identity"
    kept = {"certs", "cage-identity", "pods", "control-plane", "datacage"}
    assert set(compose["volumes"]) == kept
    for service in services.values():
        for source in _volumes(service).values():
            if source.startswith("."):
                assert (DOCKER / source).is_dir(), source


def test_only_the_datacage_runs_as_root_and_with_exactly_the_capabilities_its_sandbox_needs(
    compose,
):
    services = compose["services"]
    for name in ("certs", "identity", "css", "control-plane", "admission"):
        assert services[name]["user"].split(":")[0] not in ("0", "root"), name
        assert services[name]["cap_drop"] == ["ALL"], name
    cage = services["datacage"]
    assert cage["user"] == "0:0"
    assert cage["cap_drop"] == ["ALL"]
    needed = {"SYS_ADMIN", "CHOWN", "DAC_OVERRIDE", "SETUID", "SETGID", "KILL"}
    assert set(cage["cap_add"]) == needed
    assert {"systempaths=unconfined", "apparmor=unconfined", "no-new-privileges:true"} <= set(
        cage["security_opt"]
    )
    assert cage["init"] is True
    assert not any(s.get("privileged") for s in services.values())
    assert "USER datacage" in _final_stage(_dockerfile("control-plane"))
    assert "USER node" in _final_stage(_dockerfile("css"))


def test_the_datacage_reaches_only_the_gateway(compose):
    services, networks = compose["services"], compose["networks"]
    assert networks["cage"]["internal"] is True
    assert services["datacage"]["networks"] == ["cage"]
    on_cage = {name for name, s in services.items() if "cage" in (s.get("networks") or {})}
    assert on_cage == {"datacage", "gateway"}
    hosts = {"pods.localhost", "datacage.localhost"}
    assert set(services["gateway"]["networks"]["cage"]["aliases"]) == hosts
    assert set(services["entrance"]["networks"]["public"]["aliases"]) == hosts
    assert services["entrance"]["ports"] == ["127.0.0.1:8443:8443"]
    assert "ports" not in services["gateway"]


def test_every_long_running_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if name in ("certs", "identity"):
            assert service["restart"] == "no"  # a one-shot
            continue
        image_check = name in DOCKERFILES and _instructions(_dockerfile(name), "HEALTHCHECK")
        assert service.get("healthcheck") or image_check, name
    assert _instructions(_dockerfile("control-plane"), "HEALTHCHECK")


def test_the_urls_agree_with_each_other(compose):
    services = compose["services"]
    css_command = services["css"]["command"]
    pods = css_command[css_command.index("-b") + 1]
    plane, cage = services["control-plane"]["environment"], services["datacage"]["environment"]
    assert pods == "https://pods.localhost:8443/"
    assert cage["DATACAGE_ISSUER"] == pods
    assert plane["DATACAGE_DATACAGE_WEBID"] == pods + "datacage/profile/card#me"
    # The worker's DPoP proofs name the URL it calls; the control plane checks them against
    # its public URL, so the two must be the same string.
    assert cage["DATACAGE_CONTROL_PLANE"] == plane["DATACAGE_PUBLIC_URL"]


def test_secrets_come_from_files_never_from_the_compose_file_or_the_images(compose):
    services = compose["services"]
    cage = services["datacage"]
    secret_file = cage["environment"]["DATACAGE_CLIENT_SECRET_FILE"]
    assert secret_file == "/run/datacage-identity/client_secret"
    assert _volumes(cage)["/run/datacage-identity"] == "cage-identity"
    assert "cage-identity:/run/datacage-identity:ro" in cage["volumes"]
    for service in services.values():
        for key in service.get("environment", {}):
            assert "SECRET" not in key or key.endswith("_FILE"), key
        assert "secrets" not in service or service["secrets"] == []
    for path in DOCKERFILES.values():
        assert not re.search(r"^(ENV|ARG)\s+\S*SECRET", path.read_text(), flags=re.MULTILINE)


def test_docker_compose_itself_accepts_the_file():
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI on this machine")
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed here; the YAML was checked above")
    result = subprocess.run(
        ["docker", "compose", "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- The Dockerfiles -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_every_path_a_dockerfile_copies_exists_and_is_sent_to_the_daemon(name):
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [c for c in _instructions(_dockerfile(name), "COPY") if "--from=" not in c]
    assert copies
    for copy in copies:
        *sources, _target = shlex.split(copy)
        for source in sources:
            assert (ROOT / source).exists(), f"{name}: COPY {source}"
            assert not any(fnmatch.fnmatch(source.rstrip("/"), pattern) for pattern in ignored)


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_base_images_are_the_official_ones_pinned_by_tag(name):
    images = {line.split()[0] for line in _instructions(_dockerfile(name), "FROM")}
    assert images <= {"python:3.11-slim-bookworm", "node:20-bookworm-slim"}, images


def _datacage_help(*words: str) -> str:
    result = subprocess.run(
        [str(DATACAGE), *words, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"datacage {' '.join(words)}: {result.stderr}"
    return result.stdout


def _command(instruction: str) -> list[str]:
    return yaml.safe_load(instruction)  # a JSON array is YAML too


def test_the_images_commands_are_our_cli_s():
    plane = _command(_instructions(_dockerfile("control-plane"), "CMD")[-1])
    assert plane[:2] == ["datacage", "serve"]
    options = _datacage_help("serve")
    assert all(word in options for word in plane[2:] if word.startswith("--"))
    cage = _command(_instructions(_dockerfile("datacage"), "CMD")[-1])
    assert cage == ["datacage", "worker"]
    _datacage_help("worker")


def test_every_variable_the_compose_file_gives_the_worker_is_one_it_reads(compose):
    from server.cli import worker

    read = {param.envvar for param in worker.params if param.envvar}
    cage = compose["services"]["datacage"]
    given = set(cage["environment"])
    # The client id comes from the identity volume, set by the command's shell.
    assert cage["command"][:2] == ["sh", "-c"]
    assert cage["command"][2] == (
        'DATACAGE_CLIENT_ID="$(cat /run/datacage-identity/client_id)" exec datacage worker'
    )
    assert given | {"DATACAGE_CLIENT_ID"} == read, given ^ read


def test_the_compose_commands_are_our_cli_s(compose):
    admission = compose["services"]["admission"]["command"]
    assert admission[:2] == ["datacage", "admission"]
    options = _datacage_help("admission")
    assert all(word in options for word in admission[2:] if word.startswith("--"))
    image = _dockerfile("control-plane")
    for service, script in (("certs", "make_certs.py"), ("identity", "bootstrap_identity.py")):
        command = compose["services"][service]["command"]
        assert command[:2] == ["python", f"/opt/datacage/share/{script}"]
        assert f"COPY docker/{script} /opt/datacage/share/{script}" in image
    identity = compose["services"]["identity"]["command"]
    assert identity[2] == compose["services"]["datacage"]["environment"]["DATACAGE_ISSUER"]
    webid = compose["services"]["control-plane"]["environment"]["DATACAGE_DATACAGE_WEBID"]
    assert webid == f"{identity[2]}{identity[3]}/profile/card#me"


def test_a_non_editable_install_carries_every_file_of_our_packages():
    """The images `pip install .`: files the package data globs miss are missing there."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config["package-data"]
    tracked = subprocess.run(
        ["git", "ls-files", "server", "connectors", "vocab", "datafuse", "datacage_sdk"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for path in tracked:
        if path.endswith(".py"):
            continue
        parts = path.split("/")
        covered = any(
            fnmatch.fnmatch("/".join(parts[i:]), pattern)
            for i in range(1, len(parts))
            for pattern in globs.get(".".join(parts[:i]), [])
        )
        assert covered, f"{path} is not in [tool.setuptools.package-data]"


def test_the_admission_policy_as_shipped_admits_nobody():
    from server.attestation.admission import load_policy

    policy = load_policy(DOCKER / "admission" / "policy.toml")
    assert not policy.code_digests
    assert not policy.bundle_digests
    assert not policy.allow_software


# --- nginx: the templates, rendered and run by the real nginx -------------------------------------


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


@functools.cache
def _script(name: str) -> object:
    """A script of docker/, copied into the image: not a module of ours, so loaded by path."""
    spec = importlib.util.spec_from_file_location(f"docker_{name}", DOCKER / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _make_certs() -> Callable[..., bool]:
    return _script("make_certs").make_certs  # type: ignore[attr-defined]


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


# --- Health checks ---------------------------------------------------------------------------


def _healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(DOCKER / "healthcheck.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_the_http_health_check_against_a_real_server():
    from werkzeug.serving import make_server

    from server import create_app

    app = create_app({"TESTING": True, "REGISTRY_PATH": ":memory:"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        healthy = _healthcheck("http", base + "/healthz")
        assert (healthy.returncode, healthy.stdout.strip()) == (0, "healthy")
        assert _healthcheck("http", base + "/no-such-page").returncode == 1
        assert _healthcheck("http", base + "/no-such-page", "--expect", "404").returncode == 0
    finally:
        server.shutdown()
        server.server_close()
    gone = _healthcheck("http", base + "/healthz", "--timeout", "2")
    assert gone.returncode == 1
    assert "did not answer" in gone.stdout


def test_the_worker_heartbeat_is_what_the_datacage_health_check_reads(tmp_path):
    """`Worker.serve` touches the file after a look for work; the check reads its age."""
    from server.datacage.control_plane import ControlPlaneError
    from server.datacage.worker import Worker

    heartbeat = tmp_path / "heartbeat"
    missing = _healthcheck("heartbeat", str(heartbeat))
    assert missing.returncode == 1
    assert "no heartbeat yet" in missing.stdout

    worker = Worker.__new__(Worker)  # the loop only: no identity provider, no control plane
    stop = threading.Event()
    looks = []

    def look_for_work() -> None:
        looks.append(heartbeat.exists())
        if len(looks) == 1:
            raise ControlPlaneError("the control plane is down")  # no beat after this one
        stop.set()  # this look reached the control plane: a beat, then the loop ends

    worker.run_once = look_for_work  # type: ignore[method-assign]
    worker.serve(stop, poll_seconds=0.01, heartbeat=heartbeat)
    assert looks == [False, False]
    assert heartbeat.exists()
    assert _healthcheck("heartbeat", str(heartbeat), "--max-age", "60").returncode == 0
    old = (datetime.now(UTC) - timedelta(minutes=20)).timestamp()
    os.utime(heartbeat, (old, old))
    stale = _healthcheck("heartbeat", str(heartbeat), "--max-age", "600")
    assert stale.returncode == 1
    assert "old" in stale.stdout


def test_make_certs_keeps_its_ca_and_names_every_host(tmp_path):
    from cryptography import x509

    make_certs = _make_certs()
    assert make_certs(tmp_path, ["pods.localhost", "datacage.localhost"]) is True
    ca = (tmp_path / "ca.pem").read_bytes()
    assert make_certs(tmp_path, ["pods.localhost", "datacage.localhost"]) is False
    assert (tmp_path / "ca.pem").read_bytes() == ca
    assert make_certs(tmp_path, ["pods.localhost", "other.localhost"]) is True  # a new name
    assert (tmp_path / "ca.pem").read_bytes() == ca
    server = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["pods.localhost", "other.localhost"]
    for secret in ("ca.key", "server.key"):
        assert (tmp_path / secret).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "trust.pem").read_text().endswith(ca.decode())


def _image_health_command(name: str) -> list[str]:
    return _command(_instructions(_dockerfile(name), "HEALTHCHECK")[-1].split("CMD", 1)[1])


@pytest.mark.css
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start CSS as the image's uid 1000")
def test_the_css_health_check_against_css_started_as_compose_starts_it(compose, tmp_path):
    """CSS with the compose file's arguments, as uid 1000 on a read-only root (bubblewrap
    stands in for the container): it starts, writes only its data folder, and the image's
    own health check command, with the compose file's environment, says healthy."""
    service = compose["services"]["css"]
    argv = list(service["command"])
    port = free_loopback_port()
    assert argv[argv.index("-p") + 1] == "3000"
    argv[argv.index("-p") + 1] = str(port)
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 1000, 1000)
    inside = "/tmp/data"  # noqa: S108 - under the sandbox's own tmpfs, not the host's /tmp
    argv[argv.index("-f") + 1] = inside
    loopback = ROOT / "connectors" / "solid" / "css" / "loopback.cjs"  # this machine's rule
    server = ROOT / "node_modules" / "@solid" / "community-server" / "bin" / "server.js"
    sandbox = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # Docker mounts a `tmpfs:` world-writable and sticky, as here.
    sandbox += ["--perms", "1777", "--tmpfs", "/tmp", "--bind", str(data), inside]  # noqa: S108
    sandbox += ["--die-with-parent", "--"]
    sandbox += ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups"]
    css = subprocess.Popen(
        [*sandbox, "env", "-i", "PATH=/usr/bin:/bin", "node", "-r", str(loopback), str(server),
         *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    check = _image_health_command("css")
    assert check[:2] == ["node", "-e"]
    probe = [*check[:2], check[2].replace("port: 3000", f"port: {port}")]
    environment = {"PATH": "/usr/bin:/bin", **service["environment"]}
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(probe, env=environment, check=False).returncode != 0:
            assert css.poll() is None, css.stdout.read().decode() if css.stdout else ""
            assert time.monotonic() < deadline, "CSS did not become healthy in 60 s"
            time.sleep(0.5)
        wrong = {**environment, "POD_PUBLIC_PROTO": "http"}  # not as nginx asks: not healthy
        assert subprocess.run(probe, env=wrong, check=False).returncode == 1
        assert (data / ".internal").is_dir()
    finally:
        os.killpg(css.pid, signal.SIGTERM)
        css.wait(timeout=10)


def _image_env(name: str) -> dict[str, str]:
    """The final stage's ENV instructions (KEY=VALUE form), PATH left out."""
    found = {}
    for instruction in _instructions(_final_stage(_dockerfile(name)), "ENV"):
        for word in shlex.split(instruction):
            key, _, value = word.partition("=")
            found[key] = value
    found.pop("PATH", None)
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the server as the image's uid")
def test_the_control_plane_serves_as_its_image_runs_it(compose, tmp_path):
    """`datacage serve --production` as the image's uid 10001 on a read-only root with only its
    data folder writable (bubblewrap stands in for the container), with the image's and the
    compose file's environment: it starts, keeps its session key in the data folder (0600),
    and the image's own health check command says healthy."""
    command = _command(_instructions(_dockerfile("control-plane"), "CMD")[-1])
    port = free_loopback_port()
    command[command.index("--host") + 1] = "127.0.0.1"  # only loopback on this machine
    command[command.index("--port") + 1] = str(port)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chown(data, 10001, 10001)
    inside = "/tmp/data"  # noqa: S108 - under the sandbox's own tmpfs, not the host's /tmp
    environment = {
        "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
        **_image_env("control-plane"),
        **compose["services"]["control-plane"]["environment"],
        "DATACAGE_DATA_DIR": inside,
    }
    # The interpreter may live under /root (pyenv): a tmpfs over /root keeps only it visible.
    python = Path(os.path.realpath(ROOT / ".venv" / "bin" / "python"))
    sandbox = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if str(python).startswith("/root/"):
        home = Path("/root", python.relative_to("/root").parts[0])
        sandbox += ["--tmpfs", "/root", "--ro-bind", str(home), str(home)]
    # Docker mounts a `tmpfs:` world-writable and sticky, as here.
    sandbox += ["--perms", "1777", "--tmpfs", "/tmp", "--bind", str(data), inside]  # noqa: S108
    sandbox += ["--die-with-parent", "--"]
    sandbox += ["setpriv", "--reuid", "10001", "--regid", "10001", "--clear-groups", "env", "-i"]
    sandbox += [f"{key}={value}" for key, value in environment.items()]
    server = subprocess.Popen(
        [*sandbox, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    check = _image_health_command("control-plane")
    assert check[1:3] == ["/usr/local/bin/datacage-healthcheck", "http"]
    probe = [str(ROOT / ".venv" / "bin" / "python"), str(DOCKER / "healthcheck.py"), "http"]
    probe.append(check[3].replace(":5000/", f":{port}/"))
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "the control plane did not answer in 60 s"
            time.sleep(0.3)
        key = data / "secret_key"
        assert key.stat().st_uid == 10001
        assert key.stat().st_mode & 0o777 == 0o600
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


_SANDBOX_PROBE = """
import sys
from pathlib import Path
from server.datacage.sandbox import run_algorithm
from tests.integration.test_sandbox import FAST, PEOPLE, make_bundle, stage_inputs
root = Path(sys.argv[2])
bundle = make_bundle(root / "src", sys.argv[1])
inputs = stage_inputs(root / "in", PEOPLE)
ran = run_algorithm(bundle.files, bundle.digest, inputs, root / "out", {}, limits=FAST,
                    work_dir=root / "work")
print(ran.outcome.name)
"""
_RESULT = (
    "def run(ctx):\n    return '@prefix ex: <https://example.org/t#> .\\n[] a ex:Report .\\n'\n"
)
_SLEEPER = "import time\ndef run(ctx):\n    time.sleep(30)\n"


def _sandbox_with(caps: set[str], body: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """One real run through `run_algorithm` as root with only `caps`, on a read-only root with
    a writable work folder and an unmasked /proc, as in the container (bubblewrap stands in)."""
    folder.mkdir(parents=True)
    bounding = ",".join(["-all", *sorted(f"+{cap.lower()}" for cap in caps)])
    python = str(ROOT / ".venv" / "bin" / "python")
    container = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--bind", "/proc", "/proc"]
    container += ["--perms", "1777", "--tmpfs", "/tmp", "--bind", str(folder), str(folder)]  # noqa: S108
    container += ["--die-with-parent", "--"]
    return subprocess.run(
        [*container, "setpriv", "--bounding-set", bounding, "--inh-caps", "-all",
         "--no-new-privs", python, "-c", _SANDBOX_PROBE, body, str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as the datacage's container runs")
def test_the_sandbox_needs_exactly_the_capabilities_the_compose_file_grants(compose, tmp_path):
    granted = set(compose["services"]["datacage"]["cap_add"])
    ran = _sandbox_with(granted, _RESULT, tmp_path / "all")
    assert ran.stdout.strip() == "SUCCEEDED", ran.stderr
    for cap in sorted(granted - {"KILL"}):
        ran = _sandbox_with(granted - {cap}, _RESULT, tmp_path / cap)
        assert ran.stdout.strip() == "REFUSED", f"without {cap}: {ran.stdout} {ran.stderr[-500:]}"
    # KILL: a run that outlives its wall clock belongs to another uid, and must be killed.
    assert _sandbox_with(granted, _SLEEPER, tmp_path / "sleep").stdout.strip() == "TIMED_OUT"
    ran = _sandbox_with(granted - {"KILL"}, _SLEEPER, tmp_path / "sleep-without-kill")
    assert ran.stdout.strip() != "TIMED_OUT"
    assert "PermissionError" in ran.stderr


@pytest.mark.css
def test_the_identity_bootstrap_makes_working_client_credentials_once(css, tmp_path):
    from connectors.solid import SolidSession

    bootstrap = _script("bootstrap_identity").bootstrap  # type: ignore[attr-defined]
    pod = f"cage-{os.urandom(4).hex()}"
    out = tmp_path / "identity"
    assert bootstrap(css.base_url, pod, out, within=30) is True
    for name in ("client_id", "client_secret", "webid", "account.json"):
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    webid = (out / "webid").read_text().strip()
    assert webid == f"{css.base_url}{pod}/profile/card#me"
    session = SolidSession.from_client_credentials(
        css.issuer, (out / "client_id").read_text(), (out / "client_secret").read_text()
    )
    assert session.webid == webid
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert bootstrap(css.base_url, pod, out, within=30) is False  # a restart keeps it
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_identity_bootstrap_says_when_the_pod_server_never_answers(tmp_path):
    script = DOCKER / "bootstrap_identity.py"
    url = f"http://127.0.0.1:{free_loopback_port()}/"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c",
         "import runpy, sys; mod = runpy.run_path(sys.argv[1]); "
         "mod['bootstrap'](sys.argv[2], 'cage', __import__('pathlib').Path(sys.argv[3]), within=1)",
         str(script), url, str(tmp_path / "out")],
        capture_output=True, text=True, check=False, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"The pod server at {url} did not answer within 1 s." in result.stderr
    assert not (tmp_path / "out" / "client_id").exists()


# --- Building the images, where a daemon exists ----------------------------------------------


def _daemon() -> str | None:
    """Why images cannot be built here, or None when a Docker daemon answers."""
    if shutil.which("docker") is None:
        return "no docker CLI on this machine"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return "the docker CLI is here but no Docker daemon answers `docker info`"
    return None


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_the_image_builds(name):
    reason = _daemon()
    if reason:
        pytest.skip(f"{reason}: `docker build` of docker/{name}.Dockerfile was not run")
    result = subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILES[name]), "-t", f"datacage-{name}:test", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1700,
    )
    assert result.returncode == 0, result.stderr[-4000:]
