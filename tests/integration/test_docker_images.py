"""docker/'s images, built and run for real: with Docker where its daemon answers, with Podman
(no daemon) where it is installed, on a Debian base made locally (tests/support/containers.py).

Each engine builds the three images once per session; the tests share them. Build times and
image sizes are printed in the test output (`name=value` lines). An engine that is missing is
skipped with its reason; the tests run with every engine that is here.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from connectors.solid.css.process import free_loopback_port
from server.algorithms import build_bundle
from tests.support.containers import (
    RUN_OPTIONS,
    Built,
    Engine,
    available_engines,
    base_image,
    container,
    engine_params,
    logs,
    report,
    run_once,
    session_images,
)
from tests.support.docker_files import DOCKERFILES, load_compose
from tests.support.sandbox_runs import PEOPLE, make_bundle, stage_inputs

ENGINES = available_engines()
HARDENED = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]  # noqa: S108 - in the container
HARDENED += ["--security-opt", "no-new-privileges"]


@pytest.fixture(scope="session", params=engine_params(ENGINES))
def engine(request) -> Engine:
    found = ENGINES[request.param]
    if isinstance(found, str):
        pytest.skip(f"{request.param}: {found}")
    return found


@pytest.fixture(scope="session")
def images(engine, request) -> dict[str, Built]:
    """All images, built once per engine and session on the locally made base."""
    started = time.monotonic()
    base = base_image(engine)
    report(request, f"container_base_{engine.name}_s={time.monotonic() - started:.1f}")
    report(request, f"container_base_{engine.name}_mb={engine.image_size(base) / 1e6:.0f}")
    built = session_images(engine)
    for name, image in built.items():
        report(request, f"image_build_{engine.name}_{name}_s={image.seconds:.1f}")
        report(request, f"image_size_{engine.name}_{name}_mb={image.size / 1e6:.0f}")
    return built


@pytest.mark.timeout(3600)
def test_every_image_builds_on_the_engine(images):
    assert set(images) == set(DOCKERFILES)
    assert all(image.size > 0 for image in images.values())


@pytest.mark.timeout(3600)
def test_the_control_plane_image_serves_healthz_as_a_non_root_user(engine, images):
    port = free_loopback_port()
    image = images["control-plane"].tag
    options = [*HARDENED, "-v", "/var/lib/datacage", "-p", f"127.0.0.1:{port}:5000"]
    options += ["-e", f"DATACAGE_PUBLIC_URL=http://localhost:{port}/"]
    with container(engine, image, *options) as name:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
                if answer.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, logs(engine, name)
            time.sleep(0.5)
        assert answer.json() == {"status": "ok"}
        assert engine.run("exec", name, "id", "-u").strip() == "10001"
        # The image's own health check, as the engine runs it.
        check = engine.run("exec", name, "python", "/usr/local/bin/datacage-healthcheck",
                           "http", "http://127.0.0.1:5000/healthz")  # fmt: skip
        assert "healthy" in check


@pytest.mark.timeout(3600)
def test_the_worker_image_has_bubblewrap_and_our_worker(engine, images):
    image = images["datacage"].tag
    script = (
        "bwrap --version && python -c 'import ctypes.util, sys;"
        ' sys.exit(ctypes.util.find_library("seccomp") is None)\''
        " && datacage worker --help > /dev/null && id -u"
    )
    out = run_once(engine, image, "--network", "none", *HARDENED, command=["sh", "-c", script])
    assert out.startswith("bubblewrap ")
    assert out.split()[-1] == "0"  # root inside, with only the compose file's capabilities


@pytest.mark.timeout(3600)
def test_the_css_image_starts_and_serves_its_openid_configuration(engine, images):
    port = free_loopback_port()
    options = [*HARDENED, "-v", "/data", "-p", f"127.0.0.1:{port}:3000"]
    command = ["-c", "@css:config/file.json", "-f", "/data", "-p", "3000"]
    command += ["-b", f"http://localhost:{port}/", "-l", "warn"]
    with container(engine, images["css"].tag, *options, command=command) as name:
        deadline = time.monotonic() + 90
        url = f"http://localhost:{port}/.well-known/openid-configuration"
        while True:
            try:
                answer = requests.get(url, timeout=3)
                if answer.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, logs(engine, name)
            time.sleep(0.5)
        assert answer.json()["issuer"] == f"http://localhost:{port}/"
        assert engine.run("exec", name, "id", "-un").strip() == "node"


_SANDBOX_RUN = """
import sys
from pathlib import Path
from server.algorithms import read_bundle
from server.datacage.sandbox import SandboxLimits, run_algorithm
root, name, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
bundle = read_bundle((root / f"{name}.zip").read_bytes())
limits = SandboxLimits(cpu_seconds=2, memory_bytes=256 << 20, wall_seconds=3.0, processes=16,
                       output_bytes=1 << 20, log_bytes=64 << 10, tmp_bytes=8 << 20)
