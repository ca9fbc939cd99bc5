"""Who is in the demo and what their pods and the bank's list hold, decided by their number.

Nothing random: person n's data, whether they consent and whether the bank knows them follow
from n, so a run with the same `--people` tells the same story and the checks can compute the
answer with plain sets. Addresses are written the ways pods write them (schema:email,
foaf:mbox with mailto:, vcard:hasEmail through a node, odd case and spaces), so the match has
something to normalise.
"""

from __future__ import annotations

from dataclasses import dataclass

from vocab import FOAF, VCARD

DOMAIN = "shop.example"
# Every demo account's password: printed, since the demo is for looking, and never a secret.
PASSWORD = "demo-password"  # noqa: S105
CUSTOMERS_PATH, ORDERS_PATH = "contacts/customers.ttl", "shop/orders.csv"
DATA_REQUESTS = [
    {"kind": "path", "target": CUSTOMERS_PATH, "description": "Your customer record"},
    {"kind": "path", "target": ORDERS_PATH, "description": "Your orders"},
]
SCHEMA = {"columns": [{"name": "email", "type": "string"}, {"name": "income", "type": "integer"}]}


@dataclass(frozen=True)
class Member:
    """A demo account: its pod name is its label, its e-mail `<label>@demo.example`."""

    label: str
    name: str

    @property
    def email(self) -> str:
        return f"{self.label}@demo.example"


RETAILER = Member("retailer", "Corner Shop Ltd (data user, code provider)")
BANK = Member("bank", "Demo Bank (data provider)")
DATACAGE = Member("datacage", "The datacage (its own WebID)")


def person(n: int) -> Member:
    return Member(f"person{n:03d}", f"Person {n}")


def consents(n: int) -> bool:
    """Nine people in ten say yes; every tenth declines on the consent page."""
    return n % 10 != 9


def bank_knows(n: int) -> bool:
    """The bank has four people in five of the shop's customers among its own."""
    return n % 5 != 4


def address(n: int) -> str:
    return f"person{n:03d}@{DOMAIN}"


def customer_record(n: int) -> str:
    """Person n's customer record (Turtle), in one of four spellings of the address."""
    return spelled_record(address(n), n)


def spelled_record(mail: str, n: int) -> str:
    """A customer record giving `mail` the n-th of the four ways pods write an address: schema
    e-mail, foaf:mbox with an upper-case mailto:, vCard through a node, padded title case."""
    if n % 4 == 1:
        return f"<#me> <{FOAF.mbox}> <mailto:{mail.upper()}> .\n"
    if n % 4 == 2:
        return (
            f"@prefix v: <{VCARD}> .\n"
            f"<#me> v:hasEmail <#email> . <#email> v:value <mailto:{mail}> .\n"
        )
    if n % 4 == 3:
        return f'<#me> <http://schema.org/email> "  {mail.title()} " .\n'
    return f'<#me> <http://schema.org/email> "{mail}" .\n'


def orders_csv(n: int) -> str:
    return "order,amount\n" + "".join(f"{i + 1},{9.5 + n % 7 + i:.2f}\n" for i in range(1 + n % 4))


def income(n: int) -> int:
    return 18_000 + (n * 7_919) % 90_000


def bank_rows(people: int) -> list[tuple[str, int]]:
    """The bank's customer list: the people it knows, then as many strangers again."""
    rows = [(address(n), income(n)) for n in range(people) if bank_knows(n)]
    rows += [(f"client{n}@elsewhere.example", 40_000 + n) for n in range(people)]
    return rows


def bank_csv(people: int) -> str:
    return "email,income\n" + "".join(f"{mail},{pay}\n" for mail, pay in bank_rows(people))


def expected_common(people: int) -> list[int]:
    """The people both holders have, counting only those who consented (plain Python)."""
    return [n for n in range(people) if consents(n) and bank_knows(n)]
