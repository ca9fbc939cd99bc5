"""Sign-in as a request-forgery tool: a visitor names a WebID or issuer inside our network.

The app here runs with the default egress policy (no loopback allowed), as in production;
a loopback listener stands for the internal service and must never be called.
"""

from __future__ import annotations

import json
import time

import pytest

from connectors.solid import errors as solid_errors
from server import create_app
from server.services import services
from tests.support.listener import answer, closed_port, listening, trickle

PROFILE = b"""@prefix solid: <http://www.w3.org/ns/solid/terms#>.
<#me> solid:oidcIssuer <http://127.0.0.1:1/>."""


@pytest.fixture
def client(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "EGRESS_ALLOW": "",
            "EGRESS_DEADLINE_SECONDS": 2,
        }
    )
    return app.test_client()


def _sign_in(client, **form):
    with client.session_transaction() as session:
        session["csrf_token"] = "t"
    return client.post("/login", data={"next": "/", "csrf_token": "t", **form})


@pytest.mark.parametrize("field", ["webid", "issuer"])
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/profile#me",
        "http://localhost:{port}/profile#me",
        "http://[::ffff:127.0.0.1]:{port}/profile#me",
        "http://2130706433:{port}/profile#me",
        "http://x@127.0.0.1:{port}/profile#me",
    ],
)
def test_sign_in_never_calls_an_internal_address(client, field, url):
    with listening(answer(PROFILE, "text/turtle")) as internal:
        page = _sign_in(client, **{field: url.format(port=internal.port)})
        assert internal.connections == 0
    assert page.status_code == 422
    assert "Could not connect to" in page.get_data(as_text=True)


def test_metadata_and_private_addresses_are_refused_before_connecting(client):
    # No traffic leaves the machine: the policy refuses these before opening a connection.
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/profile#me",
        "http://[fd00:ec2::254]/",
    ):
        page = _sign_in(client, webid=url)
        assert page.status_code == 422
        assert "Could not connect to" in page.get_data(as_text=True)


def test_an_open_port_a_closed_port_and_a_silent_one_read_the_same(client):
    pages = []
    with listening(answer(b"HTTP admin console")) as open_port, listening(trickle(5)) as slow:
        for port in (open_port.port, closed_port(), slow.port):
            page = _sign_in(client, webid=f"http://127.0.0.1:{port}/#me")
            pages.append(page.get_data(as_text=True).replace(str(port), "PORT"))
    assert pages[0] == pages[1] == pages[2]


def test_an_issuer_cannot_send_us_to_internal_keys_or_token_endpoints(tmp_path):
    """An allowed issuer (127.0.0.1 here) whose configuration names internal JWKS and token
    endpoints (127.0.0.2 stands for the inside): those are refused like any other URL."""
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "EGRESS_ALLOW": "127.0.0.1/32",
            "EGRESS_DEADLINE_SECONDS": 2,
        }
    )
    with listening(answer(b'{"keys": []}', "application/json"), host="127.0.0.2") as inside:
        configuration = {
            "authorization_endpoint": inside.url + "auth",
            "token_endpoint": inside.url + "token",
            "jwks_uri": inside.url + "jwks",
        }

        def handler(conn):
            issuer = f"http://127.0.0.1:{idp.port}/"
            answer(json.dumps({"issuer": issuer, **configuration}).encode(), "application/json")(
                conn
            )

        with listening(handler) as idp, app.app_context():
            metadata, jwks = services(app).issuers.get(idp.url)
            assert metadata.jwks_uri == inside.url + "jwks"
            with pytest.raises(solid_errors.SolidError):
                jwks.key("any")
            with pytest.raises(solid_errors.SolidError):
                services(app).http.request("POST", metadata.token_endpoint, data={"a": "b"})
        assert inside.connections == 0


def test_an_invitation_never_calls_an_internal_webid(client):
    from tests.support.web_api import SPACE, Caller

    owner = Caller(client.application, "https://owner.example/profile#me")
    space = owner.post("/api/spaces", json={**SPACE, "roles": ["data-consumer"]}).get_json()
    with listening(answer(PROFILE, "text/turtle")) as internal:
        for webid in (internal.url + "#me", f"http://2130706433:{internal.port}/#me"):
            invited = owner.post(
                f"/api/spaces/{space['id']}/invitations",
                json={"webid": webid, "roles": ["data-provider"]},
            )
            assert invited.status_code == 422
            assert "Could not connect" in invited.get_data(as_text=True)
        assert internal.connections == 0


def test_a_trickling_profile_is_cut_at_the_deadline(tmp_path):
    """Loopback allowed (as for a pod on this machine): one byte a second still cannot hold
    a request thread past the deadline."""
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "REGISTRY_PATH": ":memory:",
            "EGRESS_ALLOW": "loopback",
            "EGRESS_DEADLINE_SECONDS": 2,
        }
    )
    with listening(trickle(30)) as slow:
        start = time.monotonic()
        page = _sign_in(app.test_client(), webid=slow.url + "#me")
        elapsed = time.monotonic() - start
        assert slow.connections == 1
    assert page.status_code == 422
    assert elapsed < 15  # the 2 s deadline, with room for a busy machine; the trickle lasts 30 s
