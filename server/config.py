"""Every configuration option of the control plane, declared once with type, default and meaning.

Values come from these defaults, then `DATACAGE_*` environment variables (declared options by
their declared type; other Flask settings by Flask's `from_prefixed_env`), then the test
config. The configuration reference in docs/ is generated from `OPTIONS`, and a test keeps the
two identical.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.egress import EgressPolicy, parse_allow

from .ratelimit import DEFAULT_LIMITS, parse_limits

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the variable to fix."""


@dataclass(frozen=True)
class Option:
    name: str
    type: type
    default: Any
    description: str
    secret: bool = False
    #: Its environment variable, when that is not `DATACAGE_<name>`: a setting whose own name
    #: starts with DATACAGE_ would otherwise be read from a doubled DATACAGE_DATACAGE_...
    env: str = ""

    @property
    def variable(self) -> str:
        return self.env or f"DATACAGE_{self.name}"


MiB = 1024 * 1024

OPTIONS: tuple[Option, ...] = (
    Option(
        "PUBLIC_URL",
        str,
        "http://localhost:5000/",
        "The URL people and identity providers reach this server at; ends with '/'. "
        "The Solid-OIDC client_id, redirect URIs and every registry IRI are derived from it.",
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
        "Encrypts and signs session cookies. Unset: a random key is created once in "
        "DATA_DIR/secret_key (mode 0600) and reused, so sessions survive restarts.",
        secret=True,
    ),
    Option(
        "DATA_DIR",
        str,
        None,
        "Where the control plane keeps its files (registry, algorithm bundles, secret key). "
        "Unset: Flask's instance folder.",
    ),
    Option(
        "REGISTRY_PATH",
        str,
        None,
        "The embedded registry's on-disk store; ':memory:' keeps it in memory. Unset: "
        "DATA_DIR/registry. One process only: use a SPARQL endpoint for several.",
    ),
    Option(
        "REGISTRY_SPARQL_QUERY_URL",
        str,
        None,
        "A SPARQL 1.1 query endpoint to keep the registry in instead of the embedded store "
        "(shared deployments, several server processes).",
    ),
    Option(
        "REGISTRY_SPARQL_UPDATE_URL",
        str,
        None,
        "The SPARQL 1.1 update endpoint that goes with REGISTRY_SPARQL_QUERY_URL.",
    ),
    Option(
        "REGISTRY_VIRTUOSO_URL",
        str,
        None,
        "Keep the registry in Virtuoso 7 instead: its authenticated SPARQL endpoint with the "
        "login as user info, http://USER:PASSWORD@host:8890/sparql-auth (sent with Digest "
        "auth, never logged). Virtuoso must run DefaultIsolation = 8; see docs/registry.md.",
        secret=True,
    ),
    Option(
        "MAX_BUNDLE_MIB",
        int,
        10,
        "The largest algorithm bundle (compressed archive) accepted for upload, in MiB.",
    ),
    Option(
        "SESSION_HOURS",
        int,
        12,
        "How long a sign-in lasts before the person must sign in again.",
    ),
    Option(
        "TRUSTED_ISSUERS",
        str,
        "",
        "Space-separated Solid-OIDC issuers whose access tokens the API accepts. Empty: any "
        "issuer a WebID profile names (the open Solid world).",
    ),
    Option(
        "DATACAGE_WEBID",
        str,
        "",
        "The datacage's own WebID: the only agent individuals' consents give Read access to. "
        "Empty: spaces cannot take consent yet, and their invitation pages say so.",
        env="DATACAGE_WEBID",
    ),
    Option(
        "RUN_LEASE_SECONDS",
        float,
        60.0,
        "How long a datacage's claim holds a run unless renewed (it renews at a third of "
        "this); past it the run is offered again, or ended if it reached the output gate.",
    ),
    Option(
        "RUN_MAX_CLAIMS",
        int,
        2,
        "How many times a run may be claimed: a run whose lease lapsed is offered again "
        "only until then, and ended with a plain reason after.",
    ),
    Option(
        "FLEET_BROKER_URL",
        str,
        "",
        "A datacage fleet's broker (redis://HOST:PORT/0), one setting for both planes: the "
        "control plane sends a started run to it as a task at once; the worker and the fleet "
        "beat (--broker) join the fleet, taking runs, deliveries and retries as Celery tasks "
        "from it. Empty: the datacage finds waiting runs itself (docs/operations.md).",
    ),
    Option(
        "RECURRING_INTERVAL",
        float,
        86400.0,
        "Seconds between the runs of a space whose terms say runs repeat: a schedule tick "
        "(a fleet's beat, or a single worker's timer) starts the next run once the latest "
        "was requested this long ago and none is waiting or under way. At least 1.",
    ),
    Option(
        "EGRESS_ALLOW",
        str,
        "",
        "Addresses outbound requests (WebID profiles, identity providers, pods, inboxes, pushed "
        "datasets) may reach besides public ones: space-separated CIDR blocks or addresses, or "
        "the words loopback, private, link-local, cgnat. Empty: public addresses only. The "
        "cloud metadata addresses are refused unless named on their own.",
    ),
    Option(
        "EGRESS_DEADLINE_SECONDS",
        int,
        20,
        "The longest one outbound request may take, connect to last byte, however the "
        "server at the other end trickles its answer.",
    ),
    Option(
        "EGRESS_MAX_RESPONSE_MIB",
        int,
        64,
        "The most one outbound request may receive, in MiB; the answer is cut beyond it.",
    ),
    Option(
        "AUDIT_QUERY_SLOTS",
        int,
        2,
        "How many audit SPARQL queries may run at once on this server, all worker processes "
        "together; one more is answered 429 (each takes a process and up to 1 GiB).",
    ),
    Option(
        "RATE_LIMITS",
        str,
        DEFAULT_LIMITS,
        "Requests allowed per address and per WebID, as action=count/seconds: signin, join, "
        "invitations, api-write, audit-query. Counted across all worker processes (a file in "
        "DATA_DIR/shared); past a limit the answer is 429 with Retry-After.",
    ),
    Option(
        "SANDBOX_IDS",
        str,
        "",
        "Worker: the host uids (each also the gid) leased one at a time to each algorithm run "
        "and each output-gate check, as FIRST-LAST, between 1000 and 2147483647. No user or "
        "group of the host may hold one; every worker on a host uses the same range. Empty: "
        "2000000000-2099999999.",
    ),
    Option(
        "SANDBOX_ID_LOCKS",
        str,
        "",
        "Worker: the folder (an absolute path, private to the worker's user) of the lock files "
        "that keep two workers on one host from leasing the same sandbox uid; every worker on "
        "a host uses the same one. Empty: /run/datacage/sandbox-ids, or a folder in the "
        "temporary directory where /run is read-only.",
    ),
    Option(
        "LOG_FORMAT",
        str,
        "json",
        "'json' (one JSON object per line, for log collectors) or 'text' (for people).",
    ),
    # Worker options: read by `datacage worker` from its environment, not by the control plane.
    Option(
        "PULL_PEOPLE_AT_ONCE",
        int,
        8,
        "Worker: how many people's pods the datacage reads at once in a run, over all pod "
        "servers together.",
    ),
    Option(
        "PULL_PER_POD_SERVER",
        int,
        4,
        "Worker: the most requests the datacage has in flight at one pod server (an address "
        "and port, however its pods' hosts are spelled), so a pull floods no provider.",
    ),
    # `datacage worker`'s own settings; each has a command-line flag too, which wins.
    Option(
        "CONTROL_PLANE",
        str,
        None,
        "Worker (required; --control-plane): the control plane's public URL, http(s).",
    ),
    Option(
        "ISSUER",
        str,
        None,
        "Worker (required; --issuer): the identity provider of the datacage's WebID.",
    ),
    Option(
        "CLIENT_ID",
        str,
        None,
        "Worker (required; --client-id): the client credentials id of the datacage's WebID.",
    ),
    Option(
        "CLIENT_SECRET_FILE",
        str,
        None,
        "Worker (required; --client-secret-file): the file holding that client's secret "
        "(mode 0600); the secret itself is never an environment variable.",
    ),
    Option(
        "WORKER_DIR",
        str,
        "instance/datacage",
        "Worker (--data-dir): the datacage's private folder: work area, results, attestation key.",
    ),
    Option(
        "POD_CA",
        str,
        None,
        "Worker (--pod-ca): a CA bundle for pods' TLS certificates. Unset: the system's.",
    ),
    Option(
        "POD_GATEWAY",
        str,
        "",
        "Worker (--pod-gateway, repeatable): space-separated ORIGIN=HOST:PORT, read the pods "
        "at ORIGIN through their provider's attestation gateway at HOST:PORT (where DNS does "
        "not send the datacage there already).",
    ),
    Option(
        "ALLOW_PLAIN_HTTP_PODS",
        bool,
        False,
        "Worker (--allow-plain-http-pods), development only: also read pods served over plain "
        "http (no TLS, no attestation check); runs that do say so. true or false.",
    ),
    Option(
        "DELIVERY_DIR",
        str,
        None,
        "Worker (--delivery-dir): where sealed results wait for delivery. Unset: "
        "WORKER_DIR/delivery. A fleet gives every worker the same shared folder.",
    ),
    Option(
        "DELIVERY_KEY_FILE",
        str,
        None,
        "Worker (--delivery-key-file): the 32-byte key that seals results waiting for "
        "delivery, shared by a fleet's workers. Unset: one made in the delivery folder.",
        secret=True,
    ),
    Option(
        "WORKER_LOG_FORMAT",
        str,
        "text",
        "Worker: 'text' (for people) or 'json' (one JSON object per line, for log collectors).",
    ),
    Option(
        "ATTESTATION_PROVIDER",
        str,
        "software-unattested",
        "Worker: who produces the datacage's attestation evidence. 'software-unattested': the "
        "software stand-in, which proves nothing about hardware and says so in its evidence "
        "and logs; 'configfs-tsm': the confidential VM's hardware (SEV-SNP, TDX), and the "
        "worker refuses to start without one; 'auto': the hardware where a TEE is found, "
        "else the software stand-in.",
    ),
    # A fleet's schedule (server/fleet, docs/operations.md "Scaling out"): seconds, each > 0.
    Option(
        "FLEET_OFFER_EVERY_S",
        float,
        10.0,
        "Fleet beat: seconds between its lists of waiting runs, each offered to the fleet as "
        "a task (a run the control plane could not send at once is found this way).",
    ),
    Option(
        "FLEET_OFFER_TTL_S",
        float,
        60.0,
        "Fleet beat: a waiting run already offered is offered again after this many seconds "
        "if no worker took it.",
    ),
    Option(
        "FLEET_DELIVER_EVERY_S",
        float,
        30.0,
        "Fleet beat: seconds between its retries of deliveries that are due.",
    ),
    Option(
        "FLEET_RECURRING_EVERY_S",
        float,
        60.0,
        "Fleet beat, or a worker without a broker: seconds between its questions for due "
        "recurring runs (the time between a space's runs is DATACAGE_RECURRING_INTERVAL).",
    ),
    Option(
        "FLEET_EXPIRE_EVERY_S",
        float,
        600.0,
        "Fleet beat, or a worker without a broker: seconds between its consent-expiry sweeps.",
    ),
    Option(
        "FLEET_VISIBILITY_TIMEOUT_S",
        float,
        3600.0,
        "Fleet: seconds after which the broker gives a task no worker acknowledged to another "
        "worker. A longer run is not taken twice (its copy is refused at the claim); the lease "
        "offers a run of a vanished worker sooner.",
    ),
    Option(
        "BEAT_SCHEDULE",
        str,
        "celerybeat-schedule",
        "Fleet beat (--schedule-file): the file (writable) where the beat keeps when each "
        "periodic task last ran.",
    ),
    # A fleet's key service (server/keyrelease, docs/operations.md "Pushed datasets in a fleet").
    Option(
        "KEY_SERVICE_URL",
        str,
        "",
        "Worker: the fleet's key service (http(s) URL). Set: the worker asks it for the fleet "
        "keys of each bundle it attests to, publishes them for providers and opens datasets "
        "sealed to them. Empty: datasets are sealed to this worker's own enclave key.",
    ),
    Option(
        "KEY_SERVICE_SIGNING_KEY",
        str,
        None,
        "Worker (required with KEY_SERVICE_URL): the file holding the key service's public "
        "statement-signing key (PEM, from `datacage key-service show`).",
    ),
    Option(
        "KEY_SERVICE_CA",
        str,
        None,
        "Worker: a CA bundle for the key service's TLS certificate. Unset: the system's.",
    ),
    Option(
        "KEY_SERVICE_KEY_FILE",
        str,
        None,
        "Key service only (`datacage key-service`): its key file (0600), holding the fleet's "
        "private keys. The control plane and the workers refuse to start with it set.",
    ),
    Option(
        "KEY_SERVICE_POLICY",
        str,
        None,
        "Key service only (the --policy of `datacage key-service serve`): the trust policy a "
        "worker's evidence must satisfy (the file `datacage admission` reads).",
    ),
)

