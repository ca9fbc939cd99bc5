"""Reading the space forms (plain HTML, no JavaScript) into the service layer's input.

The data-request rows are numbered fields; an "add another" button re-renders the form with
one more row, so the form works without scripts. Retention and the consent period are each a
number and a unit in the form and an ISO 8601 duration everywhere else. The smallest group is
typed as text and becomes an integer only when it is one, so the check can say what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from ..spaces.model import DEFAULT_MIN_INDIVIDUALS, DataRequest, Role, Space
from ..spaces.validation import SpaceFields, check_space

UNITS = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}
MAX_ROWS = 20


@dataclass
class SpaceForm:
    """What the form shows: the values typed so far (or stored), and the errors per field."""

    name: str = ""
    description: str = ""
    purposes: list[str] = field(default_factory=list)
    legal_basis: str = ""
    retention_amount: str = "90"
    retention_unit: str = "D"
    consent_period_amount: str = "1"  # the model's DEFAULT_CONSENT_PERIOD, P1Y
    consent_period_unit: str = "Y"
    recurring: bool = False
    min_individuals_typed: str = str(DEFAULT_MIN_INDIVIDUALS)
    # The differential-privacy term (off unless ticked), typed as text like the smallest group.
    dp_enabled: bool = False
    dp_epsilon_typed: str = "1.0"
    dp_lower_typed: str = ""
    dp_upper_typed: str = ""
    # Accepted datacage releases, one "platform:hex" per line as typed.
    accepted_measurements_typed: str = ""
    roles: list[str] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def retention(self) -> str:
        return f"P{self.retention_amount.strip()}{self.retention_unit}"

    @property
    def consent_period(self) -> str:
        return f"P{self.consent_period_amount.strip()}{self.consent_period_unit}"

    @property
    def min_individuals(self) -> int | str:
        typed = self.min_individuals_typed.strip()
        return int(typed) if typed.isascii() and typed.isdigit() else typed

    @property
    def privacy(self) -> dict[str, object] | None:
        if not self.dp_enabled:
            return None
        return {
            "epsilon": _decimal(self.dp_epsilon_typed),
            "lower": _decimal(self.dp_lower_typed),
            "upper": _decimal(self.dp_upper_typed),
        }

    def with_blank_rows(self, blanks: int = 1) -> SpaceForm:
        room = max(0, min(blanks, MAX_ROWS - len(self.requests)))
        self.requests += [{"kind": "path", "target": "", "description": ""}] * room
        return self

    def check(self) -> SpaceFields:
        return check_space(
            name=self.name,
            description=self.description,
            purposes=self.purposes,
            legal_basis=self.legal_basis,
            retention=self.retention,
            data_requests=self.requests,
            consent_period=self.consent_period,
            recurring=self.recurring,
            min_individuals=self.min_individuals,
            privacy=self.privacy,
            accepted_measurements=[
                line for line in self.accepted_measurements_typed.splitlines() if line.strip()
            ],
        )


def read_space_form(form: MultiDict[str, str]) -> SpaceForm:
    rows = []
    for index in range(MAX_ROWS):
        row = {
            part: form.get(f"request-{index}-{part}", "").strip()
            for part in ("kind", "target", "description")
        }
        if row["target"] or row["description"]:
            rows.append(row)  # blank rows are the form's spare room, not requests
    unit = form.get("retention_unit", "D")
    consent_unit = form.get("consent_period_unit", "Y")
    return SpaceForm(
        name=form.get("name", ""),
        description=form.get("description", ""),
        purposes=form.getlist("purposes"),
        legal_basis=form.get("legal_basis", ""),
        retention_amount=form.get("retention_amount", ""),
        retention_unit=unit if unit in UNITS else "D",
        consent_period_amount=form.get("consent_period_amount", ""),
        consent_period_unit=consent_unit if consent_unit in UNITS else "Y",
        recurring="recurring" in form,  # an unticked checkbox is simply not sent
        min_individuals_typed=form.get("min_individuals", ""),
        dp_enabled="dp_enabled" in form,
        dp_epsilon_typed=form.get("dp_epsilon", ""),
        dp_lower_typed=form.get("dp_lower", ""),
        dp_upper_typed=form.get("dp_upper", ""),
        accepted_measurements_typed=form.get("accepted_measurements", ""),
        roles=[r for r in form.getlist("roles") if r in {role.slug for role in Role}],
        requests=rows,
    )


def form_of(space: Space) -> SpaceForm:
    amount, unit = split_duration(space.terms.retention)
    consent_amount, consent_unit = split_duration(space.terms.consent_period)
    return SpaceForm(
        name=space.name,
        description=space.description,
        purposes=list(space.terms.purposes),
        legal_basis=space.terms.legal_basis,
        retention_amount=amount,
        retention_unit=unit,
        consent_period_amount=consent_amount,
        consent_period_unit=consent_unit,
        recurring=space.terms.recurring,
        min_individuals_typed=str(space.terms.min_individuals),
        **_privacy_fields(space),
        accepted_measurements_typed="\n".join(space.terms.accepted_measurements),
        requests=[_row(r) for r in space.terms.data_requests],
    )


def _privacy_fields(space: Space) -> dict[str, object]:
    term = space.terms.privacy
    if term is None:
        return {}
    return {
        "dp_enabled": True,
        "dp_epsilon_typed": f"{term.epsilon:g}",
        "dp_lower_typed": f"{term.lower:g}",
        "dp_upper_typed": f"{term.upper:g}",
    }


def _decimal(typed: str) -> float | str:
    """A number when what was typed is one, written in digits (not 'nan' or 'inf');
    otherwise the text itself, so the check can say what is wrong with it."""
    text = typed.strip()
    if text and set(text) <= set("0123456789.-+eE"):
        try:
            return float(text)
        except ValueError:
            pass
    return text


def _row(request: DataRequest) -> dict[str, str]:
    if request.rdf_class:
        return {"kind": "class", "target": request.rdf_class, "description": request.description}
    return {"kind": "path", "target": request.path or "", "description": request.description}


def split_duration(duration: str) -> tuple[str, str]:
    """'P90D' -> ('90', 'D'); durations mixing units are shown in their largest unit's field."""
    body = duration.removeprefix("P")
    for unit in "YMWD":
        if body.endswith(unit) and body[:-1].isdigit():
            return body[:-1], unit
    return body, "D"


def describe_duration(duration: str) -> str:
    amount, unit = split_duration(duration)
    name = UNITS.get(unit, "")
    return f"{amount} {name[:-1] if amount == '1' else name}".strip()
