"""Writing one result into one consumer's container, at most once (Solid Protocol 5.3, RFC 9110).

The resource name is fixed by the run and the result's digest, and the first write is a PUT with
`If-None-Match: *`: the pod creates it or refuses. What the answers mean, on CSS 7 with WAC:

- 201: written now.
- 412: already there. A pod answers so only if the datacage holds Write on the members.
- 403: the datacage holds only Append (the least it needs, and what set-up grants). Append lets
  it *create* a member but not replace one, so a 403 means either "already there" (an earlier
  attempt got through and its answer was lost) or "Append was taken away". The two are told apart
  by an insert-only N3 Patch of the very same triples, which needs Append only: it succeeds if
  the datacage may still append (so the 403 meant "already there", and re-inserting the same
  ground triples changes nothing: RDF graphs are sets, and a signed result has no blank nodes), and
  it is refused if Append was withdrawn. Either way no second copy is ever made, and the datacage
  never needs Read.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors


@dataclass(frozen=True)
class Written:
    location: str
    how: str  # "created", "already there", "already there (confirmed by an append)"


def write_result(client: SolidClient, container: str, name: str, document: bytes) -> Written:
    url = container.rstrip("/") + "/" + name
    try:
        client.put(url, document, "text/turtle", if_none_match="*")
        return Written(url, "created")
    except solid_errors.PreconditionFailed:
        return Written(url, "already there")
    except solid_errors.Forbidden:
        pass
    graph = Graph().parse(data=document, format="turtle")
    client.patch(url, inserts=graph)  # Forbidden again: Append was withdrawn; the caller retries
    return Written(url, "already there (confirmed by an append)")
