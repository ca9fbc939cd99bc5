"""A captured DPoP proof replayed against another worker process of the same server."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from connectors.solid.dpop_verify import InvalidDPoPProof, SharedReplayCache
from server import create_app
from server.services import services


def test_a_jti_used_in_one_process_is_refused_in_another(tmp_path):
    store = tmp_path / "dpop-jti.sqlite3"
    now = time.time()
    first = subprocess.run(  # another gunicorn worker, accepting the proof first
        [
            sys.executable,
            "-c",
            "import sys; from connectors.solid.dpop_verify import SharedReplayCache; "
            f"SharedReplayCache({str(store)!r}).check_and_remember('jkt:jti-1', {now})",
        ],
        capture_output=True,
        check=False,
    )
    assert first.returncode == 0, first.stderr.decode()
    with pytest.raises(InvalidDPoPProof, match="already used"):
        SharedReplayCache(store).check_and_remember("jkt:jti-1", now + 1)
    SharedReplayCache(store).check_and_remember("jkt:jti-2", now + 1)


def test_two_workers_of_one_server_share_the_replay_cache(tmp_path):
    def worker():
        app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "REGISTRY_PATH": ":memory:"})
        with app.app_context():
            return services(app).access_tokens._replay

    one, two = worker(), worker()
    now = time.time()
    one.check_and_remember("jkt:captured", now)
    with pytest.raises(InvalidDPoPProof):
        two.check_and_remember("jkt:captured", now + 1)


def test_expired_entries_are_forgotten(tmp_path):
    cache = SharedReplayCache(tmp_path / "r.sqlite3", window_seconds=10)
    cache.check_and_remember("k:1", 100.0)
    cache.check_and_remember("k:2", 105.0)
    cache.check_and_remember("k:3", 111.0)  # k:1 expired at 110
    assert cache.size == 2
    cache.check_and_remember("k:1", 112.0)  # an expired jti is no replay any more
