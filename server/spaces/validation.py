"""Input from forms and the API, checked field by field before anything is stored.

Every problem is collected and reported next to its field (`ValidationFailed.fields`), in
words the person who typed it understands. Nothing here touches the network or the registry.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from datafuse.noise import DifferentialPrivacy

from ..errors import ValidationFailed
from . import catalogue
from .model import DEFAULT_CONSENT_PERIOD, DEFAULT_MIN_INDIVIDUALS, DataRequest, Role, Terms
from .privacy import check_privacy

MAX_NAME = 120
MAX_DESCRIPTION = 4000
MAX_REQUESTS = 20
MAX_PATH = 512
MAX_IRI = 2048
# The k threshold may be raised, never lowered below the default: groups of fewer than five
# people are too easily told apart. The upper bound only keeps the number sane.
FEWEST_INDIVIDUALS = DEFAULT_MIN_INDIVIDUALS
MOST_INDIVIDUALS = 1_000_000

#: Accepted datacage releases: SEV-SNP's MEASUREMENT and TDX's MRTD are both SHA-384 digests.
MEASUREMENT_PLATFORMS = ("sev-snp", "tdx")
MEASUREMENT_HEX = 96
MAX_MEASUREMENTS = 20
_HEX = re.compile(r"[0-9a-f]+")
_DURATION = re.compile(r"^P(?=\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
# Characters that may not appear in an IRI we write into SPARQL or Turtle (RFC 3987 IRIREF).
_IRI_FORBIDDEN = re.compile(r'[\s<>"{}|\\^`\x00-\x1f\x7f]')


@dataclass(frozen=True)
class SpaceFields:
    name: str
    description: str
    terms: Terms


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationFailed(self.fields)


def check_space(
    *,
    name: object,
    description: object,
    purposes: object,
    legal_basis: object,
    retention: object,
    data_requests: object,
    consent_period: object = DEFAULT_CONSENT_PERIOD,
    recurring: object = False,
    min_individuals: object = DEFAULT_MIN_INDIVIDUALS,
    privacy: object = None,
    accepted_measurements: object = (),
) -> SpaceFields:
    problems = _Problems()
    clean_name = _text(problems, "name", name, MAX_NAME, required=True)
    clean_description = _text(problems, "description", description, MAX_DESCRIPTION)
    terms = Terms(
        purposes=_purposes(problems, purposes),
        legal_basis=_legal_basis(problems, legal_basis),
        retention=_duration(problems, "retention", "retention period", retention),
        data_requests=_data_requests(problems, data_requests),
        consent_period=_duration(problems, "consent_period", "consent period", consent_period),
        recurring=_recurring(problems, recurring),
        min_individuals=_min_individuals(problems, min_individuals),
        privacy=_privacy(problems, privacy),
        accepted_measurements=_accepted_measurements(problems, accepted_measurements),
    )
    problems.raise_if_any()
    return SpaceFields(clean_name, clean_description, terms)


def check_webid(value: object, field: str = "webid") -> str:
    problems = _Problems()
    webid = _iri(problems, field, value, "WebID")
    problems.raise_if_any()
    return webid


def check_roles(values: object, field: str = "roles", *, required: bool = True) -> frozenset[Role]:
    problems = _Problems()
    roles: set[Role] = set()
    for value in _list(values):
        try:
            roles.add(Role.from_slug(str(value)))
        except ValueError:
            known = ", ".join(r.slug for r in Role)
            problems.add(field, f"'{value}' is not a role here; the roles are {known}.")
    if required and not roles and not problems.fields:
        problems.add(field, "Choose at least one role.")
    problems.raise_if_any()
    return frozenset(roles)


def is_safe_iri(value: str) -> bool:
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not _IRI_FORBIDDEN.search(value)
        and len(value) <= MAX_IRI
    )


# --- Fields ------------------------------------------------------------------------------------


def _text(problems: _Problems, field: str, value: object, limit: int, required=False) -> str:
    text = unicodedata.normalize("NFC", str(value or "")).strip()
    if required and not text:
        problems.add(field, "This is required.")
    if len(text) > limit:
        problems.add(field, f"Keep this under {limit} characters (it has {len(text)}).")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        problems.add(field, "This contains control characters; please retype it.")
    return text


def _list(value: object) -> list[object]:
    if value is None or value == "":
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _purposes(problems: _Problems, value: object) -> tuple[str, ...]:
    chosen: list[str] = []
    for item in _list(value):
        choice = catalogue.purpose(str(item))
        if choice is None:
            problems.add(
                "purposes",
                f"'{item}' is not a purpose we know from the Data Privacy Vocabulary (DPV); "
                "pick one from the list.",
            )
        elif choice.iri not in chosen:
            chosen.append(choice.iri)
    if not chosen and "purposes" not in problems.fields:
        problems.add("purposes", "Choose at least one purpose.")
    return tuple(sorted(chosen))


def _legal_basis(problems: _Problems, value: object) -> str:
    choice = catalogue.legal_basis(str(value or ""))
    if choice is None:
        problems.add(
            "legal_basis",
            "Choose the legal basis from the list."
            if not value
            else f"'{value}' is not a legal basis we know from the Data Privacy Vocabulary (DPV).",
        )
        return ""
    return choice.iri


def _duration(problems: _Problems, field: str, what: str, value: object) -> str:
    """A whole number of days, weeks, months or years: no hours, nothing over ten years."""
    text = str(value or "").strip().upper()
    match = _DURATION.match(text)
    if not match:
        problems.add(
            field,
            f"Give the {what} as a number of days, weeks, months or years "
            "(ISO 8601, e.g. P90D for 90 days or P1Y for a year).",
        )
        return ""
    years, months, weeks, days = (int(g or 0) for g in match.groups())
    approximate_days = years * 365 + months * 30 + weeks * 7 + days
    if approximate_days == 0:
        problems.add(field, f"The {what} must be longer than zero.")
    elif approximate_days > 10 * 365:
        problems.add(field, f"Keep the {what} to ten years or less.")
    return text


def _recurring(problems: _Problems, value: object) -> bool:
    # Only a real boolean: bool("false") is True, and 0/1 or "yes" would be guesses about intent.
    if isinstance(value, bool):
        return value
    problems.add(
        "recurring", "Say whether runs repeat with true or false: a JSON boolean, without quotes."
    )
    return False


def _accepted_measurements(problems: _Problems, value: object) -> tuple[str, ...]:
    """Launch measurements of accepted datacage releases, "platform:hex", one per item: an AMD
    SEV-SNP MEASUREMENT or an Intel TDX MRTD, both SHA-384, so 48 bytes, 96 hex digits."""
    field = "accepted_measurements"
    items = _list(value)
    if len(items) > MAX_MEASUREMENTS:
        problems.add(field, f"Name at most {MAX_MEASUREMENTS} releases (there are {len(items)}).")
        return ()
    accepted: list[str] = []
    for number, item in enumerate(items, start=1):
        platform, colon, digits = str(item).strip().partition(":")
        platform, digits = platform.strip().lower(), digits.strip().lower()
        where = f"Line {number}" if len(items) > 1 else "The measurement"
        if not colon or platform not in MEASUREMENT_PLATFORMS:
            problems.add(
                field,
                f"{where}: start with sev-snp: (AMD SEV-SNP) or tdx: (Intel TDX), then the "
                "measurement, as in sev-snp:7a1e…",
            )
        elif not _HEX.fullmatch(digits):
            problems.add(field, f"{where}: after {platform}: use only the digits 0-9 and a-f.")
        elif len(digits) != MEASUREMENT_HEX:
            problems.add(
                field,
                f"{where}: a launch measurement is {MEASUREMENT_HEX} hex digits (48 bytes, "
                f"SHA-384); this one has {len(digits)}.",
            )
        elif f"{platform}:{digits}" not in accepted:
            accepted.append(f"{platform}:{digits}")
    return tuple(accepted)


def _min_individuals(problems: _Problems, value: object) -> int:
    # A real integer only (the form turns what was typed into one): True is an int in Python.
    if not isinstance(value, int) or isinstance(value, bool):
        problems.add(
            "min_individuals", "Give the smallest group as a whole number of people, such as 5."
        )
    elif value < FEWEST_INDIVIDUALS:
        problems.add(
            "min_individuals",
            f"The smallest group must be {FEWEST_INDIVIDUALS} people or more: results about "
            "fewer people could point to someone.",
        )
    elif value > MOST_INDIVIDUALS:
        problems.add(
            "min_individuals", f"Keep the smallest group to {MOST_INDIVIDUALS:,} people or fewer."
        )
    else:
        return value
    return DEFAULT_MIN_INDIVIDUALS


def _privacy(problems: _Problems, value: object) -> DifferentialPrivacy | None:
    term, found = check_privacy(value)
    for field, messages in found.items():
        for message in messages:
            problems.add(field, message)
    return term


def _data_requests(problems: _Problems, value: object) -> tuple[DataRequest, ...]:
    items = _list(value)
    if len(items) > MAX_REQUESTS:
        problems.add("data_requests", f"Ask for at most {MAX_REQUESTS} things.")
        return ()
    requests: list[DataRequest] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            problems.add("data_requests", f"Item {index + 1} should be an object.")
            continue
        requests.append(_data_request(problems, f"data_requests-{index}", item))
    return tuple(requests)


def _data_request(problems: _Problems, prefix: str, item: Mapping[str, object]) -> DataRequest:
    kind = str(item.get("kind") or "path")
    target = str(item.get("target") or "").strip()
    description = _text(problems, f"{prefix}-description", item.get("description"), 500)
    if not description:
        problems.add(
            f"{prefix}-description", "Say in plain words what this is, for the people asked."
        )
    if kind == "path":
        return DataRequest(description, path=_pod_path(problems, f"{prefix}-target", target))
    if kind == "class":
        iri = _iri(problems, f"{prefix}-target", target, "kind of data (an RDF class IRI)")
        return DataRequest(description, rdf_class=iri)
    problems.add(f"{prefix}-kind", "Choose 'a file or folder in the pod' or 'a kind of data'.")
    return DataRequest(description)


def _pod_path(problems: _Problems, field: str, path: str) -> str:
    """A path relative to a pod's root: the consent flow resolves it in each person's pod."""
    segments = path.split("/")
    if not path:
        problems.add(field, "Give the path in the pod, e.g. contacts/customers.ttl.")
    elif path.startswith("/") or "://" in path:
        problems.add(field, "Give the path relative to the pod's root, without a leading '/'.")
    elif any(s in (".", "..") for s in segments) or "//" in path:
        problems.add(field, "The path may not contain '.', '..' or empty segments.")
    elif re.search(r"[?#\\]", path) or _IRI_FORBIDDEN.search(path):
        problems.add(field, "The path may not contain spaces, '?', '#', '\\' or quotes.")
    elif len(path) > MAX_PATH:
        problems.add(field, f"Keep the path under {MAX_PATH} characters.")
    return path


def _iri(problems: _Problems, field: str, value: object, what: str) -> str:
    text = str(value or "").strip()
    if not text:
        problems.add(field, f"Give the {what}.")
    elif not is_safe_iri(text):
        problems.add(field, f"The {what} must be a full http(s) address without spaces or quotes.")
    return text
