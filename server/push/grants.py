"""What a pushed dataset's read grant may name, checked when it is registered.

The datacage reads every grant it is given, with its own identity or on its own machine, so
a grant is checked against its connector and the provider's registered location:
- `file`: the path registered, and nothing else (the datacage reads only under its own
  configured roots as well, `connectors/files`);
- `solid`: the registered URL, for the datacage's WebID, inside the provider's own pod (the
  storage its pod server declares above their WebID profile, `check_in_own_pod`);
- `s3`, `azure-blob`: one http(s) URL (presigned or SAS, object-scoped by its signature),
  which the datacage fetches through its egress policy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from connectors.base import ConnectorError
from connectors.solid.http import Http
from connectors.solid_push import check_in_own_pod

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
    try:
        check_in_own_pod(http, provider, location)
    except ConnectorError as exc:
        raise ValidationFailed(
            {"location": [f"The dataset must be in your own pod: {exc}"]}
        ) from None


def _bad(message: str) -> None:
    raise ValidationFailed({"grant": [message]})
