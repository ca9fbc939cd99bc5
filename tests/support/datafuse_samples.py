"""Two data holders' customer lists for the DataFuse tests, and the plain-set answer to check.

The individuals' side is one customer record per person, written the ways pods write e-mail
addresses (schema:email, foaf:mbox with mailto:, vcard:hasEmail through a node, odd case and
spaces); the organisation's side is a CSV customer list with incomes, some addresses with
plus-addressing. `expected_common` computes the answer with plain Python sets.
"""

from __future__ import annotations

import json
from pathlib import Path

from server.demo.seed import spelled_record

BUILTIN = Path(__file__).parents[2] / "server" / "algorithms" / "builtin"
COMMON_CUSTOMERS, JOINT_STATS = BUILTIN / "common-customers", BUILTIN / "joint-stats"
SCHEMA = {"columns": [{"name": "email", "type": "string"}, {"name": "income", "type": "integer"}]}


def person_email(n: int) -> str:
    return f"customer{n}@shop.example"


def customer_record(n: int) -> str:
    """Person n's record, in one of four spellings (the demo's own seed writes them alike)."""
    return spelled_record(person_email(n), n)


def organisation_rows(people: int, shared: range) -> list[tuple[str, int]]:
    """The bank's customers: those of `shared` (every third one plus-addressed), and others."""
    rows = []
    for n in shared:
        local, _, domain = person_email(n).partition("@")
        address = f"{local}+bank@{domain}" if n % 3 == 0 else person_email(n)
        rows.append((address, 20_000 + 7_000 * n))
    rows += [(f"stranger{n}@elsewhere.example", 50_000) for n in range(people, people + 25)]
    return rows


def organisation_csv(rows: list[tuple[str, int]]) -> str:
    return "email,income\n" + "".join(f"{email},{income}\n" for email, income in rows)


def write_samples(folder: Path, people: int, shared: range) -> list[tuple[str, int]]:
    """people/ and datasets/ for `datacage sdk run`; returns the organisation's rows."""
    for n in range(people):
        (folder / "people" / f"customer{n}").mkdir(parents=True)
        (folder / "people" / f"customer{n}" / "customers.ttl").write_text(customer_record(n))
    rows = organisation_rows(people, shared)
    (folder / "datasets").mkdir(parents=True)
    (folder / "datasets" / "bank-customers.csv").write_text(organisation_csv(rows))
    (folder / "datasets" / "bank-customers.schema.json").write_text(json.dumps(SCHEMA))
    return rows


def expected_common(people: int, rows: list[tuple[str, int]], *, plus: bool) -> set[str]:
    """The plain-set intersection, normalised by hand (not by datafuse)."""

    def key(address: str) -> str:
        address = address.strip().lower()
        if plus:
            local, _, domain = address.partition("@")
            address = f"{local.split('+')[0]}@{domain}"
        return address

    return {person_email(n) for n in range(people)} & {key(email) for email, _ in rows}