#: The worker's settings that have a command-line flag of `datacage worker` too.
WORKER_FLAGS = (
    "CONTROL_PLANE",
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET_FILE",
    "WORKER_DIR",
    "POD_CA",
    "POD_GATEWAY",
    "ALLOW_PLAIN_HTTP_PODS",
    "FLEET_BROKER_URL",
    "DELIVERY_DIR",
    "DELIVERY_KEY_FILE",
)
#: The fleet's periods by option name -> `server.fleet.app.FleetSettings` field.
FLEET_PERIODS = {
    "FLEET_OFFER_EVERY_S": "offer_every_s",
    "FLEET_OFFER_TTL_S": "offer_ttl_s",
    "FLEET_DELIVER_EVERY_S": "deliver_every_s",
    "FLEET_RECURRING_EVERY_S": "recurring_every_s",
    "FLEET_EXPIRE_EVERY_S": "expire_every_s",
    "FLEET_VISIBILITY_TIMEOUT_S": "visibility_timeout_s",
}
#: What `datacage worker` cannot start without, by option name.
WORKER_REQUIRED = ("CONTROL_PLANE", "ISSUER", "CLIENT_ID", "CLIENT_SECRET_FILE")
ATTESTATION_PROVIDERS = ("software-unattested", "configfs-tsm", "auto")
LOG_FORMATS = ("json", "text")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")

