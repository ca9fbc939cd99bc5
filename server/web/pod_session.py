"""A person's own pod session, for the minutes of a consent or withdrawal flow.

Kept sealed on the server (`server.consent.vault.PodSessions`), named by a random flow id in
the encrypted session cookie, so the browser never holds the tokens. `end()` deletes it; a flow
that is abandoned loses it after `POD_SESSION_SECONDS` anyway.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import session

from connectors.solid import SolidClient, SolidSession
from connectors.solid.dpop import DPoPKey
from connectors.solid.oidc import ClientAuth, LoginResult, PendingLogin, TokenSet

from ..consent.vault import VaultError
from ..services import services

_FLOW = "pod_flow"


def keep(result: LoginResult, pending: PendingLogin, key: DPoPKey) -> None:
    flow = secrets.token_urlsafe(24)
    tokens = result.tokens
    services().pod_sessions.put(
        flow,
        {
            "issuer": pending.issuer,
            "client_id": pending.client_id,
            "webid": result.webid,
            "access_token": tokens.access_token,
            "token_type": tokens.token_type,
            "expires_at": tokens.expires_at,
            "refresh_token": tokens.refresh_token,
            "dpop_key_pem": key.to_pem().decode(),
        },
    )
    session[_FLOW] = flow


def current(webid: str | None) -> SolidClient | None:
    """The pod session of the signed-in person, if their flow is still under way."""
    flow = session.get(_FLOW)
    if not flow or not webid:
        return None
    try:
        document = services().pod_sessions.get(str(flow))
    except VaultError:
        document = None
    if document is None or document.get("webid") != webid:
        return None
    return _client(document)


def end() -> None:
    flow = session.pop(_FLOW, None)
    if flow:
        services().pod_sessions.delete(str(flow))


def _client(document: dict[str, Any]) -> SolidClient:
    metadata, _ = services().issuers.get(document["issuer"])
    tokens = TokenSet(
        access_token=document["access_token"],
        token_type=document.get("token_type") or "DPoP",
        expires_at=document.get("expires_at"),
        refresh_token=document.get("refresh_token"),
    )
    solid_session = SolidSession(
        http=services().http,
        key=DPoPKey.from_pem(document["dpop_key_pem"].encode()),
        metadata=metadata,
        client=ClientAuth(document["client_id"]),
        tokens=tokens,
        webid=document["webid"],
    )
    return SolidClient(solid_session)
