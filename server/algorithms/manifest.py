"""``manifest.toml``: what a bundle says about itself.

Every participant approves an algorithm on the strength of its manifest, so a manifest that is
vague is refused: unknown keys are errors (a misspelt ``entrypoint`` must not be ignored and
leave a default in its place), every field has one type, and every problem is reported at once.
Whether the manifest tells the truth about the code and the shape is checked elsewhere
(:mod:`.source`, :mod:`.shape`); this module only reads it.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.algorithms.errors import BundleError
from server.algorithms.paths import MANIFEST_PATH

PARAMETER_TYPES = ("integer", "number", "string", "boolean")
EVENT_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]*")
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_NAME = 64
_MAX_DESCRIPTION = 2000
_TOP_KEYS = ("algorithm", "parameters")
_ALGORITHM_KEYS = ("name", "version", "description", "entry_point", "events", "output_shape")
_PARAMETER_KEYS = ("type", "default", "description")

ParameterValue = int | float | str | bool


@dataclass(frozen=True)
class Parameter:
    """A setting of the algorithm, with the default every participant approves."""

    name: str
    type: str  # one of PARAMETER_TYPES
    default: ParameterValue
    description: str


@dataclass(frozen=True)
class Manifest:
    """The ``[algorithm]`` table and the ``[parameters.*]`` tables of a valid manifest."""

    name: str
    version: str
    description: str
    entry_point: str  # "module:function", the module path possibly dotted
    events: tuple[str, ...]
    output_shape: str  # path of a SHACL shapes graph (Turtle) inside the bundle
    parameters: tuple[Parameter, ...] = ()

    @property
    def entry_module(self) -> str:
        return self.entry_point.partition(":")[0]

    @property
    def entry_function(self) -> str:
        return self.entry_point.partition(":")[2]


@dataclass(frozen=True)
class ManifestReading:
    """What could be read from a manifest, even a faulty one.

    ``manifest`` is None when there are problems; ``entry_point`` and ``output_shape`` are
    still given when they themselves are well-formed, so the code and the shape can be checked
    in the same pass and the code provider sees every problem at once.
    """

    manifest: Manifest | None
    entry_point: str | None
    output_shape: str | None
    problems: tuple[str, ...]


def parse_manifest(data: bytes) -> Manifest:
    """The manifest in ``data`` (the bytes of ``manifest.toml``); raises :class:`BundleError`."""
    reading = read_manifest(data)
    if reading.manifest is None:
        raise BundleError(reading.problems)
    return reading.manifest


def read_manifest(data: bytes) -> ManifestReading:
    """Read ``manifest.toml``, collecting every problem instead of stopping at the first."""
    problems: list[str] = []
    document = _load_toml(data, problems)
    if document is None:
        return ManifestReading(None, None, None, tuple(problems))
    _unknown_keys(document, _TOP_KEYS, "the top level", problems)
    parameters = _parameters(_table(document, "parameters", problems) or {}, problems)
    algorithm = _table(document, "algorithm", problems, required=True)
    if algorithm is None:
        return ManifestReading(None, None, None, tuple(problems))
    _unknown_keys(algorithm, _ALGORITHM_KEYS, "[algorithm]", problems)
    fields = _Fields(algorithm, "[algorithm]", problems)
    name = fields.string("name", _slug_problem)
    version = fields.string("version", _version_problem)
    description = fields.string("description", _description_problem)
    entry_point = fields.string("entry_point", _entry_point_problem)
    events = _events(algorithm, problems)
    output_shape = fields.string("output_shape", None)
    manifest = None
    complete = name and version and description and entry_point and events and output_shape
    if complete and not problems:
        manifest = Manifest(
            name, version, description, entry_point, events, output_shape, parameters
        )
    return ManifestReading(manifest, entry_point, output_shape, tuple(problems))


def _load_toml(data: bytes, problems: list[str]) -> dict[str, Any] | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.append(f"{MANIFEST_PATH} is not UTF-8 text (invalid byte at line {line}).")
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib's messages end with "(at line L, column C)", which is what people need.
        problems.append(f"{MANIFEST_PATH} is not valid TOML: {error}.")
        return None


def _table(
    parent: dict[str, Any], key: str, problems: list[str], *, required: bool = False
) -> dict[str, Any] | None:
    value = parent.get(key)
    if value is None:
        if required:
            problems.append(f"{MANIFEST_PATH} has no [{key}] table.")
        return None
    if not isinstance(value, dict):
        problems.append(f"{MANIFEST_PATH}: {key} must be a table ([{key}]), not {_kind(value)}.")
        return None
    return value


def _unknown_keys(table: dict, known: tuple[str, ...], where: str, problems: list[str]) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; expected {', '.join(known)}"
            problems.append(f"{MANIFEST_PATH}: {where} has an unknown key {key!r}{hint}.")


class _Fields:
    """Reads required fields of one table, appending a sentence for each that is wrong."""

    def __init__(self, table: dict[str, Any], where: str, problems: list[str]):
        self.table, self.where, self.problems = table, where, problems

    def present(self, key: str) -> Any:
        if key not in self.table:
            self.problems.append(f"{MANIFEST_PATH}: {self.where} is missing {key!r}.")
        return self.table.get(key)

    def string(self, key: str, check: Callable[[str], str | None] | None) -> str | None:
        value = self.present(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.wrong(key, f"must be a string, not {_kind(value)}")
            return None
        problem = check(value) if check else (None if value.strip() else "must not be empty")
        if problem:
            self.wrong(key, problem)
            return None
        return value

    def wrong(self, key: str, problem: str) -> None:
        self.problems.append(f"{MANIFEST_PATH}: {self.where} {key} {problem}.")


def _slug_problem(value: str) -> str | None:
    if _SLUG.fullmatch(value) and len(value) <= _MAX_NAME:
        return None
    return (
        f"{value!r} must be a lowercase slug of at most {_MAX_NAME} characters: letters a-z, "
        "digits and single hyphens, like 'common-customers'"
    )


def _version_problem(value: str) -> str | None:
    if _VERSION.fullmatch(value) and len(value) <= _MAX_NAME:
        return None
    return f"{value!r} must be a version like '1.0.0' (letters, digits, '.', '+', '-', '_')"


def _description_problem(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if len(value) > _MAX_DESCRIPTION:
        return f"must be at most {_MAX_DESCRIPTION} characters"
    return None


def _entry_point_problem(value: str) -> str | None:
    module, colon, function = value.partition(":")
    if colon and _is_identifier(function) and all(map(_is_identifier, module.split("."))):
        return None
    return f"{value!r} must be 'module:function', like 'common_customers:run' or 'pkg.mod:run'"


def _is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _events(algorithm: dict[str, Any], problems: list[str]) -> tuple[str, ...] | None:
    fields = _Fields(algorithm, "[algorithm]", problems)
    events = fields.present("events")
    if events is None:
        return None
    if not isinstance(events, list) or not events:
        fields.wrong("events", "must be a non-empty list of event names, like ['NEW_DATA']")
        return None
    good = True
    for event in events:
        if not isinstance(event, str) or not EVENT_PATTERN.fullmatch(event):
            good = False
            fields.wrong(
                "events",
                f"has {event!r}; an event name is A-Z, 0-9 and '_', starts with a letter "
                "and has at most 64 characters, like 'CHECK_COMMON_DEMO_CUSTOMERS'",
            )
    names = [event for event in events if isinstance(event, str)]
    duplicates = sorted({event for event in names if names.count(event) > 1})
    if duplicates:
        good = False
        fields.wrong("events", f"lists {', '.join(duplicates)} more than once")
    return tuple(events) if good else None


def _parameters(table: dict[str, Any], problems: list[str]) -> tuple[Parameter, ...]:
    parameters = []
    for name, spec in table.items():
        where = f"[parameters.{name}]"
        if not _PARAMETER_NAME.fullmatch(name) or len(name) > _MAX_NAME:
            problems.append(
                f"{MANIFEST_PATH}: {where}: a parameter name is letters, digits and '_', "
                "not starting with a digit."
            )
            continue
        if not isinstance(spec, dict):
            problems.append(f"{MANIFEST_PATH}: parameters.{name} must be a table ({where}).")
            continue
        _unknown_keys(spec, _PARAMETER_KEYS, where, problems)
        parameter = _parameter(name, spec, _Fields(spec, where, problems))
        if parameter is not None:
            parameters.append(parameter)
    return tuple(parameters)


def _parameter(name: str, spec: dict[str, Any], fields: _Fields) -> Parameter | None:
    def known_type(value: str) -> str | None:
        return None if value in PARAMETER_TYPES else f"must be one of {', '.join(PARAMETER_TYPES)}"

    type_ = fields.string("type", known_type)
    description = fields.string("description", _description_problem)
    default = fields.present("default")
    if type_ is None or description is None or default is None:
        return None
    if not _is_of_type(default, type_):
        fields.wrong("default", f"{default!r} is not of type {type_}")
        return None
    return Parameter(name, type_, default, description)


def _is_of_type(value: object, type_: str) -> bool:
    # TOML booleans are Python bools, which are ints too: keep them apart on purpose.
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "number":
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    return isinstance(value, str)


def _kind(value: object) -> str:
    """The TOML name of a value's type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), "a date or time")
