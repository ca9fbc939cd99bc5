"""One-shot: give the compose deployment's datacage its Solid identity on the pod server.

    python bootstrap_identity.py POD_SERVER_URL POD_NAME OUT_DIR [CA_BUNDLE]

Once, on the Community Solid Server at POD_SERVER_URL: an account (a random password), a pod
named POD_NAME (its WebID is the datacage's, `DATACAGE_WEBID`), and client
credentials for that WebID. Writes into OUT_DIR, each file 0600:

    client_id      the worker's DATACAGE_CLIENT_ID
    client_secret  the worker's DATACAGE_CLIENT_SECRET_FILE
    webid          for the operator to check against the control plane's setting
    account.json   the account's e-mail and password, for signing in to the pod server

When `client_id` is already there it does nothing, so a restart keeps the identity. For a
datacage whose identity lives elsewhere, write `client_id` and `client_secret` yourself.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlsplit

import requests

from connectors.solid.css import CssAccountApi, CssError

READY_WITHIN_S = 120.0


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _session(ca_bundle: str | None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if ca_bundle:
        session.verify = ca_bundle
    # One login's cookie must not authenticate a later call (connectors/solid/css/accounts.py).
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


def _wait_until_ready(session: requests.Session, base_url: str, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if session.get(base_url + ".well-known/openid-configuration", timeout=5).ok:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise CssError(f"The pod server at {base_url} did not answer within {within:.0f} s.")
        time.sleep(1)


def bootstrap(
    base_url: str,
    pod_name: str,
    out: Path,
    *,
    ca_bundle: str | None = None,
    within: float = READY_WITHIN_S,
) -> bool:
    """Create the identity unless `out` holds one; True when it was created now."""
    if (out / "client_id").exists():
        return False
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    session = _session(ca_bundle)
    _wait_until_ready(session, base_url, within)
    email = f"{pod_name}@{urlsplit(base_url).hostname}"
    password = secrets.token_urlsafe(24)
    with CssAccountApi(base_url, session=session) as accounts:
        account = accounts.create_account(email=email, password=password, pod_name=pod_name)
        credentials = accounts.create_client_credentials(account, "datacage worker")
    _write_private(out / "account.json", json.dumps({"email": email, "password": password}))
    _write_private(out / "webid", account.webid + "\n")
    _write_private(out / "client_secret", credentials.secret)
    # Last: its presence is what says the identity is complete.
    _write_private(out / "client_id", credentials.id)
    return True


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: bootstrap_identity.py POD_SERVER_URL POD_NAME OUT_DIR [CA_BUNDLE]")
    url, name, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    try:
        made = bootstrap(url, name, folder, ca_bundle=sys.argv[4] if len(sys.argv) == 5 else None)
    except CssError as exc:
        sys.exit(f"The datacage's identity could not be created: {exc}")
    webid = (folder / "webid").read_text().strip()
    print(f"{'Created' if made else 'Kept'} the datacage's identity {webid} in {folder}.")
