"""Data requests in canonical form: the URL a person is shown is the one that is granted and read.

A space's path is written by its owner, who may be hostile. `x/%2e%2e/` passes a naive check,
is sent by the HTTP client as `x/../` and resolved by the pod to its root: the person would be
shown one folder and grant their whole pod. So a path is percent-decoded once and refused when
it holds anything that a client, a proxy or a pod might read as something else: dot segments
(also encoded, in any case), encoded separators, backslashes, control characters, empty
segments, characters that look like a slash, or a name that is not in normal form. What is
left is encoded again in one canonical way and joined under the person's storage; the storage
root itself is never granted. After the pod is asked, its own URL for the resource must equal
the one shown (`check_reported`), so a pod that rewrites or redirects cannot widen the grant.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote, urlsplit

#: Characters that render like a slash or backslash; a person reading the URL cannot tell.
_LOOKALIKE_SEPARATORS = frozenset("\u2215\u2044\u29f8\u29f9\uff0f\uff3c\u2216\ufe68\u244a\u01c0")
#: Encoded separators and encoded percent signs (a second round of decoding).
_ENCODED = re.compile(r"%(?:2f|5c|25|00)", re.IGNORECASE)
#: Auxiliary resources: an access list is never data to share, and granting Read on it shows
#: who else may read what; `.meta` describes a resource rather than holding its data.
_AUXILIARY = (".acl", ".acr", ".meta")


class BadPath(ValueError):
    """A requested path that could mean something other than what it says; in plain words."""


def canonical_path(path: str) -> str:
    """The path, percent-encoded in one canonical way; raise `BadPath` for every trick."""
    if not path:
        raise BadPath("It names no file or folder: your whole pod is never shared.")
    if _ENCODED.search(path):
        raise BadPath("It hides a '/', '\\' or '%' in an encoded form.")
    decoded = unquote(path, errors="strict")
    if "\ufffd" in decoded:
        raise BadPath("It is not valid text once decoded.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in decoded):
        raise BadPath("It holds control or invisible characters.")
    if "\\" in decoded or _LOOKALIKE_SEPARATORS & set(decoded):
        raise BadPath("It holds a backslash or a character that only looks like '/'.")
    if unicodedata.normalize("NFKC", decoded) != decoded:
        raise BadPath("It holds characters that stand for others (not in normal form).")
    if decoded.startswith("/") or "://" in decoded or "?" in decoded or "#" in decoded:
        raise BadPath("It is not a plain path inside your pod.")
    segments = decoded.split("/")
    body = segments[:-1] if decoded.endswith("/") else segments
    if any(s in ("", ".", "..") for s in body):
        raise BadPath("It holds '.', '..' or an empty part, which could point elsewhere.")
    if segments[-1].lower().endswith(_AUXILIARY) or any(
        s.lower().endswith(_AUXILIARY) for s in body
    ):
        raise BadPath("It names an access list or description, not data.")
    return "/".join(quote(s, safe="") for s in segments)


def resource_url(storage: str, path: str) -> str:
    """The URL of `path` in the person's storage, canonical; raise `BadPath`."""
    url = storage + canonical_path(path)
    if url == storage or not url.startswith(storage):
        raise BadPath("It is not inside your pod, or it is your whole pod.")
    return url


def check_inside(storage: str, url: str) -> str:
    """A URL found some other way (a type index, a form): it must be a canonical URL strictly
    inside the person's storage, on the same origin. Return it; raise `BadPath`."""
    if urlsplit(url).query or urlsplit(url).fragment:
        raise BadPath("It is not a plain resource in your pod.")
    if not url.startswith(storage) or url == storage:
        raise BadPath("It is outside your pod, or it is your whole pod.")
    if resource_url(storage, url[len(storage) :]) != url:
        raise BadPath("It is not written in its one plain form.")
    return url


def check_reported(shown: str, reported: str, *, is_storage: bool) -> None:
    """The pod's own URL for what it served (after redirects) must be the one shown."""
    if is_storage:
        raise BadPath("The pod answered with its root: your whole pod is never shared.")
    if reported != shown:
        raise BadPath(f"Your pod calls it {reported}, not what you were shown.")