DEFAULTS: dict[str, Any] = {option.name: option.default for option in OPTIONS}

#: Environment variables renamed, still read for one release with a warning: old -> new.
DEPRECATED_VARIABLES = {
    "DATACAGE_DATACAGE_WEBID": "DATACAGE_WEBID",
    # The worker's old name for the fleet's broker, which the control plane called otherwise.
    "DATACAGE_BROKER_URL": "DATACAGE_FLEET_BROKER_URL",
}


def _raw(environ: Mapping[str, str], option: Option) -> str | None:
    raw = environ.get(option.variable)
    if raw is not None:
        return raw
    for old, new in DEPRECATED_VARIABLES.items():
        if new == option.variable and old in environ:
            log.warning(
                "%s is deprecated and will stop working in the next release: use %s", old, new
            )
            return environ[old]
    return None


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The declared options set in `environ` (`DATACAGE_<NAME>`), parsed by their declared type.

    Flask's `from_prefixed_env` guesses types from JSON, which would turn a numeric secret key
    into an int; declared options are read as what they are declared to be.
    """
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = _raw(environ, option)
        if raw is None:
            continue
        values[option.name] = _parse(option, raw)
    return values


def _parse(option: Option, raw: str) -> Any:
    if option.type is bool:
        # bool("false") is True: a switch is read from its words, never by truthiness.
        word = raw.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ConfigError(f"{option.variable} must be true or false, not {raw!r}.")
    try:
        return option.type(raw)
    except ValueError:
        raise ConfigError(
            f"{option.variable} must be a {option.type.__name__}, not {raw!r}."
        ) from None


def worker_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """The options as `datacage worker` sees them: defaults, then its environment; checked."""
    config = {**DEFAULTS, **from_environment(environ)}
    check(config)
    return config


def check(config: Mapping[str, Any]) -> None:
    """Refuse a configuration that cannot work, naming the option and what is wrong with it."""
    for option in OPTIONS:
        value = config.get(option.name)
        if value is not None and not isinstance(value, option.type):
            raise ConfigError(f"{option.variable} must be a {option.type.__name__}, not {value!r}.")
    if config.get("KEY_SERVICE_KEY_FILE"):  # only the key service may hold the fleet's keys
        raise ConfigError(
            "DATACAGE_KEY_SERVICE_KEY_FILE is the key service's own setting: the control plane "
            "and the workers must never be able to read the fleet's keys. Unset it here."
        )
    for name in ("LOG_FORMAT", "WORKER_LOG_FORMAT"):
        if config.get(name) not in LOG_FORMATS:
            raise ConfigError(f"DATACAGE_{name} must be 'json' or 'text'.")
    if config.get("ATTESTATION_PROVIDER") not in ATTESTATION_PROVIDERS:
        raise ConfigError(
            "DATACAGE_ATTESTATION_PROVIDER must be one of "
            f"{', '.join(map(repr, ATTESTATION_PROVIDERS))}, "
            f"not {config.get('ATTESTATION_PROVIDER')!r}."
        )
    try:
        parse_allow(str(config.get("EGRESS_ALLOW") or ""))
    except ValueError as exc:
        raise ConfigError(f"DATACAGE_EGRESS_ALLOW: {exc}") from None
    try:
        parse_limits(str(config.get("RATE_LIMITS") or ""))
    except ValueError as exc:
        raise ConfigError(f"DATACAGE_RATE_LIMITS: {exc}") from None
    for name in (
        "MAX_BUNDLE_MIB",
        "SESSION_HOURS",
        "EGRESS_DEADLINE_SECONDS",
        "EGRESS_MAX_RESPONSE_MIB",
        "AUDIT_QUERY_SLOTS",
        "PULL_PEOPLE_AT_ONCE",
        "PULL_PER_POD_SERVER",
    ):
        if int(config[name]) < 1:
            raise ConfigError(f"DATACAGE_{name} must be at least 1.")
    for name in FLEET_PERIODS:
        seconds = float(config.get(name) or 0)
        if not (math.isfinite(seconds) and seconds > 0):  # NaN, 0 or inf: never, or unending
            raise ConfigError(f"DATACAGE_{name} must be a positive number of seconds.")
    interval = float(config.get("RECURRING_INTERVAL") or 0)
    if not (math.isfinite(interval) and interval >= 1):  # NaN compares false either way
        raise ConfigError("DATACAGE_RECURRING_INTERVAL must be at least 1 (seconds).")
    if bool(config.get("REGISTRY_SPARQL_QUERY_URL")) != bool(
        config.get("REGISTRY_SPARQL_UPDATE_URL")
    ):
        raise ConfigError(
            "Set both DATACAGE_REGISTRY_SPARQL_QUERY_URL and DATACAGE_REGISTRY_SPARQL_UPDATE_URL, "
            "or neither."
        )
    if config.get("REGISTRY_VIRTUOSO_URL") and config.get("REGISTRY_SPARQL_QUERY_URL"):
        raise ConfigError(
            "Set DATACAGE_REGISTRY_VIRTUOSO_URL or the DATACAGE_REGISTRY_SPARQL_* URLs, not both."
        )
    check_sandbox_ids(config)
    public_url = str(config["PUBLIC_URL"])
    if not public_url.startswith(("http://", "https://")) or not public_url.endswith("/"):
        raise ConfigError(
            f"DATACAGE_PUBLIC_URL must be an http(s) URL ending with '/', not {public_url!r}."
        )


def check_sandbox_ids(config: Mapping[str, Any]) -> None:
    """The worker's sandbox uid range and lock folder, checked the way the worker reads them."""
    ids, locks = str(config.get("SANDBOX_IDS") or ""), str(config.get("SANDBOX_ID_LOCKS") or "")
    if not ids and not locks:
        return  # the defaults; the sandbox package is large to import for nothing
    from .datacage.sandbox.ids import parse_lock_dir, parse_range

    try:
        parse_range(ids)
        parse_lock_dir(locks)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def worker_settings(
    environ: Mapping[str, str], flags: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`datacage worker`'s configuration: defaults, its environment, then the flags given on
    its command line (None: not given). Checked; a ConfigError names the variable to fix."""
    given = {name: value for name, value in (flags or {}).items() if value is not None}
    unknown = set(given) - DEFAULTS.keys()
    if unknown:
        raise ValueError(f"not declared in server/config.py: {sorted(unknown)}")
    config = {**DEFAULTS, **from_environment(environ), **given}
    check(config)
    check_worker(config)
    return config


def check_worker(config: Mapping[str, Any]) -> None:
    """What only the worker needs: its identity, a readable secret file, its routes."""
    for name in WORKER_REQUIRED:
        if not config.get(name):
            flag = "--" + name.lower().replace("_", "-")
            raise ConfigError(
                f"Set DATACAGE_{name} (or {flag}): the worker cannot start without it."
            )
    control_plane = str(config["CONTROL_PLANE"])
    if not control_plane.startswith(("http://", "https://")):
        raise ConfigError(f"DATACAGE_CONTROL_PLANE must be an http(s) URL, not {control_plane!r}.")
    if not Path(config["CLIENT_SECRET_FILE"]).is_file():
        raise ConfigError(
            f"DATACAGE_CLIENT_SECRET_FILE: no file at {config['CLIENT_SECRET_FILE']!r}."
        )
    if Path(config["WORKER_DIR"]).exists() and not Path(config["WORKER_DIR"]).is_dir():
        raise ConfigError(f"DATACAGE_WORKER_DIR: {config['WORKER_DIR']!r} is not a folder.")
    service = str(config.get("KEY_SERVICE_URL") or "")
    if service and not service.startswith(("http://", "https://")):
        raise ConfigError(f"DATACAGE_KEY_SERVICE_URL must be an http(s) URL, not {service!r}.")
    if service and not Path(str(config.get("KEY_SERVICE_SIGNING_KEY") or "")).is_file():
        raise ConfigError(
            "DATACAGE_KEY_SERVICE_SIGNING_KEY: with a key service, the worker needs the file "
            "of its public signing key (`datacage key-service show` prints it)."
        )
    from connectors.solid.connect_to import parse_route

    for text in pod_gateways(config):
        try:
            parse_route(text)
        except ValueError as exc:
            raise ConfigError(f"DATACAGE_POD_GATEWAY: {exc}") from None


def pod_gateways(config: Mapping[str, Any]) -> list[str]:
    """The ORIGIN=HOST:PORT routes, space-separated in POD_GATEWAY."""
    return str(config.get("POD_GATEWAY") or "").split()


def fleet_periods(config: Mapping[str, Any]) -> dict[str, float]:
    """The fleet's periods of a checked configuration, as `FleetSettings` fields: the data
    plane takes them as arguments (it does not read the control plane's configuration)."""
    return {field: float(config[name]) for name, field in FLEET_PERIODS.items()}


def setting_help(name: str) -> str:
    """A command-line flag's help: its variable and the declared meaning, said once."""
    option = next(option for option in OPTIONS if option.name == name)
    return f"{option.description} (DATACAGE_{name})"


def check_worker_environment(environ: Mapping[str, str]) -> None:
    """The worker's declared options as set in ``environ``; raises ConfigError naming one."""
    values = {**DEFAULTS, **from_environment(environ)}
    check_sandbox_ids(values)


def egress_policy(config: Mapping[str, Any]) -> EgressPolicy:
    """The egress policy every outbound request of this configuration goes through."""
    return EgressPolicy.from_settings(
        str(config.get("EGRESS_ALLOW") or ""),
        deadline_seconds=float(config.get("EGRESS_DEADLINE_SECONDS") or 20),
        max_response_bytes=int(config.get("EGRESS_MAX_RESPONSE_MIB") or 64) * MiB,
    )


def reference_markdown() -> str:
    """The configuration reference (docs/configuration.md), generated from `OPTIONS`."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `server/config.py` by `datacage config-reference`; a test keeps the two",
        "identical. Set each option as an environment variable `DATACAGE_<NAME>`; it is read as",
        "the type shown, and a value of the wrong type stops the server with a message.",
        "",
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for option in OPTIONS:
        generated = option.secret and option.name == "SECRET_KEY"
        default = "(generated, see meaning)" if generated else f"`{option.default!r}`"
        lines.append(
            f"| `{option.variable}` | {option.type.__name__} | {default} | "
            f"{option.description}{' Secret: never logged.' if option.secret else ''} |"
        )
    lines += [
        "",
        "Deprecated names, still read for one release (a warning in the log says so):",
        "",
    ]
    lines += [f"- `{old}`: use `{new}`." for old, new in DEPRECATED_VARIABLES.items()]
    return "\n".join(lines) + "\n"
