"""What was read from pods that must never leave: WebIDs, e-mail addresses, names.

Collected once per run from the inputs, before the algorithm sees them. The output gate looks
for them with `scanner` (`scan.Scanner`: re-cased, re-spaced, reversed, encoded and hashed forms
too, docs/output-gate.md); `scrub` removes verbatim ones from text shown on a developer's own
machine (`datacage sdk run`). Ten thousand identifiers against a megabyte of text must stay
fast, so `scrub` folds them into one prefix-tree regular expression: the regex engine then
follows shared prefixes instead of trying every identifier at every position.

Two kinds of matching, because names are short and common words are not personal data:
e-mail addresses, WebIDs, telephone numbers and addresses match anywhere, as substrings; names
match only as whole words ("Mark" is refused, "Marketing" is not). Values shorter than
`MIN_LENGTH` are ignored ("Bob", "Li"), and names without a letter are not names.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import pyoxigraph
from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from vocab import FOAF, RDF, VCARD

from .scan import Scanner

#: Shorter values are ignored: three letters match too much ordinary text to refuse on.
MIN_LENGTH = 4
#: Longer values are matched by their first characters: a verbatim copy contains those too,
#: and a bounded length keeps the prefix tree (and the regex's nesting) shallow.
MAX_LENGTH = 100
REMOVED = "[removed]"

EMAIL = "an e-mail address read from a pod"
NAME = "a name read from a pod"
PHONE = "a telephone number read from a pod"
OTHER = "an identifier read from a pod"
WEBID = "the WebID of a person whose data was read"
ADDRESS = "the address of a resource read from a pod"

_EMAIL_RE = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_LETTER = re.compile(r"[^\W\d_]")

# Identifying properties, by local name (case-insensitive), in FOAF, vCard, schema.org and
# the keys of plain JSON and CSV headers alike.
_KIND_OF_NAME: dict[str, str] = {
    **dict.fromkeys(("mbox", "email", "mail", "hasemail", "emailaddress"), EMAIL),
    **dict.fromkeys(
        ("phone", "telephone", "tel", "hastelephone", "faxnumber", "mobile", "phonenumber"),
        PHONE,
    ),
    **dict.fromkeys(
        (
            "name", "nick", "nickname", "fn", "fullname", "givenname", "given-name", "firstname",
            "familyname", "family-name", "lastname", "surname", "additionalname",
            "additional-name", "username", "accountname",
        ),
        NAME,
    ),
    **dict.fromkeys(
        ("mbox_sha1sum", "homepage", "openid", "hasuid", "uid", "taxid", "vatid", "skypeid"),
        OTHER,
    ),
}  # fmt: skip
_IDENTIFYING_NAMESPACES = (
    str(FOAF),
    str(VCARD),
    "http://schema.org/",
    "https://schema.org/",
)
# A vcard:hasEmail or vcard:hasTelephone may point to a node holding the value.
_VALUE_PROPERTIES = frozenset(
    n + local for n in _IDENTIFYING_NAMESPACES for local in ("value", "hasValue", "identifier")
) | {str(RDF.value)}
_RDF_FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/n-triples": "nt",
    "text/n3": "n3",
    "application/rdf+xml": "xml",
    "application/trig": "trig",
    "application/n-quads": "nquads",
}
_JSON_TYPES = {"application/json", "application/ld+json"}


@dataclass(frozen=True)
class PersonInputs:
    """One person's part of a run: their WebID and each resource read, as read."""

    webid: str
    resources: list[tuple[str, str, bytes]]  # (url, content type, data)


@dataclass(frozen=True)
class InputIdentifiers:
    """Identifiers read from the inputs, lower-cased; `kinds` says what each one is, in words;
    `spellings` keeps each one's case as read (its Base64 or hash differs from the lower-cased
    one's)."""

    values: frozenset[str]
    kinds: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    spellings: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def collect(cls, people: Iterable[PersonInputs]) -> InputIdentifiers:
        kinds: dict[str, str] = {}
        spellings: dict[str, set[str]] = {}
        for person in people:
            _keep(kinds, spellings, person.webid, WEBID)
            # the profile document too
            _keep(kinds, spellings, person.webid.split("#", 1)[0], WEBID)
            for url, content_type, data in person.resources:
                _keep(kinds, spellings, url, ADDRESS)
                for value, kind in _from_resource(url, content_type, data):
                    _keep(kinds, spellings, value, kind)
        return cls(frozenset(kinds), kinds, {v: frozenset(s) for v, s in spellings.items()})

    def merged(self, other: InputIdentifiers) -> InputIdentifiers:
        """Both sets of identifiers; a value known to both keeps this one's kind."""
        spellings = dict(other.spellings)
        for value, spelt in self.spellings.items():
            spellings[value] = spelt | spellings.get(value, frozenset())
        return InputIdentifiers(
            self.values | other.values, {**other.kinds, **self.kinds}, spellings
        )

    def kind_of(self, value: str) -> str:
        return self.kinds.get(value, OTHER)

    @cached_property
    def scanner(self) -> Scanner:
        """Every form of every identifier, built once per run on first use."""
        return Scanner({v: self.kind_of(v) for v in self.values}, self.spellings)

    @cached_property
    def matcher(self) -> Matcher:
        """Built on first use (a few hundred milliseconds for ten thousand values), then kept."""
        names = {v for v in self.values if self.kinds.get(v) == NAME}
        return Matcher(anywhere=self.values - names, whole_words=names)


