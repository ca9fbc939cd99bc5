"""The operator's long-running commands, as docs/operations.md shows them, each its own
process: `datacage worker` (signed in at a real CSS as the datacage's WebID, asking a live
control plane for work), `datacage admission` (answering nginx's question), `datacage serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.datacage_world import serve_control_plane

DATACAGE = Path(sys.executable).with_name("datacage")


def test_the_worker_command_signs_in_and_asks_for_work(make_user, tmp_path):
    cage = make_user("cage")
    secret = tmp_path / "cage.secret"
    secret.write_text(cage.credentials.secret)
    secret.chmod(0o600)
    with serve_control_plane(tmp_path / "control-plane", cage.webid) as (base, _):
        done = subprocess.run(
            [str(DATACAGE), "worker", "--once", "--data-dir", str(tmp_path / "cage")],
            env={
                **os.environ,
                "DATACAGE_CONTROL_PLANE": base,
                "DATACAGE_ISSUER": cage.credentials.issuer,
                "DATACAGE_CLIENT_ID": cage.credentials.id,
                "DATACAGE_CLIENT_SECRET_FILE": str(secret),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert "No run was waiting." in done.stdout
    assert (tmp_path / "cage").stat().st_mode & 0o077 == 0  # the private folder, 0700


def test_a_wrong_secret_is_one_line_not_a_traceback(make_user, tmp_path):
    cage = make_user("cage")
    secret = tmp_path / "cage.secret"
    secret.write_text("not-the-secret")
    with serve_control_plane(tmp_path / "control-plane", cage.webid) as (base, _):
        done = subprocess.run(
            [
                *(str(DATACAGE), "worker", "--once", "--control-plane", base),
                *("--issuer", cage.credentials.issuer, "--client-id", cage.credentials.id),
                *("--client-secret-file", str(secret), "--data-dir", str(tmp_path / "cage")),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert "The identity provider refused" in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_admission_command_refuses_a_request_without_a_certificate(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'code_digests = ["sha256:{"a" * 64}"]\nbundle_digests = ["sha256:{"b" * 64}"]\n'
    )
    port = _free_port()
    served = subprocess.Popen(
        [str(DATACAGE), "admission", "--config", str(policy), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "Admission check on" in served.stdout.readline()
        answer = requests.get(
            f"http://127.0.0.1:{port}/", headers={"X-Original-URI": "/alice/"}, timeout=10
        )
        assert answer.status_code == 403
    finally:
        served.send_signal(signal.SIGINT)
        served.wait(timeout=10)
        served.stdout.close()
        served.stderr.close()


def test_the_admission_command_names_a_bad_policy(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("allow_softwar = true\n")
    done = subprocess.run(
        [str(DATACAGE), "admission", "--config", str(policy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "allow_softwar" in done.stderr


def test_the_serve_command_answers_its_health_check(tmp_path):
    port = _free_port()
    env = {**os.environ, "DATACAGE_DATA_DIR": str(tmp_path)}
    env.pop("DATACAGE_PUBLIC_URL", None)
    served = subprocess.Popen(
        [str(DATACAGE), "serve", "--production", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert "Datacage control plane on" in served.stdout.readline()
        answer = _get_when_up(f"http://127.0.0.1:{port}/healthz")
        assert answer.status_code == 200
    finally:
        served.send_signal(signal.SIGINT)
        served.wait(timeout=20)
        served.stdout.close()


def test_serve_refuses_two_processes_on_the_embedded_registry(tmp_path):
    done = subprocess.run(
        [str(DATACAGE), "serve", "--production", "--workers", "2", "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATACAGE_DATA_DIR": str(tmp_path)},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "one process only" in done.stderr


def _get_when_up(url: str) -> requests.Response:
    """gunicorn prints before it binds: retry briefly on a refused connection."""
    for _ in range(100):
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            time.sleep(0.1)
    return requests.get(url, timeout=5)
