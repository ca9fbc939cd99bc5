"""A person's real Solid session kept in a control plane's sign-in, as its callback keeps it."""

from __future__ import annotations

from server.services import services


def with_pod_session(app, client, person) -> None:
    """What the sign-in callback keeps for a consent flow, from the person's real tokens."""
    tokens = person.session.tokens
    with app.app_context():
        services(app).pod_sessions.put(
            "flow-1",
            {
                "issuer": person.credentials.issuer,
                "client_id": person.credentials.id,
                "webid": person.webid,
                "access_token": tokens.access_token,
                "token_type": tokens.token_type,
                "expires_at": tokens.expires_at,
                "refresh_token": None,
                "dpop_key_pem": person.session.key.to_pem().decode(),
            },
        )
    with client.session_transaction() as session:
        session["pod_flow"] = "flow-1"