def scrub(text: str, identifiers: InputIdentifiers) -> str:
    """``text`` with every input identifier replaced by ``[removed]``: for logs shown to people."""
    return identifiers.matcher.scrub(text)


class Matcher:
    """Finds identifiers in text: one compiled expression for substrings, one for whole words.

    `find` expects text already lower-cased (the caller lowers a megabyte once); `scrub` works
    on text as it is, ignoring case.
    """

    def __init__(self, anywhere: Iterable[str], whole_words: Iterable[str]):
        anywhere_pattern, words_pattern = _trie_pattern(anywhere), _trie_pattern(whole_words)
        parts = []
        if anywhere_pattern:
            parts.append(anywhere_pattern)
        if words_pattern:
            parts.append(rf"(?<!\w)(?:{words_pattern})(?!\w)")
        self._patterns = [re.compile(p) for p in parts]
        self._ignoring_case = [re.compile(p, re.IGNORECASE) for p in parts]

    def find(self, lowered: str) -> Iterator[re.Match[str]]:
        for pattern in self._patterns:
            yield from pattern.finditer(lowered)

    def found(self, lowered: str) -> set[str]:
        return {match.group() for match in self.find(lowered)}

    def scrub(self, text: str) -> str:
        for pattern in self._ignoring_case:
            text = pattern.sub(REMOVED, text)
        return text


def _trie_pattern(values: Iterable[str]) -> str:
    """One regex for many literal strings, factored by common prefixes (chains collapsed)."""
    trie: dict[str, dict] = {}
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}
    return _branch(trie)


def _branch(node: dict[str, dict]) -> str:
    alternatives = []
    for char in sorted(k for k in node if k):
        child, chain = node[char], [char]
        while len(child) == 1 and "" not in child:
            ((next_char, child),) = child.items()
            chain.append(next_char)
        alternatives.append(re.escape("".join(chain)) + _branch(child))
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    # A value that is a prefix of others ends here; the longer ones are tried first.
    return f"(?:{body})?" if "" in node else body


def normalise(value: str) -> str:
    """Lower-case, without `mailto:`/`tel:`, whitespace collapsed, cut to `MAX_LENGTH`."""
    return _spelt(value).lower()


