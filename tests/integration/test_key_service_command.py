"""`datacage key-service`: the operator makes the key file, adds and retires fleet keys, and
serves release requests from a process of its own, which refuses in plain words."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import requests
from click.testing import CliRunner

from server.cli import main
from server.keyrelease.store import load

BUNDLE = "sha256:" + "2" * 64


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, ["key-service", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_operator_makes_rotates_and_retires_fleet_keys(tmp_path):
    keys = tmp_path / "keys.json"
    made = cli("init", "--key-file", str(keys), "--fleet", "shop-fleet")
    assert "BEGIN PUBLIC KEY" in made
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    first = cli("add-key", "--key-file", str(keys), "--bundle", BUNDLE)
    second = cli("add-key", "--key-file", str(keys), "--bundle", BUNDLE)
    assert "1 older key(s) still released" in second
    old = load(keys).keys[0].key_sha256
    assert old in first
    retired = cli("retire", "--key-file", str(keys), old[:12])
    assert "retired" in retired
    shown = cli("show", "--key-file", str(keys))
    assert f"{old}  {BUNDLE}  retired" in shown
    assert "PRIVATE" not in shown + made + first + second + retired
    again = CliRunner().invoke(
        main, ["key-service", "init", "--key-file", str(keys), "--fleet", "x"]
    )
    assert again.exit_code == 1
    assert "exists already" in again.output


def test_the_key_service_serves_from_its_own_process(tmp_path):
    keys = tmp_path / "keys.json"
    cli("init", "--key-file", str(keys), "--fleet", "shop-fleet")
    cli("add-key", "--key-file", str(keys), "--bundle", BUNDLE)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"code_digests": [], "bundle_digests": [BUNDLE]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATACAGE_")}
    env["DATACAGE_KEY_SERVICE_KEY_FILE"] = str(keys)
    env["DATACAGE_KEY_SERVICE_POLICY"] = str(policy)
    datacage = str(Path(sys.executable).with_name("datacage"))
    command = [datacage, "key-service", "serve", "--port", "0"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=_root()
    )
    try:
        line = process.stdout.readline()  # printed once the port is bound
        assert "SOFTWARE stand-in" in line, line + process.stderr.read()
        url = line.split(" on ", 1)[1].split()[0]
        session = requests.Session()
        session.trust_env = False
        about = session.get(url, timeout=10).json()
        assert about["fleet"] == "shop-fleet"
        listed = session.get(url + "statements", params={"bundle": BUNDLE}, timeout=10).json()
        assert len(listed["statements"]) == 1
        refused = session.post(url + "release", data=b'{"evidence": 1}', timeout=10)
        assert refused.status_code == 403
        assert "all text" in refused.json()["detail"]
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
        process.stderr.close()


def _root() -> Path:
    return Path(__file__).resolve().parents[2]
