"""Every configuration option of the control plane, declared once with type, default and meaning.

Values come from these defaults, then `DATACAGE_*` environment variables (parsed as JSON where
they look like it, by Flask's `from_prefixed_env`), then the test config. The configuration
reference in docs/ is generated from `OPTIONS`, so it cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    name: str
    type: type
    default: Any
    description: str
    secret: bool = False


OPTIONS: tuple[Option, ...] = (
    Option(
        "PUBLIC_URL",
        str,
        "http://localhost:5000/",
        "The URL people and identity providers reach this server at; ends with '/'. "
        "The Solid-OIDC client_id and redirect URIs are derived from it.",
    ),
    Option(
        "CLIENT_NAME",
        str,
        "Datacage",
        "The application name identity providers show on their consent screens.",
    ),
    Option(
        "SECRET_KEY",
        str,
        None,
        "Signs session cookies. Unset: a random key per start (sessions end on restart).",
        secret=True,
    ),
    Option(
        "HTTP_TIMEOUT_SECONDS",
        float,
        30.0,
        "How long to wait for a pod or identity provider before calling it down.",
    ),
    Option("MAX_RDF_BYTES", int, 10 * 1024 * 1024, "The largest RDF document read from a pod."),
)

DEFAULTS: dict[str, Any] = {option.name: option.default for option in OPTIONS}


def check(config: dict[str, Any]) -> None:
    """Refuse a configuration that cannot work, naming the option and what is wrong with it."""
    public_url = str(config["PUBLIC_URL"])
    if not public_url.startswith(("http://", "https://")) or not public_url.endswith("/"):
        raise ValueError(
            f"DATACAGE_PUBLIC_URL must be an http(s) URL ending with '/', not {public_url!r}."
        )
    for option in OPTIONS:
        value = config.get(option.name)
        if value is not None and option.type is float and isinstance(value, int):
            config[option.name] = float(value)
        elif value is not None and not isinstance(value, option.type):
            raise ValueError(
                f"DATACAGE_{option.name} must be a {option.type.__name__}, not {value!r}."
            )
