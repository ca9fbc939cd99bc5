"""Logs never carry secrets; gunicorn is refused a shape the embedded registry cannot serve."""

import json
import logging

import pytest

from server import create_app
from server.config import ConfigError
from server.logs import JsonFormatter, TextFormatter
from server.production import gunicorn_options

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJ3ZWJpZCI6Imh0dHBzOi8vYSJ9.c2lnbmF0dXJl"


def record(message: str, **extra) -> logging.LogRecord:
    entry = logging.LogRecord("server.test", logging.INFO, __file__, 1, message, None, None)
    entry.__dict__.update(extra)
    return entry


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_secret_fields_and_token_shaped_strings_are_redacted(formatter):
    line = formatter.format(
        record(
            f"token exchange answered {JWT}",
            access_token="abc",
            code="the-code",
            client_secret="s3cr3t",
            headers={"Authorization": "DPoP xyz", "Accept": "text/turtle"},
            actor="https://a.example/#me",
        )
    )
    for secret in (JWT, "abc", "the-code", "s3cr3t", "DPoP xyz"):
        assert secret not in line
    assert "text/turtle" in line
    assert "https://a.example/#me" in line


def test_json_lines_are_json_with_the_extras():
    entry = json.loads(JsonFormatter().format(record("request", status=200, path="/x")))
    assert entry["message"] == "request"
    assert entry["status"] == 200
    assert entry["level"] == "info"


def test_the_request_log_names_the_path_but_never_the_query(tmp_path, caplog):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "REGISTRY_PATH": ":memory:"})
    logging.getLogger("server").propagate = True  # let caplog see it
    try:
        with caplog.at_level(logging.INFO, logger="server"):
            app.test_client().get("/login/callback?code=SECRET-CODE&state=S")
    finally:
        logging.getLogger("server").propagate = False
    requests = [r for r in caplog.records if r.getMessage() == "request"]
    assert requests[0].path == "/login/callback"
    assert "SECRET-CODE" not in caplog.text


def test_several_gunicorn_workers_need_a_sparql_registry(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="one process only"):
        gunicorn_options(app, bind="127.0.0.1:0", workers=2, threads=4)
    assert gunicorn_options(app, bind="127.0.0.1:0", workers=1, threads=4)["threads"] == 4
    app.config["REGISTRY_SPARQL_QUERY_URL"] = "http://127.0.0.1:7878/query"
    assert gunicorn_options(app, bind="127.0.0.1:0", workers=3, threads=4)["workers"] == 3
