"""What a pushed dataset's read grant may name, checked when it is registered.

The datacage reads every grant it is given, with its own identity or on its own machine, so
a grant is checked against its connector and the provider's registered location:
- `file`: the path registered, and nothing else (the datacage reads only under its own
  configured roots as well, `connectors/files`);
- `solid`: the registered URL, for the datacage's WebID, inside the provider's own pod (a
  storage of their WebID profile that holds that profile, `within_own_storage`);
- `s3`, `azure-blob`: one http(s) URL (presigned or SAS, object-scoped by its signature),
  which the datacage fetches through its egress policy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from connectors.solid import errors as solid_errors
from connectors.solid.http import Http
from connectors.solid.oidc import fetch_webid_profile
from connectors.solid_push import within_own_storage

from ..errors import ValidationFailed


def check_grant(
    connector: str,
    location: str,
    grant: Mapping[str, str],
    *,
    provider: str,
    datacage_webid: str,
    http: Http,
) -> None:
    """Raise `ValidationFailed` (field `grant` or `location`) unless the grant fits."""
    if connector == "file":
        if dict(grant) != {"path": location} or not os.path.isabs(location):
            _bad("A file grant names the registered absolute path, and nothing else.")
        if ".." in location.split("/"):
            _bad("The path may not climb out of its folder ('..').")
    elif connector == "solid":
        _check_solid(location, grant, provider, datacage_webid, http)
    elif connector in ("s3", "azure-blob") and (
        set(grant) - {"url", "expires"}
        or not grant.get("url", "").startswith(("https://", "http://"))
    ):
        _bad("An object-store grant is one http(s) URL (and when it expires).")


def _check_solid(
    location: str, grant: Mapping[str, str], provider: str, datacage_webid: str, http: Http
) -> None:
    if set(grant) != {"url", "webid"} or grant["url"] != location:
        _bad("A pod grant names the registered URL and the datacage's WebID, nothing else.")
    if datacage_webid and grant["webid"] != datacage_webid:
        _bad("A pod grant is for this server's datacage WebID.")
    storages = _storages(provider, http)
    if not within_own_storage(location, provider, storages):
        raise ValidationFailed(
            {
                "location": [
                    "The dataset must be in your own pod: a storage your WebID profile names "
                    "(pim:storage) and that holds the profile itself."
                ]
            }
        )


def _storages(webid: str, http: Http) -> tuple[str, ...]:
    try:
        return fetch_webid_profile(http, webid).storages
    except solid_errors.SolidError:
        raise ValidationFailed(
            {"location": ["Your WebID profile could not be read to find your pod; try again."]}
        ) from None


def _bad(message: str) -> None:
    raise ValidationFailed({"grant": [message]})
