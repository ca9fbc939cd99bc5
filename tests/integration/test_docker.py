"""docker/: the compose file and the Dockerfiles, read as Docker would (the images are built
and run by tests/integration/test_docker_images.py).

What needs no daemon is checked here for real: the compose file's services, users,
capabilities, networks, volumes, secrets and URLs; every path the Dockerfiles copy; the
commands both run, against our own CLI. tests/integration/test_docker_nginx.py runs the nginx
configurations, test_docker_runtime.py the images' processes and health checks.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import tomllib

import pytest

from tests.support.docker_files import (
    DATACAGE,
    DOCKER,
    DOCKERFILES,
    ROOT,
    dockerfile,
    final_stage,
    image_command,
    instructions,
    load_compose,
    volumes_of,
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def test_the_compose_file_brings_up_the_whole_product(compose):
    assert set(compose["services"]) == {
        "certs", "identity", "css", "control-plane", "admission", "entrance", "gateway",
        "datacage",
        # A fleet of datacages (docs/operations.md), only with `--profile fleet`.
        "broker", "fleet-key", "fleet-worker", "fleet-beat",
    }  # fmt: skip
    fleet = {n for n, s in compose["services"].items() if s.get("profiles") == ["fleet"]}
    assert fleet == {"broker", "fleet-key", "fleet-worker", "fleet-beat"}
    services = compose["services"]
    assert volumes_of(services["css"])["/data"] == "pods"
    assert volumes_of(services["control-plane"])["/var/lib/datacage"] == "control-plane"
    assert volumes_of(services["datacage"])["/var/lib/datacage-worker"] == "datacage"
    for name in ("entrance", "gateway"):
        assert volumes_of(services[name])["/etc/nginx/certs"] == "certs"
    assert volumes_of(services["identity"])["/var/lib/datacage-identity"] == "cage-identity"
    assert volumes_of(services["datacage"])["/run/datacage-identity"] == "cage-identity"
    kept = {"certs", "cage-identity", "pods", "control-plane", "datacage"}
    kept |= {"broker", "fleet-key", "fleet-delivery"}  # the fleet's (profile `fleet`)
    assert set(compose["volumes"]) == kept
    for service in services.values():
        for source in volumes_of(service).values():
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
    assert "USER datacage" in final_stage(dockerfile("control-plane"))
    assert "USER node" in final_stage(dockerfile("css"))


def test_the_datacage_reaches_only_the_gateway(compose):
    services, networks = compose["services"], compose["networks"]
    assert networks["cage"]["internal"] is True
    assert services["datacage"]["networks"] == ["cage"]
    on_cage = {name for name, s in services.items() if "cage" in (s.get("networks") or {})}
    # The fleet's broker, workers and beat (profile `fleet`) share the internal network only.
    assert on_cage == {"datacage", "gateway", "broker", "fleet-worker", "fleet-beat"}
    for name in ("broker", "fleet-worker", "fleet-beat"):
        assert services[name]["networks"] == ["cage"], name
    hosts = {"pods.localhost", "datacage.localhost"}
    assert set(services["gateway"]["networks"]["cage"]["aliases"]) == hosts
    assert set(services["entrance"]["networks"]["public"]["aliases"]) == hosts
    assert services["entrance"]["ports"] == ["127.0.0.1:8443:8443"]
    assert "ports" not in services["gateway"]


def test_every_long_running_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if name in ("certs", "identity", "fleet-key"):
            assert service["restart"] == "no"  # a one-shot
            continue
        image_check = name in DOCKERFILES and instructions(dockerfile(name), "HEALTHCHECK")
        assert service.get("healthcheck") or image_check, name
    assert instructions(dockerfile("control-plane"), "HEALTHCHECK")


def test_the_urls_agree_with_each_other(compose):
    services = compose["services"]
    css_command = services["css"]["command"]
    pods = css_command[css_command.index("-b") + 1]
    plane, cage = services["control-plane"]["environment"], services["datacage"]["environment"]
    assert pods == "https://pods.localhost:8443/"
    assert cage["DATACAGE_ISSUER"] == pods
    assert plane["DATACAGE_WEBID"] == pods + "datacage/profile/card#me"
    # The worker's DPoP proofs name the URL it calls; the control plane checks them against
    # its public URL, so the two must be the same string.
    assert cage["DATACAGE_CONTROL_PLANE"] == plane["DATACAGE_PUBLIC_URL"]


def test_secrets_come_from_files_never_from_the_compose_file_or_the_images(compose):
    services = compose["services"]
    cage = services["datacage"]
    secret_file = cage["environment"]["DATACAGE_CLIENT_SECRET_FILE"]
    assert secret_file == "/run/datacage-identity/client_secret"
    assert volumes_of(cage)["/run/datacage-identity"] == "cage-identity"
    assert "cage-identity:/run/datacage-identity:ro" in cage["volumes"]
    for service in services.values():
        for key in service.get("environment", {}):
            assert "SECRET" not in key or key.endswith("_FILE"), key
        assert "secrets" not in service or service["secrets"] == []
    for path in DOCKERFILES.values():
        assert not re.search(r"^(ENV|ARG)\s+\S*SECRET", path.read_text(), flags=re.MULTILINE)


@pytest.mark.docker_daemon
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
    copies = [c for c in instructions(dockerfile(name), "COPY") if "--from=" not in c]
    assert copies
    for copy in copies:
        *sources, _target = shlex.split(copy)
        for source in sources:
            assert (ROOT / source).exists(), f"{name}: COPY {source}"
            assert not any(fnmatch.fnmatch(source.rstrip("/"), pattern) for pattern in ignored)


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_base_images_are_the_official_ones_pinned_by_tag_and_replaceable(name):
    """Every stage starts from BASE_IMAGE, whose default is the official image an operator
    pulls; the tests pass a Debian base made locally instead (test_docker_images.py)."""
    text = dockerfile(name)
    assert {line.split()[0] for line in instructions(text, "FROM")} == {"${BASE_IMAGE}"}
    defaults = instructions(text.split("FROM ", 1)[0], "ARG")
    assert len(defaults) == 1, defaults
    key, _, default = defaults[0].partition("=")
    assert key == "BASE_IMAGE"
    assert default in {"python:3.11-slim-bookworm", "node:20-bookworm-slim", "debian:bookworm-slim"}


def _datacage_help(*words: str) -> str:
    result = subprocess.run(
        [str(DATACAGE), *words, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"datacage {' '.join(words)}: {result.stderr}"
    return result.stdout


def test_the_images_commands_are_our_cli_s():
    plane = image_command("control-plane")
    assert plane[:2] == ["datacage", "serve"]
    options = _datacage_help("serve")
    assert all(word in options for word in plane[2:] if word.startswith("--"))
    cage = image_command("datacage")
    assert cage == ["datacage", "worker"]
    _datacage_help("worker")


def test_every_variable_the_compose_file_gives_the_worker_is_one_it_reads(compose):
    from server.config import WORKER_FLAGS

    read = {f"DATACAGE_{name}" for name in WORKER_FLAGS}
    cage = compose["services"]["datacage"]
    given = set(cage["environment"])
    # The client id comes from the identity volume, set by the command's shell.
    assert cage["command"][:2] == ["sh", "-c"]
    assert cage["command"][2] == (
        'DATACAGE_CLIENT_ID="$(cat /run/datacage-identity/client_id)" exec datacage worker'
    )
    # Development settings and the one-machine route to a gateway stay out of a deployment.
    optional = {"DATACAGE_ALLOW_PLAIN_HTTP_PODS", "DATACAGE_POD_GATEWAY"}
    # A fleet's settings: given to the `fleet-worker` service, not to the single datacage.
    fleet = {"DATACAGE_FLEET_BROKER_URL", "DATACAGE_DELIVERY_DIR", "DATACAGE_DELIVERY_KEY_FILE"}
    assert fleet <= set(compose["services"]["fleet-worker"]["environment"])
    optional |= fleet
    assert given | {"DATACAGE_CLIENT_ID"} | optional == read, given ^ read


def test_the_compose_commands_are_our_cli_s(compose):
    admission = compose["services"]["admission"]["command"]
    assert admission[:2] == ["datacage", "admission"]
    options = _datacage_help("admission")
    assert all(word in options for word in admission[2:] if word.startswith("--"))
    image = dockerfile("control-plane")
    for service, script in (("certs", "make_certs.py"), ("identity", "bootstrap_identity.py")):
        command = compose["services"][service]["command"]
        assert command[:2] == ["python", f"/opt/datacage/share/{script}"]
        assert f"COPY docker/{script} /opt/datacage/share/{script}" in image
    identity = compose["services"]["identity"]["command"]
    assert identity[2] == compose["services"]["datacage"]["environment"]["DATACAGE_ISSUER"]
    webid = compose["services"]["control-plane"]["environment"]["DATACAGE_WEBID"]
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


def test_the_datacage_s_build_stage_begins_as_the_control_plane_s_so_the_install_is_built_once():
    """The layer cache reuses a step only when every step before it is the same: the shared
    install must come before anything the datacage adds (its extras), word for word."""

    def build_steps(name: str) -> list[str]:
        stage = dockerfile(name).split("FROM ", 2)[1]
        joined = re.sub(r"\\\n\s*", " ", stage)
        return [line for line in joined.splitlines() if line and not line.startswith("#")]

    plane, cage = build_steps("control-plane"), build_steps("datacage")
    shared = plane.index(next(s for s in plane if "pip install ." in s)) + 1
    assert cage[:shared] == plane[:shared]