def _spelt(value: str) -> str:
    """As `normalise`, but in the case it was read."""
    text = " ".join(value.split())
    for scheme in ("mailto:", "tel:"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    return text[:MAX_LENGTH]


def _keep(kinds: dict[str, str], spellings: dict[str, set[str]], value: str, kind: str) -> None:
    text = normalise(value)
    if len(text) < MIN_LENGTH or (kind == NAME and not _LETTER.search(text)):
        return
    spellings.setdefault(text, set()).add(_spelt(value))
    # A value seen as a name and as something else is matched the stricter way: anywhere.
    if kinds.get(text, NAME) == NAME:
        kinds[text] = kind


def _from_resource(url: str, content_type: str, data: bytes) -> Iterator[tuple[str, str]]:
    for match in _EMAIL_RE.finditer(data):  # in any input, whatever its format
        yield match.group().decode("ascii", "replace"), EMAIL
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _RDF_FORMATS:
        yield from _from_rdf(url, media_type, data)
    elif media_type in _JSON_TYPES or media_type.endswith("+json"):
        # JSON-LD is read as JSON: expanding it could fetch remote contexts from inside the cage.
        with contextlib.suppress(ValueError):  # not JSON after all: its e-mails were found
            yield from _from_json(json.loads(data), None)
    elif media_type == "text/csv":
        yield from _from_csv(data)


def _from_rdf(url: str, media_type: str, data: bytes) -> Iterator[tuple[str, str]]:
    triples = _triples(url, media_type, data)
    if triples is None:  # unreadable RDF still had its e-mail addresses collected as text
        return
    values: dict[_Term, list[tuple[_Term, _Term]]] = {}  # node -> its (property, value)s
    for subject, predicate, obj in triples:
        values.setdefault(subject, []).append((predicate, obj))
    for subject, predicate, obj in triples:
        for kind_of_node, text in (subject, obj):
            if kind_of_node == _IRI and text.lower().startswith("mailto:"):
                yield text, EMAIL
            elif kind_of_node == _IRI and text.lower().startswith("tel:"):
                yield text, PHONE
        kind = _property_kind(predicate[1])
        if kind is None:
            continue
        if obj[0] != _OTHER:
            yield obj[1], kind
        # e.g. vcard:hasEmail [ vcard:value <mailto:> ]
        for held_by, value in values.get(obj, ()):
            if value[0] != _OTHER and held_by[1] in _VALUE_PROPERTIES:
                yield value[1], kind


#: A term as the collection needs it: an IRI, a literal's text, or anything else (a blank
#: node, a quoted triple), by its identity only.
_IRI, _LITERAL, _OTHER = "iri", "literal", "other"
_Term = tuple[str, str]
#: Read by pyoxigraph, some fifty times faster than rdflib on a small document (a pull reads
#: thousands); whatever it refuses, rdflib tries, so nothing rdflib reads goes uncollected.
_OXIGRAPH_READS = {
    "text/turtle": pyoxigraph.RdfFormat.TURTLE,
    "application/x-turtle": pyoxigraph.RdfFormat.TURTLE,
    "application/n-triples": pyoxigraph.RdfFormat.N_TRIPLES,
    "application/trig": pyoxigraph.RdfFormat.TRIG,
    "application/n-quads": pyoxigraph.RdfFormat.N_QUADS,
    "application/rdf+xml": pyoxigraph.RdfFormat.RDF_XML,
}


def _triples(url: str, media_type: str, data: bytes) -> list[tuple[_Term, _Term, _Term]] | None:
    fast = _OXIGRAPH_READS.get(media_type)
    if fast is not None:
        try:
            return [
                (_oxigraph_term(q.subject), _oxigraph_term(q.predicate), _oxigraph_term(q.object))
                for q in pyoxigraph.parse(data, fast, base_iri=url)
            ]
        except Exception:  # noqa: S110 - a syntax error, a base it refuses: rdflib tries next
            pass
    graph = Graph(bind_namespaces="none")  # rdflib's thirty prefixes are only for writing
    try:
        graph.parse(data=data, format=_RDF_FORMATS[media_type], publicID=url)
    except Exception:  # rdflib raises many types; all mean "not readable RDF"
        return None
    return [(_rdflib_term(s), _rdflib_term(p), _rdflib_term(o)) for s, p, o in graph]


def _oxigraph_term(term: object) -> _Term:
    if isinstance(term, pyoxigraph.NamedNode):
        return _IRI, term.value
    if isinstance(term, pyoxigraph.Literal):
        return _LITERAL, term.value
    return _OTHER, str(term)


def _rdflib_term(term: Node) -> _Term:
    if isinstance(term, URIRef):
        return _IRI, str(term)
    if isinstance(term, Literal):
        return _LITERAL, str(term)
    return _OTHER, repr(term)


def _property_kind(iri: str) -> str | None:
    for namespace in _IDENTIFYING_NAMESPACES:
        if iri.startswith(namespace):
            return _KIND_OF_NAME.get(iri[len(namespace) :].lower())
    return None


def _from_json(value: object, kind: str | None) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("@value", "@id") and kind:
                yield from _from_json(item, kind)
            else:
                local = re.split(r"[:/#]", str(key))[-1].lower().replace("_", "")
                yield from _from_json(item, _KIND_OF_NAME.get(local) or _KIND_OF_NAME.get(key))
    elif isinstance(value, list):
        for item in value:
            yield from _from_json(item, kind)
    elif isinstance(value, str) and kind:
        yield value, kind


def _from_csv(data: bytes) -> Iterator[tuple[str, str]]:
    rows = csv.reader(io.StringIO(data.decode("utf-8", "replace")))
    header = next(rows, [])
    columns = {
        i: _KIND_OF_NAME[h.strip().lower().replace("_", "").replace(" ", "")]
        for i, h in enumerate(header)
        if h.strip().lower().replace("_", "").replace(" ", "") in _KIND_OF_NAME
    }
    for row in rows:
        for index, kind in columns.items():
            if index < len(row):
                yield row[index], kind
