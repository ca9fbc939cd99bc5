"""DataFuse: private matching of identifier sets by commutative blinding, and joint statistics.

Each party blinds its own normalised identifiers with a key of its own, fresh per run; a value
is compared only once every party's blinding has been applied to it, so there is no shared salt
whose leak would expose everyone (docs/datafuse.md argues the construction and its limits).
Framework-free on purpose: the standard library and ``cryptography`` only, so the same code
runs in the datacage, inside the algorithm sandbox (bound read-only there) and in ``bench/``.
"""

from datafuse.groups import GROUPS, X25519, Group, Ristretto255, group_named
from datafuse.match import Match, PartySet, match
from datafuse.normalise import normalise_email, normalise_emails
from datafuse.party import Party
from datafuse.stats import Figure, Statistics, joint_statistics

__all__ = [
    "GROUPS",
    "X25519",
    "Figure",
    "Group",
    "Match",
    "Party",
    "PartySet",
    "Ristretto255",
    "Statistics",
    "group_named",
    "joint_statistics",
    "match",
    "normalise_email",
    "normalise_emails",
]
