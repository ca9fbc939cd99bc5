"""docker/ at run time, without a daemon: the health check script against a real server and
the worker's real heartbeat; make_certs.py and bootstrap_identity.py (against a real CSS); and
CSS, the control plane and the sandbox started as their images and the compose file start
them (their own uid, a read-only root, the compose file's capabilities), with bubblewrap
standing in for the container and the images' own HEALTHCHECK commands as the judges.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.solid.css.process import free_loopback_port
from tests.support.docker_files import (
    DOCKER,
    PYTHON,
    ROOT,
    image_command,
    image_env,
    image_health_command,
    load_compose,
    script,
)


def _private_tmp(*binds: str) -> list[str]:
    """A fresh /tmp as Docker's `tmpfs:` mounts it (world-writable, sticky), keeping this
    checkout visible if it lives under /tmp (CI may clone there), then `binds` (pairs)."""
    mounts = ["--perms", "1777", "--tmpfs", "/tmp"]  # noqa: S108
    if ROOT.resolve().is_relative_to("/tmp"):  # noqa: S108
        mounts += ["--ro-bind", str(ROOT.resolve()), str(ROOT.resolve())]
    return [*mounts, *binds]


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def _make_certs() -> Callable[..., bool]:
    return script("make_certs").make_certs


def _healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PYTHON), str(DOCKER / "healthcheck.py"), *args],
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
    worker.deliver_pending = lambda: None  # type: ignore[method-assign]
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
    sandbox += _private_tmp("--bind", str(data), inside)
    sandbox += ["--die-with-parent", "--"]
    sandbox += ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups"]
    css = subprocess.Popen(
        [*sandbox, "env", "-i", "PATH=/usr/bin:/bin", "node", "-r", str(loopback), str(server),
         *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    check = image_health_command("css")
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


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the server as the image's uid")
def test_the_control_plane_serves_as_its_image_runs_it(compose, tmp_path):
    """`datacage serve --production` as the image's uid 10001 on a read-only root with only its
    data folder writable (bubblewrap stands in for the container), with the image's and the
    compose file's environment: it starts, keeps its session key in the data folder (0600),
    and the image's own health check command says healthy."""
    command = image_command("control-plane")
    port = free_loopback_port()
    command[command.index("--host") + 1] = "127.0.0.1"  # only loopback on this machine
    command[command.index("--port") + 1] = str(port)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chown(data, 10001, 10001)
    inside = "/tmp/data"  # noqa: S108 - under the sandbox's own tmpfs, not the host's /tmp
    environment = {
        "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
        **image_env("control-plane"),
        **compose["services"]["control-plane"]["environment"],
        "DATACAGE_DATA_DIR": inside,
    }
    # The interpreter may live under /root (pyenv): a tmpfs over /root keeps only it visible.
    python = Path(os.path.realpath(ROOT / ".venv" / "bin" / "python"))
    sandbox = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if str(python).startswith("/root/"):
        home = Path("/root", python.relative_to("/root").parts[0])
        sandbox += ["--tmpfs", "/root", "--ro-bind", str(home), str(home)]
    sandbox += _private_tmp("--bind", str(data), inside)
    sandbox += ["--die-with-parent", "--"]
    sandbox += ["setpriv", "--reuid", "10001", "--regid", "10001", "--clear-groups", "env", "-i"]
    sandbox += [f"{key}={value}" for key, value in environment.items()]
    server = subprocess.Popen(
        [*sandbox, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    check = image_health_command("control-plane")
    assert check[1:3] == ["/usr/local/bin/datacage-healthcheck", "http"]
    probe = [str(PYTHON), str(DOCKER / "healthcheck.py"), "http"]
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
from tests.support.sandbox_runs import FAST, PEOPLE, make_bundle, stage_inputs
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
    python = str(PYTHON)
    container = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--bind", "/proc", "/proc"]
    container += _private_tmp("--bind", str(folder), str(folder))
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

    bootstrap = script("bootstrap_identity").bootstrap  # type: ignore[attr-defined]
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
        [str(PYTHON), "-c",
         "import runpy, sys; mod = runpy.run_path(sys.argv[1]); "
         "mod['bootstrap'](sys.argv[2], 'cage', __import__('pathlib').Path(sys.argv[3]), within=1)",
         str(script), url, str(tmp_path / "out")],
        capture_output=True, text=True, check=False, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"The pod server at {url} did not answer within 1 s." in result.stderr
    assert not (tmp_path / "out" / "client_id").exists()
