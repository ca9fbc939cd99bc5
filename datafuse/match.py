"""Matching n >= 2 parties' identifier sets: the size of the intersection, or its labels.

Every party blinds its own set; each blinded set then passes through every other party, which
applies its own key; only fully blinded values (every key applied, in any order) are compared.
Two modes:

- *cardinality*: only how many identifiers all parties share;
- *labelled*: also the attributes one party (``labels_from``) attached to each of its
  identifiers, for the shared ones only, in a random order: the intersection's attributes,
  never its identifiers (Datum's "privacy label query").

The keys are made at the start of :func:`match` and destroyed before it returns, on every path.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from datafuse.groups import X25519, Group
from datafuse.party import Party


@dataclass(frozen=True)
class PartySet:
    """One party's normalised matching keys and, optionally, one label per key (same order)."""

    name: str
    identifiers: Sequence[str]
    labels: Sequence[Mapping[str, object]] | None = None

    def distinct(self) -> tuple[list[str], list[Mapping[str, object]] | None]:
        """Each identifier once (the first occurrence and its label win)."""
        first: dict[str, int] = {}
        for index, identifier in enumerate(self.identifiers):
            first.setdefault(identifier, index)
        labels = None if self.labels is None else [self.labels[i] for i in first.values()]
        return list(first), labels


@dataclass(frozen=True)
class Match:
    size: int  # identifiers every party holds
    party_sizes: dict[str, int]  # distinct identifiers per party
    group: str
    multiplications: int  # scalar multiplications done, all parties together
    label_party: str | None = None
    labels: list[Mapping[str, object]] | None = field(default=None, repr=False)


def match(
    parties: Sequence[PartySet],
    *,
    labels_from: str | None = None,
    group: Group = X25519,
    workers: int | None = None,
) -> Match:
    """Privately intersect ``parties``; see the module docstring for the two modes."""
    names = [party.name for party in parties]
    if len(parties) < 2:
        raise ValueError("A match needs at least two parties.")
    if len(set(names)) != len(names):
        raise ValueError("Every party of a match needs a name of its own.")
    chosen = next((p for p in parties if p.name == labels_from), None)
    if labels_from is not None and (chosen is None or chosen.labels is None):
        raise ValueError(f"{labels_from!r} is not a party of this match with labels attached.")
    sets = [party.distinct() for party in parties]
    players = [Party(name, group, workers=workers) for name in names]
    try:
        blinded = [player.blind_own(ids) for player, (ids, _) in zip(players, sets, strict=True)]
        for i in range(len(players)):
            for j, player in enumerate(players):
                if j != i:
                    blinded[i] = player.blind(blinded[i])
        multiplications = sum(player.multiplications for player in players)
    finally:
        for player in players:
            player.destroy()
    # In labelled mode the labelling party's own values are looked up in the others' common set,
    # so its labels come out once each.
    others = [
        set(values) for name, values in zip(names, blinded, strict=True) if name != labels_from
    ]
    common = set.intersection(*others)
    labels = None
    if chosen is not None:
        index = names.index(chosen.name)
        own, own_labels = blinded[index], sets[index][1] or []
        labels = [label for value, label in zip(own, own_labels, strict=True) if value in common]
        size = len(labels)
        labels.sort(key=lambda _: secrets.randbits(64))  # no trace of the party's own order
    else:
        size = len(common)
    return Match(
        size=size,
        party_sizes={name: len(ids) for name, (ids, _) in zip(names, sets, strict=True)},
        group=group.name,
        multiplications=multiplications,
        label_party=labels_from,
        labels=labels,
    )
