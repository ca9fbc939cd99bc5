"""The control plane's first pages, through Flask's test client (no server, no network)."""

import os

import pytest

from server import create_app
from server.config import ConfigError

PUBLIC_URL = "https://datacage.example/"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The app reads DATACAGE_* variables; none from the developer's shell may leak in."""
    for name in list(os.environ):
        if name.startswith("DATACAGE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def app():
    return create_app({"TESTING": True, "PUBLIC_URL": PUBLIC_URL, "CLIENT_NAME": "Datacage Test"})


@pytest.fixture
def client(app):
    return app.test_client()


def test_the_health_check_answers_ok_in_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok"}


def test_the_home_page_names_the_client_and_links_its_client_id_document(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Datacage Test</h1>" in page
    assert 'href="/clientid.jsonld"' in page


def test_the_client_id_document_is_json_ld_naming_our_client_id_and_callback(client):
    response = client.get("/clientid.jsonld")
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    document = response.get_json(force=True)
    assert document["@context"] == ["https://www.w3.org/ns/solid/oidc-context.jsonld"]
    assert document["client_id"] == PUBLIC_URL + "clientid.jsonld"
    assert document["redirect_uris"] == [PUBLIC_URL + "login/callback"]
    assert document["client_name"] == "Datacage Test"
    assert document["client_uri"] == PUBLIC_URL
    assert document["post_logout_redirect_uris"] == [PUBLIC_URL]
    assert document["token_endpoint_auth_method"] == "none"


def test_an_unknown_page_is_a_404(client):
    assert client.get("/no-such-page").status_code == 404


@pytest.mark.parametrize(
    "public_url",
    ["https://datacage.example", "ftp://datacage.example/", "datacage.example/", ""],
)
def test_a_public_url_that_cannot_work_stops_the_app_naming_the_variable(public_url):
    with pytest.raises(ValueError, match="DATACAGE_PUBLIC_URL must be an http") as raised:
        create_app({"TESTING": True, "PUBLIC_URL": public_url})
    assert isinstance(raised.value, ConfigError)
    assert repr(public_url) in str(raised.value)


def test_the_public_url_and_client_name_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATACAGE_CLIENT_NAME", "Pod Cooperative")
    monkeypatch.setenv("DATACAGE_PUBLIC_URL", "https://coop.example/app/")
    client = create_app({"TESTING": True}).test_client()
    assert "<h1>Pod Cooperative</h1>" in client.get("/").get_data(as_text=True)
    document = client.get("/clientid.jsonld").get_json(force=True)
    assert document["client_name"] == "Pod Cooperative"
    assert document["client_id"] == "https://coop.example/app/clientid.jsonld"


def test_a_bad_public_url_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("DATACAGE_PUBLIC_URL", "coop.example")
    with pytest.raises(ValueError, match="DATACAGE_PUBLIC_URL"):
        create_app({"TESTING": True})


def test_a_client_name_with_markup_is_shown_as_text(monkeypatch):
    monkeypatch.setenv("DATACAGE_CLIENT_NAME", "<script>alert(1)</script>")
    page = create_app({"TESTING": True}).test_client().get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_without_a_configured_secret_key_each_app_gets_its_own_random_one():
    first, second = create_app({"TESTING": True}), create_app({"TESTING": True})
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]
