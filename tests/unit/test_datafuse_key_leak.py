"""The property DataFuse exists for: one party's leaked key exposes that party, nobody else.

The attacker holds a dictionary of candidate e-mail addresses, everything the parties
exchanged (each party's once-blinded set and the twice-blinded ones), and one party's key.
Against commutative blinding it recovers that party's own addresses and none of the other's.
Against the classical scheme it replaces (one shared salt, salted hashes exchanged), the same
attacker with the leaked salt recovers both parties' addresses: the check detects a leak.
"""

from __future__ import annotations

import hashlib
import secrets

from datafuse import X25519, normalise_emails
from datafuse.party import Party

DICTIONARY = [f"customer{n}@example.org" for n in range(400)]  # what the attacker can guess
DEALER = normalise_emails(DICTIONARY[0:120] + [f"unguessable{n}@x.org" for n in range(30)])
BANK = normalise_emails(DICTIONARY[100:260] + [f"private{n}@y.org" for n in range(30)])


def exchanged(dealer_secret: bytes, bank_secret: bytes) -> dict[str, list[bytes]]:
    """Everything that crosses between the parties in a two-party run."""
    dealer, bank = Party("dealer", secret=dealer_secret), Party("bank", secret=bank_secret)
    dealer_once, bank_once = dealer.blind_own(DEALER), bank.blind_own(BANK)
    return {
        "dealer_once": dealer_once,
        "bank_once": bank_once,
        "dealer_twice": bank.blind(dealer_once),
        "bank_twice": dealer.blind(bank_once),
    }


def dictionary_attack(leaked_secret: bytes, observed: list[bytes]) -> set[str]:
    """Blind every candidate with the leaked key; the ones that turn up are recovered."""
    attacker = Party("attacker", secret=leaked_secret)
    guesses = dict(zip(attacker.blind_own(DICTIONARY), DICTIONARY, strict=True))
    return {guesses[value] for value in observed if value in guesses}


def salted_attack(salt: bytes, observed: list[bytes]) -> set[str]:
    guesses = {salted(salt, candidate): candidate for candidate in DICTIONARY}
    return {guesses[value] for value in observed if value in guesses}


def salted(salt: bytes, value: str) -> bytes:
    return hashlib.sha256(salt + value.encode()).digest()


def test_a_leaked_key_exposes_its_own_party_but_not_the_other():
    dealer_key, bank_key = secrets.token_bytes(32), secrets.token_bytes(32)
    messages = exchanged(dealer_key, bank_key)
    # The dealer's key opens the dealer's own once-blinded set to the dictionary...
    assert dictionary_attack(dealer_key, messages["dealer_once"]) == set(DEALER) & set(DICTIONARY)
    # ...and nothing the bank sent, though 160 of the bank's addresses are in the dictionary.
    assert set(BANK) & set(DICTIONARY)
    for name in ("bank_once", "bank_twice", "dealer_twice"):
        assert dictionary_attack(dealer_key, messages[name]) == set(), name
    # The same holds the other way round.
    assert dictionary_attack(bank_key, messages["bank_once"]) == set(BANK) & set(DICTIONARY)
    assert dictionary_attack(bank_key, messages["dealer_once"]) == set()


def test_the_attack_does_find_a_party_that_shares_the_leaked_key():
    # If both parties used one key (a shared secret, as a salt is), the same attack recovers
    # the bank's addresses too: the assertions above are not vacuous.
    shared = secrets.token_bytes(32)
    messages = exchanged(shared, shared)
    assert dictionary_attack(shared, messages["bank_once"]) == set(BANK) & set(DICTIONARY)


def test_a_leaked_salt_exposes_every_party_of_a_salted_hash_scheme():
    salt = secrets.token_bytes(16)  # the one secret every party shares
    dealer_sent = [salted(salt, value) for value in DEALER]
    bank_sent = [salted(salt, value) for value in BANK]
    # Matching works (that is why such schemes are used)...
    assert len(set(dealer_sent) & set(bank_sent)) == len(set(DEALER) & set(BANK)) == 20
    # ...and one leak opens both parties to the dictionary.
    assert salted_attack(salt, dealer_sent) == set(DEALER) & set(DICTIONARY)
    assert salted_attack(salt, bank_sent) == set(BANK) & set(DICTIONARY)


def test_the_blinded_values_do_not_contain_the_plain_hash():
    # A blinded value is not the unblinded group element: without the key, the hash of a
    # guessed address does not match anything sent.
    messages = exchanged(secrets.token_bytes(32), secrets.token_bytes(32))
    hashed = {X25519.hash_to_element(candidate) for candidate in DICTIONARY}
    assert not hashed & set(messages["dealer_once"] + messages["bank_once"])
