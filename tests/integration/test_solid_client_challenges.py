"""How the Solid client answers a real Community Solid Server that refuses a token.

CSS 7.2 answers every 401 with `WWW-Authenticate: Bearer scope="openid webid"`, no DPoP
challenge and no error code: a client that only renews on `DPoP error="invalid_token"` would
never renew against it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.solid import errors


def _spoil_token(session) -> str:
    """Replace the session's access token by one the pod must refuse (a broken signature)."""
    tokens = session.tokens
    head, payload, _ = tokens.access_token.split(".")
    spoiled = f"{head}.{payload}.AAAA"
    session._tokens = replace(tokens, access_token=spoiled)
    return spoiled


def test_a_token_css_refuses_with_a_bearer_challenge_is_renewed_once(make_user):
    alice = make_user("alice")
    url = alice.pod + "notes.txt"
    alice.client.put(url, "private", "text/plain")
    spoiled = _spoil_token(alice.session)
    resource = alice.client.get(url)
    assert resource.body == b"private"
    assert alice.session.tokens.access_token != spoiled


def test_a_token_that_stays_refused_is_not_renewed_again_and_again(make_user):
    alice = make_user("alice")
    url = alice.pod + "notes.txt"
    alice.client.put(url, "private", "text/plain")
    renewals: list[str] = []
    session = alice.session

    def renew_to_another_spoiled_token(rejected: str) -> bool:
        renewals.append(rejected)
        _spoil_token(session)
        session._tokens = replace(session.tokens, access_token=session.tokens.access_token + "x")
        return True

    _spoil_token(session)
    session.renew = renew_to_another_spoiled_token  # type: ignore[method-assign]
    with pytest.raises(errors.Unauthenticated):
        alice.client.get(url)
    assert len(renewals) == 1
