"""E-mail addresses as matching keys: the same mailbox must give the same bytes at every party.

Both sides must normalise alike or real matches are missed, so the rules are few and fixed:
surrounding white space and a ``mailto:`` prefix go, Unicode is put in NFC, the whole address
is lower-cased (RFC 5321 lets the local part be case-sensitive, but no mail system we match
against treats it so), and, only when asked, a ``+tag`` in the local part is dropped
(plus-addressing: ``ann+shop@example.org`` is ``ann@example.org``). Anything that is not
``local@domain`` afterwards is not an address and is left out, never matched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_email(value: str, *, plus_addressing: bool = False) -> str | None:
    """The matching key for ``value``, or None when it is not an e-mail address."""
    text = unicodedata.normalize("NFC", str(value)).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    text = text.lower()
    if not _SHAPE.fullmatch(text):
        return None
    if plus_addressing:
        local, _, domain = text.rpartition("@")
        local = local.split("+", 1)[0]
        if not local:
            return None
        text = f"{local}@{domain}"
    return text


def normalise_emails(values: Iterable[str], *, plus_addressing: bool = False) -> list[str]:
    """Distinct matching keys of ``values`` in first-seen order; non-addresses left out."""
    seen: dict[str, None] = {}
    for value in values:
        key = normalise_email(value, plus_addressing=plus_addressing)
        if key is not None:
            seen.setdefault(key, None)
    return list(seen)