try:
    ran = run_algorithm(bundle.files, bundle.digest, root / "in", root / out, {},
                        limits=limits, work_dir=root / f"work-{out}")
except PermissionError:
    print("PermissionError")
else:
    print(ran.outcome.name, ran.reason)
"""
_REPORT = (
    "def run(ctx):\n    return '@prefix ex: <https://example.org/t#> .\\n[] a ex:Report .\\n'\n"
)
_SLEEPER = "import time\ndef run(ctx):\n    time.sleep(30)\n"


@pytest.mark.timeout(3600)
def test_the_worker_container_runs_the_sandbox_with_exactly_the_compose_file_s_capabilities(
    engine, images, tmp_path: Path
):
    """Real algorithm runs through `run_algorithm` in the worker image, started with the
    compose file's user, capabilities and security options: a run succeeds and a run past its
    wall clock is killed; without any one of the six capabilities that no longer holds."""
    cage = load_compose()["services"]["datacage"]
    for name, body in (("report", _REPORT), ("sleeper", _SLEEPER)):
        make_bundle(tmp_path / name, body)
        (tmp_path / f"{name}.zip").write_bytes(build_bundle(tmp_path / name))
    stage_inputs(tmp_path / "in", PEOPLE)
    (tmp_path / "run.py").write_text(_SANDBOX_RUN)
    inside = "/var/lib/datacage-worker/probe"
    options = ["--network", "none", "--read-only", "--tmpfs", "/tmp", "--user", cage["user"]]  # noqa: S108
    options += ["--init", "-v", f"{tmp_path}:{inside}", "--cap-drop", "ALL"]
    options += ["--security-opt", "no-new-privileges", "--security-opt", "apparmor=unconfined"]
    options += ["--security-opt", engine.unmasked_proc]
    assert set(cage["security_opt"]) == {
        "no-new-privileges:true", "systempaths=unconfined", "apparmor=unconfined"
    }  # fmt: skip
    assert cage["init"] is True
    granted = cage["cap_add"]

    def outcome(bundle: str, missing: str | None) -> str:
        caps = ",".join(cap for cap in granted if cap != missing)
        out = run_once(
            engine, images["datacage"].tag, *options, "--cap-add", caps,
            command=["python", f"{inside}/run.py", inside, bundle, f"{bundle}-{missing}"],
        )  # fmt: skip
        return out.split()[0] if out.split() else "NOTHING"

    assert outcome("report", None) == "SUCCEEDED"
    for cap in granted:
        if cap != "KILL":
            assert outcome("report", cap) == "REFUSED", f"without {cap}"
    # KILL: a run that outlives its wall clock belongs to uid 65534, and must be killed.
    assert outcome("sleeper", None) == "TIMED_OUT"
    assert outcome("sleeper", "KILL") == "PermissionError"


@pytest.mark.timeout(3600)
def test_the_nginx_image_renders_set_variables_and_leaves_nginx_s_own(engine, images, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "default.conf.template").write_text(
        'server { listen ${LISTEN_PORT}; location / { return 200 "$host $request_uri"; } }\n'
    )
    mount = ["-v", f"{templates}:/etc/nginx/templates:ro", "-e", "LISTEN_PORT=8443"]
    script = "nginx -t -q && cat /etc/nginx/conf.d/default.conf"
    out = run_once(engine, images["nginx"].tag, *mount, command=["sh", "-c", script])
    assert "listen 8443;" in out
    assert '"$host $request_uri"' in out  # nginx's own variables untouched


@pytest.mark.timeout(3600)
def test_the_nginx_image_refuses_to_start_on_a_variable_that_is_not_set(engine, images, tmp_path):
    """A typo in compose's environment must stop the container, not start an nginx that
    listens on nothing or proxies to an empty host name."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "default.conf.template").write_text("server { listen ${NOT_SET_ANYWHERE}; }\n")
    mount = ["-v", f"{templates}:/etc/nginx/templates:ro"]
    started = subprocess.run(
        engine.command("run", "--rm", *RUN_OPTIONS, *mount, images["nginx"].tag),
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert started.returncode == 64, started.stdout + started.stderr
    assert "NOT_SET_ANYWHERE" in started.stderr
