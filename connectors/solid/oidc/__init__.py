"""Solid-OIDC for clients: discovery, the three grants, ID tokens and the Client ID Document."""

from .access_token import AccessTokenVerifier, VerifiedAccess, www_authenticate
from .client_id_document import SOLID_OIDC_CONTEXT, client_id_document
from .discovery import (
    IssuerMetadata,
    JwksCache,
    WebIdProfile,
    check_issuer_for_webid,
    fetch_issuer_metadata,
    fetch_webid_profile,
    issuers_of_webid,
)
from .grants import (
    LoginResult,
    PendingLogin,
    begin_login,
    client_credentials_grant,
    complete_login,
    refresh_grant,
    webid_of_access_token,
)
from .id_token import IdTokenClaims, validate_id_token
from .pkce import Pkce
from .tokens import ClientAuth, TokenSet, request_token

__all__ = [
    "SOLID_OIDC_CONTEXT",
    "AccessTokenVerifier",
    "ClientAuth",
    "IdTokenClaims",
    "IssuerMetadata",
    "JwksCache",
    "LoginResult",
    "PendingLogin",
    "Pkce",
    "TokenSet",
    "VerifiedAccess",
    "WebIdProfile",
    "begin_login",
    "check_issuer_for_webid",
    "client_credentials_grant",
    "client_id_document",
    "complete_login",
    "fetch_issuer_metadata",
    "fetch_webid_profile",
    "issuers_of_webid",
    "refresh_grant",
    "request_token",
    "validate_id_token",
    "webid_of_access_token",
    "www_authenticate",
]
