"""Text logs under attack: a path or a reason with newlines must not write a record of its own."""

from __future__ import annotations

import io
import logging

import pytest

from server import create_app
from server.logs import TextFormatter

FORGED = "info    server: signed in  [actor=https://admin.example/#me]"


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "server", "levelname": "INFO", "msg": message})
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("breaker", ["\n", "\r", "\r\n", "\x0b", "\x85", "\u2028", "\x1b[2K\r"])
def test_a_path_or_reason_cannot_start_a_line(breaker):
    line = TextFormatter().format(
        _record("sign-in refused", reason=f"bad{breaker}{FORGED}", path=f"/x{breaker}{FORGED}")
    )
    assert len(line.splitlines()) == 1
    assert not any(c in line for c in "\r\n\x0b\x85\u2028\x1b")


def test_a_value_cannot_pass_for_another_field():
    line = TextFormatter().format(_record("request", path="/x actor=https://admin.example/#me"))
    assert 'path="/x actor=https://admin.example/#me"' in line
    assert " actor=https" not in line.replace('"/x actor=', "")


def test_a_message_with_a_newline_is_escaped():
    line = TextFormatter().format(_record(f"refused: nope\n{FORGED}"))
    assert "\\n" in line
    assert len(line.splitlines()) == 1


def test_a_request_path_with_a_newline_is_one_line_in_text_logs(tmp_path):
    config = {"TESTING": True, "DATA_DIR": str(tmp_path), "REGISTRY_PATH": ":memory:"}
    app = create_app({**config, "LOG_FORMAT": "text"})
    (handler,) = [
        h for h in logging.getLogger("server").handlers if hasattr(h, "_datacage_handler")
    ]
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        app.test_client().get("/nothing%0A" + FORGED.replace(" ", "%20"))
    finally:
        handler.setStream(previous)
    logged = [line for line in written.getvalue().splitlines() if "admin.example" in line]
    assert logged
    assert all(line.startswith("info    server: request") for line in logged)
