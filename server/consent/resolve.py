"""Which resources of *this* person's pod a space's data requests mean.

A request names a path under the pod root (`contacts/customers.ttl`, or a folder `health/`) or
an RDF class, found through the person's type indexes. Only what exists is offered; a request
that finds nothing is shown as such and nothing is granted for it. Every URL is canonical and
strictly inside the person's storage (`paths`), and the pod's own URL for what it served must
be the one shown, so what the person sees is exactly what is granted.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from connectors.solid import SolidClient
from connectors.solid import errors as solid_errors
from connectors.solid.oidc import WebIdProfile, fetch_webid_profile
from connectors.solid.type_index import find_instances

from ..spaces.model import DataRequest
from .model import PodResource
from .paths import BadPath, check_inside, check_reported, resource_url
from .preview import Preview, preview


@dataclass(frozen=True)
class Found:
    """One data request, matched (or not) in the person's pod."""

    request: DataRequest
    resource: PodResource | None  # None when nothing in the pod matches
    preview: Preview | None = None
    problem: str | None = None  # why it cannot be shared, in plain words

    @property
    def shareable(self) -> bool:
        return self.resource is not None and self.problem is None


def storage_of(client: SolidClient, webid: str) -> str:
    """The person's pod root: the profile's `pim:storage` on the WebID's own host, else the
    nearest `pim:Storage` above the profile document.

    Found once per WebID inside the client's `reads_once` (one request of the person), and
    looked up afresh in the next: a profile may change between the page and the Accept."""
    return client.remembered("storage", webid, lambda: _find_storage(client, webid))


def _find_storage(client: SolidClient, webid: str) -> str:
    profile = client.remembered("webid-profile", webid, lambda: _profile(client, webid))
    host = urlsplit(webid).netloc
    for storage in profile.storages:
        if urlsplit(storage).netloc == host:
            return storage if storage.endswith("/") else storage + "/"
    return client.find_storage(webid.split("#", 1)[0])


def _profile(client: SolidClient, webid: str) -> WebIdProfile:
    return fetch_webid_profile(client.http, webid)


def find_requested(
    client: SolidClient,
    webid: str,
    requests: tuple[DataRequest, ...],
    *,
    storage: str | None = None,
) -> list[Found]:
    """Each request matched in the pod whose root is `storage` (found from `webid` if not
    given: pass the one you already hold rather than have it derived again)."""
    storage = storage or storage_of(client, webid)
    found: list[Found] = []
    for request in requests:
        if request.path:
            found.append(_at_path(client, storage, request))
        elif request.rdf_class:
            found.extend(_of_class(client, webid, storage, request))
    return found


def _at_path(client: SolidClient, storage: str, request: DataRequest) -> Found:
    try:
        url = resource_url(storage, request.path or "")
    except BadPath as exc:
        return Found(request, None, problem=f"This request cannot be shared safely. {exc}")
    return _look(client, request, PodResource(url, is_container=url.endswith("/")))


def _of_class(client: SolidClient, webid: str, storage: str, request: DataRequest) -> list[Found]:
    try:
        registrations = find_instances(client, webid, request.rdf_class or "")
    except solid_errors.SolidError as exc:
        return [Found(request, None, problem=f"Your type index could not be read: {exc}")]
    if not registrations:
        return [Found(request, None, problem="Your pod has no data registered of this kind.")]
    found = []
    for registration in registrations:
        try:
            url = check_inside(storage, registration.url)
        except BadPath as exc:
            problem = f"Your type index points to {registration.url}, which cannot be shared. {exc}"
            found.append(Found(request, None, problem=problem))
            continue
        found.append(
            _look(client, request, PodResource(url, is_container=registration.is_container))
        )
    return found


def _look(client: SolidClient, request: DataRequest, resource: PodResource) -> Found:
    try:
        # A document's preview is read first: inside `reads_once` its GET also describes it,
        # so the HEAD below costs no request. Nothing read is shown unless the checks pass.
        shown = None
        if not resource.is_container:
            shown = preview(client, resource.url, is_container=False)
        described = client.head(resource.url)
        check_reported(resource.url, described.url, is_storage=described.is_storage)
        if described.is_container != resource.is_container:
            raise BadPath("It is a folder where a file was asked for, or the other way round.")
        return Found(request, resource, shown or preview(client, resource.url, is_container=True))
    except BadPath as exc:
        return Found(request, None, problem=f"This request cannot be shared safely. {exc}")
    except solid_errors.NotFound:
        return Found(request, None, problem=f"Not in your pod ({resource.url}): nothing to share.")
    except (solid_errors.Forbidden, solid_errors.Unauthenticated):
        return Found(request, resource, problem="Your pod did not let this session read it.")
    except solid_errors.SolidError as exc:
        return Found(request, resource, problem=f"Your pod could not show it: {exc}")
