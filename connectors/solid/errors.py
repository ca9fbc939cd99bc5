"""Domain errors of the Solid connector.

Inner code never speaks HTTP to its callers: every failure becomes one of these classes, each
carrying a sentence a person can act on. The control plane maps them to pages and RFC 9457
problem documents at its edge; nothing here knows about Flask.

Messages never include tokens, secrets or response bodies that may carry personal data; they
name the URL and what went wrong.
"""

from __future__ import annotations


class SolidError(Exception):
    """Base class: something went wrong talking to a Solid server or identity provider."""

    #: HTTP status the control plane should answer with when this error reaches its edge.
    http_status = 502

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status

    def __str__(self) -> str:
        return self.message


# --- What the server said about the resource -------------------------------------------------


class NotFound(SolidError):
    """The resource does not exist (404) or no longer exists (410)."""

    http_status = 404


class Unauthenticated(SolidError):
    """The server wants to know who we are, or did not accept the credentials we sent (401)."""

    http_status = 401


class Forbidden(SolidError):
    """We are known, but not allowed to do this on this resource (403)."""

    http_status = 403


class Conflict(SolidError):
    """The request conflicts with the resource's current state (409), e.g. a non-empty container."""

    http_status = 409


class PreconditionFailed(SolidError):
    """The resource changed since we read it (412): the If-Match / If-None-Match check failed."""

    http_status = 412


class UnsupportedRequest(SolidError):
    """The server does not support what we asked (405, 415, 501)."""

    http_status = 502


class TooLarge(SolidError):
    """A body is bigger than the limit we accept, so we stopped reading it."""

    http_status = 502


# --- Upstream trouble -------------------------------------------------------------------------


class CertificateRefused(SolidError):
    """The server refused our TLS client certificate (nginx's 495/496): for the datacage, its
    attestation evidence was not accepted. Not a refusal of the identity, so not a withdrawal."""

    http_status = 502


class UpstreamError(SolidError):
    """The server failed on its side (5xx) or answered with something we cannot use."""

    http_status = 502


class UpstreamUnavailable(UpstreamError):
    """The server could not be reached in time (connection refused, DNS, TLS or timeout)."""

    http_status = 504


class RateLimited(UpstreamUnavailable):
    """The server kept answering 429 Too Many Requests (RFC 6585 section 4), or asked us to
    wait longer than we do within one call; `retry_after` is its wish in seconds, if given."""

    http_status = 503

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after


class MalformedRDF(SolidError):
    """A document that should be RDF could not be parsed, or uses a feature we refuse."""

    http_status = 502


# --- Identity and tokens ----------------------------------------------------------------------


class AuthenticationError(SolidError):
    """Base for Solid-OIDC failures: discovery, login, tokens."""

    http_status = 401


class DiscoveryError(AuthenticationError):
    """A WebID profile or an issuer's OpenID configuration is missing or not usable."""

    http_status = 502


class LoginFailed(AuthenticationError):
    """The identity provider refused the login or the callback did not match what we started."""


class TokenRequestFailed(AuthenticationError):
    """The token endpoint refused a grant (RFC 6749 section 5.2), e.g. a revoked refresh token."""


class InvalidIdToken(AuthenticationError):
    """An ID token failed validation (signature, issuer, audience, expiry, nonce or WebID)."""


class InvalidDPoPProof(AuthenticationError):
    """A DPoP proof could not be created or was refused by the server (RFC 9449)."""


# --- Access control ---------------------------------------------------------------------------


class AccessControlError(SolidError):
    """Reading or changing who may access a resource failed."""

    http_status = 409


class WouldLockOutOwner(AccessControlError):
    """The change would remove the owner's own Control over the resource, so it was not made."""


class UnsupportedAccessControl(AccessControlError):
    """The pod uses an access-control system this client cannot edit."""

    http_status = 501


# --- Verifying callers (we as the resource server) ---------------------------------------------


class InvalidAccessToken(AuthenticationError):
    """A caller's DPoP-bound access token or its proof was refused (RFC 9449 section 7.1).

    `error` is the code for the `WWW-Authenticate: DPoP` challenge: "invalid_token",
    "invalid_dpop_proof", or None when the request carried no credentials at all (RFC 6750
    section 3.1: no error code then).
    """

    http_status = 401

    def __init__(
        self,
        message: str,
        *,
        error: str | None = "invalid_token",
        url: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message, url=url, status=status)
        self.error = error
