"""A space as JSON: the one shape the API returns, and the OpenAPI `Space` schema describes.

Everything is spelled for programs: statuses and roles as stable slugs, DPV terms with their
IRI, short key and label, datetimes in ISO 8601 (UTC). The data requests use the same
`{kind, target, description}` objects the API accepts, so a client can send back what it read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..consent.model import Consent
from ..spaces import catalogue, lifecycle
from ..spaces.model import (
    Algorithm,
    DataRequest,
    Invitation,
    Participant,
    Role,
    Space,
    SpaceStatus,
)


def space_json(space: Space, public_url: str) -> dict[str, Any]:
    terms = space.terms
    return {
        "id": space.id,
        "iri": space.iri,
        "name": space.name,
        "description": space.description,
        "status": status_slug(space.status),
        "owner": space.owner,
        "created_at": _when(space.created_at),
        "closed_at": _when(space.closed_at),
        "purposes": [_choice(iri, catalogue.purpose(iri)) for iri in terms.purposes],
        "legal_basis": _choice(terms.legal_basis, catalogue.legal_basis(terms.legal_basis)),
        "retention": terms.retention,
        "data_requests": [_data_request(r) for r in terms.data_requests],
        "consent_period": terms.consent_period,
        "recurring": terms.recurring,
        "min_individuals": terms.min_individuals,
        "differential_privacy": terms.privacy.as_json() if terms.privacy else None,
        "accepted_measurements": list(terms.accepted_measurements),
        "participants": [_participant(space, p) for p in space.participants],
        "invitations": [invitation_json(i) for i in space.invitations],
        "algorithm": algorithm_json(space.algorithm) if space.algorithm else None,
        "terms_digest": space.terms_digest,
        "missing": missing(space),
        "links": {
            # The space's IRI is dereferenceable: HTML for browsers, Turtle or JSON-LD by Accept.
            "self": api_url(public_url, space),
            "html": space.iri,
            "turtle": space.iri,
        },
    }


def algorithm_json(algorithm: Algorithm) -> dict[str, Any]:
    return {
        "digest": algorithm.digest,
        "name": algorithm.name,
        "version": algorithm.version,
        "description": algorithm.description,
        "entry_point": algorithm.entry_point,
        "events": list(algorithm.events),
        "parameters": [
            {"name": p.name, "type": p.type, "default": p.default, "description": p.description}
            for p in algorithm.parameters
        ],
        "output_shape_digest": algorithm.output_shape_digest,
        "registered_by": algorithm.registered_by,
        "registered_at": _when(algorithm.registered_at),
    }


def invitation_json(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "webid": invitation.webid,
        "roles": _roles(invitation.roles),
        "status": invitation.status.name.lower(),
        "invited_by": invitation.invited_by,
        "invited_at": _when(invitation.invited_at),
        "answered_at": _when(invitation.answered_at),
    }


def missing(space: Space) -> list[str]:
    """What still stands between the space and `active`, in sentences a person can act on."""
    if space.status in (SpaceStatus.ACTIVE, SpaceStatus.CLOSED):
        return []
    needed = lifecycle.missing_for_approval(space)
    if space.status is SpaceStatus.DRAFT:
        needed.append("The owner must ask the participants to approve the terms.")
        return needed
    # Approvals can only be given once the space awaits them, so only then are they "missing".
    needed += [
        f"{webid} has not approved the current terms yet." for webid in space.missing_approvals
    ]
    return needed


def status_slug(status: SpaceStatus) -> str:
    return status.name.lower().replace("_", "-")


def api_url(public_url: str, space: Space) -> str:
    return f"{public_url}api/spaces/{space.id}"


def _participant(space: Space, participant: Participant) -> dict[str, Any]:
    return {
        "webid": participant.webid,
        "roles": _roles(participant.roles),
        "approved": space.standing_approval_of(participant.webid) is not None,
        "joined_at": _when(participant.joined_at),
    }


def _data_request(request: DataRequest) -> dict[str, str]:
    if request.rdf_class:
        return {"kind": "class", "target": request.rdf_class, "description": request.description}
    return {"kind": "path", "target": request.path or "", "description": request.description}


def _choice(iri: str, found: catalogue.Choice | None) -> dict[str, str]:
    # A term the vocabulary no longer lists still shows, by its IRI, rather than vanishing.
    if found is None:
        return {"iri": iri, "key": iri, "label": iri}
    return {"iri": found.iri, "key": found.key, "label": found.label}


def _roles(roles: frozenset[Role]) -> list[str]:
    return sorted(role.slug for role in roles)


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def consent_json(consent: Consent, public_url: str, now: datetime) -> dict[str, Any]:
    """A person's own consent, as they see it on My data."""

    def moment(value: datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") if value else None

    return {
        "key": consent.key,
        "iri": consent.iri,
        "space": consent.space_iri,
        "space_name": consent.space_name,
        "state": consent.state_at(now).name.lower(),
        "purposes": list(consent.purposes),
        "resources": [{"url": r.url, "container": r.is_container} for r in consent.resources],
        "grantee": consent.grantee,
        "access_system": consent.access_system or None,
        "consumers": list(consent.consumers),
        "algorithm_digest": consent.algorithm_digest,
        "terms_digest": consent.terms_digest,
        "recurring": consent.recurring,
        "given_at": moment(consent.given_at),
        "expires_at": moment(consent.expires_at),
        "withdrawn_at": moment(consent.withdrawn_at),
        "withdrawal_reason": consent.withdrawal_reason,
        "receipt": consent.receipt_url,
        "grant_may_remain": consent.grant_may_remain and not consent.counts_at(now),
        "my_data": public_url + "my-data",
    }
