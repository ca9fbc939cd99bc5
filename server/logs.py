"""Structured logs without secrets.

One JSON object per line (or readable text), with the request id and the acting WebID, so an
operator can follow one request. Values under secret-sounding keys and anything shaped like
a JWT are replaced before a record is written: tokens, codes and cookies never reach a log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

#: Keys whose values are never logged, whatever they hold.
SECRET_KEYS = re.compile(
    r"token|secret|password|passwd|authorization|cookie|code_verifier|^code$|dpop|key|nonce|state",
    re.IGNORECASE,
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
REDACTED = "[redacted]"


def redact(value: Any, key: str = "") -> Any:
    if key and SECRET_KEYS.search(key):
        return REDACTED
    if isinstance(value, str):
        return _JWT.sub("[redacted jwt]", value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: redact(v, k)
        for k, v in record.__dict__.items()
        if k not in _STANDARD and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            **extras(record),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PLAIN_VALUE = re.compile(r"[^\s=\"\[\]]+")


def escape_controls(text: str) -> str:
    """`text` on one line: control characters (newlines too) as visible escapes."""
    return _CONTROL.sub(lambda m: json.dumps(m.group())[1:-1], text)


def _field(value: Any) -> str:
    """A field value that cannot pass for another field or another record: quoted (JSON
    string escapes) unless it is one plain word."""
    text = value if isinstance(value, str) else str(value)
    return (
        text
        if _PLAIN_VALUE.fullmatch(text)
        else escape_controls(json.dumps(text, ensure_ascii=False))
    )


class TextFormatter(logging.Formatter):
    """One line per record for people. A path or a reason comes from outside: it is escaped,
    so nobody can write a line that looks like a record of ours."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{escape_controls(str(k))}={_field(v)}" for k, v in extras(record).items()
        )
        message = escape_controls(redact(record.getMessage()))
        line = f"{record.levelname.lower():7} {record.name}: {message}"
        if fields:
            line += f"  [{fields}]"
        if record.exc_info and record.exc_info[0] is not None:
            # A traceback keeps its lines, each indented: it cannot start a record of its own.
            trace = redact(self.formatException(record.exc_info)).splitlines()
            line += "".join("\n    | " + escape_controls(t) for t in trace)
        return line


_HANDLER_MARK = "_datacage_handler"


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Send our loggers ("server", "connectors") to stderr; idempotent across app factories."""
    formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    for name in ("server", "connectors"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        for handler in logger.handlers:
            if getattr(handler, _HANDLER_MARK, False):
                handler.setFormatter(formatter)
                break
        else:
            handler = logging.StreamHandler(sys.stderr)
            setattr(handler, _HANDLER_MARK, True)
            handler.setFormatter(formatter)
            logger.addHandler(handler)
