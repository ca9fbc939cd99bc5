"""Finding identifiers read from pods in an output, also re-spelt, encoded or hashed.

A verbatim search is beaten by the first trick a dishonest algorithm tries: upper case, a
zero-width space, the address reversed or in Base64, its SHA-256. So every identifier is turned,
once per run, into the *needles* of the forms it can take, and the output is turned into a few
*views* in which those forms look alike:

- ``folded``: NFKC-normalised, case-folded, without whitespace or format characters (Unicode
  category ``Cf``: zero-width spaces, soft hyphens, direction marks). Holds the identifier, its
  reverse, a URL without its scheme, and its hex and Base32 encodings. Searched a second time
  percent-decoded when the text holds a ``%``.
- ``loose``: ``folded`` without ``. _ - + ( )``, so ``Alice_Smith`` is ``alice.smith@...``'s
  local part and ``+44 (20) 7946-0958`` is the number read.
- ``base64``: without whitespace or format characters, URL-safe letters turned into standard
  ones; holds each Base64 encoding at all three byte alignments (how it looks inside a longer
  Base64 text).
- ``words``: lower-cased as written; single-word names are matched there as whole words only
  ("Mark" is refused, "Marketing" is not).

Each view is searched in one pass by an Aho-Corasick automaton (PyPI ``pyahocorasick``). Hashes
(MD5, SHA-1, SHA-256, in hex and Base64) have fixed lengths, so they are looked up in sets,
window by window, only inside runs of hex or Base64 letters long enough to hold one. What no scan
can catch is in docs/output-gate.md.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from urllib.parse import unquote

import ahocorasick

# The kinds are the words of `identifiers`; repeated here to keep this module free of cycles.
_EMAIL = "an e-mail address read from a pod"
_NAME = "a name read from a pod"
_PHONE = "a telephone number read from a pod"

#: How an identifier was found, in words, best first (empty: as read, in any case or spacing).
AS_READ = ""
FORMS = (
    AS_READ,
    "without its scheme",
    "with its separators changed",
    "reversed",
    "hex-encoded",
    "Base32-encoded",
    "Base64-encoded",
    "as an MD5 hash",
    "as a SHA-1 hash",
    "as a SHA-256 hash",
)
#: Encoded needles shorter than this are left out: in a long Base64 or hex text they would
#: match by chance (12 Base64 letters are 72 bits).
MIN_ENCODED = 12
#: Re-spelt forms shorter than this match too much ordinary text.
MIN_LOOSE = 6
_HASHES = (("md5", "as an MD5 hash"), ("sha1", "as a SHA-1 hash"), ("sha256", "as a SHA-256 hash"))
_LOOSE_DROP = str.maketrans("", "", "._-+()")
_URLSAFE = str.maketrans("-_", "+/")
_HEX_RUN = re.compile(r"[0-9a-f]{32,}")
_B64_RUN = re.compile(r"[A-Za-z0-9+/]{21,}")

Hit = tuple[str, str]  # (identifier, form)


@cache
def _format_characters() -> dict[int, None]:
    """Every code point of category Cf, to delete: computed once per process (~0.3 s)."""
    return {c: None for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}


def fold(text: str) -> str:
    """NFKC, case-folded, without whitespace or format characters."""
    text = unicodedata.normalize("NFKC", text).translate(_format_characters())
    return "".join(text.split()).casefold()


class _Needles:
    """One Aho-Corasick automaton: needle -> the (identifier, form) pairs it stands for."""

    def __init__(self) -> None:
        self._automaton = ahocorasick.Automaton()
        self._pending: dict[str, set[Hit]] = {}

    def add(self, needle: str, identifier: str, form: str) -> None:
        if needle:
            self._pending.setdefault(needle, set()).add((identifier, form))

    def build(self) -> None:
        for needle, hits in self._pending.items():
            self._automaton.add_word(needle, (len(needle), tuple(hits)))
        self._pending = {}
        if len(self._automaton):
            self._automaton.make_automaton()

    def search(self, text: str) -> Iterator[tuple[int, int, tuple[Hit, ...]]]:
        """(start, end) of each match and what it stands for."""
        if not len(self._automaton) or not text:
            return
        for end, (length, hits) in self._automaton.iter(text):
            yield end - length + 1, end + 1, hits


class Scanner:
    """All forms of a run's identifiers, built once; `found` searches a text for any of them."""

    def __init__(self, kinds: Mapping[str, str], spellings: Mapping[str, Iterable[str]]):
        self._folded, self._loose = _Needles(), _Needles()
        self._base64, self._words = _Needles(), _Needles()
        self._hex_hashes: dict[str, set[Hit]] = {}
        self._b64_hashes: dict[str, set[Hit]] = {}
        for value, kind in kinds.items():
            self._add(value, kind, {value, *spellings.get(value, ())})
        for needles in (self._folded, self._loose, self._base64, self._words):
            needles.build()
        self._hex_lengths = sorted({len(n) for n in self._hex_hashes})
        self._b64_lengths = sorted({len(n) for n in self._b64_hashes})

    def found(self, text: str) -> set[Hit]:
        """Each (identifier, form) in `text`, one form per identifier: the best one."""
        hits: set[Hit] = set()
        folded = fold(text)
        views = [folded]
        if "%" in text:
            views.append(fold(unquote(text)))
        for view in views:
            hits.update(h for _, _, found in self._folded.search(view) for h in found)
            loose = view.translate(_LOOSE_DROP)
            hits.update(h for _, _, found in self._loose.search(loose) for h in found)
            hits.update(_windows(_HEX_RUN, view, self._hex_lengths, self._hex_hashes))
        packed = "".join(text.translate(_format_characters()).split()).translate(_URLSAFE)
        hits.update(h for _, _, found in self._base64.search(packed) for h in found)
        hits.update(_windows(_B64_RUN, packed, self._b64_lengths, self._b64_hashes))
        hits.update(self._whole_words(text))
        best: dict[str, str] = {}
        for identifier, form in hits:
            if identifier not in best or FORMS.index(form) < FORMS.index(best[identifier]):
                best[identifier] = form
        return set(best.items())

    def _whole_words(self, text: str) -> Iterator[Hit]:
        words = unicodedata.normalize("NFKC", text).translate(_format_characters()).lower()
        for start, end, found in self._words.search(words):
            before = words[start - 1] if start else " "
            after = words[end] if end < len(words) else " "
            if not (_word_char(before) or _word_char(after)):
                yield from found

    def _add(self, value: str, kind: str, spellings: set[str]) -> None:
        folded = fold(value)
        if kind == _NAME and " " not in value:  # one word: whole words only, as written
            self._words.add(value, value, AS_READ)
        else:
            self._folded.add(folded, value, AS_READ)
            self._folded.add(folded[::-1], value, "reversed")
        for respelt in _loose_forms(value, folded, kind):
            self._loose.add(respelt, value, "with its separators changed")
            self._loose.add(respelt[::-1], value, "reversed")
        hashed_only: set[str] = set()  # other spellings people hash, not encode
        if "://" in folded:  # a WebID, an address, a homepage: also without its scheme
            bare = folded.split("://", 1)[1]
            if len(bare) >= MIN_LOOSE:
                self._folded.add(bare, value, "without its scheme")
                hashed_only |= {s.split("://", 1)[1] for s in spellings if "://" in s}
        if kind == _EMAIL:
            hashed_only |= {f"mailto:{s}" for s in spellings}  # as foaf:mbox_sha1sum does
        for spelling in spellings | {folded}:
            self._add_encodings(value, spelling.encode("utf-8"), base32=spelling == value)
        for spelling in hashed_only:
            self._add_hashes(value, spelling.encode("utf-8"))

    def _add_encodings(self, value: str, data: bytes, *, base32: bool) -> None:
        hexed = data.hex()
        if len(hexed) >= MIN_ENCODED:
            self._folded.add(hexed, value, "hex-encoded")
        # Base32 (rare, and slow to compute in Python) of the lower-cased spelling only.
        b32 = base64.b32encode(data).decode().rstrip("=").lower() if base32 else ""
        if len(b32) >= MIN_ENCODED:
            self._folded.add(b32, value, "Base32-encoded")
        for needle in base64_cores(data):
            if len(needle) >= MIN_ENCODED:
                self._base64.add(needle, value, "Base64-encoded")
        self._add_hashes(value, data)

    def _add_hashes(self, value: str, data: bytes) -> None:
        for algorithm, form in _HASHES:
            digest = hashlib.new(algorithm, data).digest()
            self._hex_hashes.setdefault(digest.hex(), set()).add((value, form))
            aligned = base64.b64encode(digest).decode()[: 8 * len(digest) // 6]
            self._b64_hashes.setdefault(aligned, set()).add((value, form))


def base64_cores(data: bytes) -> list[str]:
    """The Base64 letters that depend on `data` alone, at byte offsets 0, 1 and 2 of a longer
    text: a letter holding bits of a neighbouring byte is left out."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        first = -(-8 * offset // 6)  # the first letter after the offset's bits
        last = 8 * (offset + len(data)) // 6  # letters wholly inside the data end here
        cores.append(encoded[first:last].decode())
    return cores


def _loose_forms(spelt: str, folded: str, kind: str) -> list[str]:
    if kind == _PHONE:
        digits = "".join(c for c in folded if c.isdigit())
        return [digits] if len(digits) >= 7 else []
    forms = []
    if kind == _EMAIL or (kind == _NAME and " " in spelt):
        # "carol customer" is "carolcustomer" here: joined, or spelt with _ - or .
        forms.append(folded.translate(_LOOSE_DROP))
    if kind == _EMAIL and "@" in folded:
        local = folded.split("@", 1)[0]
        if local != local.translate(_LOOSE_DROP):  # "alice.smith": a person's name, re-spelt
            forms.append(local.translate(_LOOSE_DROP))
    return [f for f in forms if len(f) >= MIN_LOOSE]


def _windows(
    runs: re.Pattern[str], text: str, lengths: list[int], table: dict[str, set[Hit]]
) -> Iterator[Hit]:
    """Fixed-length needles inside each run of their alphabet, looked up window by window."""
    if not table:
        return
    for run in runs.finditer(text):
        found = run.group()
        for length in lengths:
            for start in range(len(found) - length + 1):
                hits = table.get(found[start : start + length])
                if hits:
                    yield from hits


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"
