"""A space's overview page is kept rendered, and keeping it never shows a page it should not.

The attacks on a kept page: a view after a change shows the old page (the change made by
another control plane on a shared `oxigraph serve` registry, which this one's memory knows
nothing of); one viewer is shown the page kept for another (the owner's forms, a participant's
counts); one session's form carries another session's CSRF token, or none. Each is a test here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace

from server.dashboard import stamp as stamps
from server.push.records import PushedDataset, datasets_graph_name, datasets_to_graph
from server.services import services
from server.web import spaces as spaces_view
from tests.support.consented import consented
from tests.support.registries import oxigraph  # noqa: F401 - the fixture, by name
from tests.support.web_api import (  # noqa: F401
    ALICE,
    OWNER,
    PUBLIC_URL,
    STRANGER,
    Caller,
    app,
    callers,
    clean_environment,
    create,
    space,
    sparql_app,
)

TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def overview(caller: Caller, space_id: str) -> str:
    response = caller.get(f"/spaces/{space_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def counts_of(page: str) -> str:
    found = re.search(r'<p id="consent-counts">(.*?)</p>', page, re.S)
    assert found, "the page shows no consent counts"
    return found.group(1)


def dataset(space_iri: str, name: str) -> PushedDataset:
    return PushedDataset(
        id=f"dataset-{name}",
        iri=f"{space_iri}/datasets/dataset-{name}",
        provider=OWNER,
        name=name,
        connector="file",
        location=f"/share/{name}.dcgpush",
        format="csv",
        schema=None,
        ciphertext_digest="sha256:" + "c" * 64,
        size=1234,
        evidence_sha256="e" * 64,
        key_sha256="k" * 64,
        registered_at=datetime.now(UTC),
    )


def test_a_change_by_another_control_plane_is_on_the_next_view(oxigraph, tmp_path):  # noqa: F811
    viewer, writer = (sparql_app(oxigraph, tmp_path / n) for n in ("viewer", "writer"))
    owner, owner_there = Caller(viewer, OWNER), Caller(writer, OWNER)
    made = create(owner)
    page = overview(owner, made["id"])
    assert overview(owner, made["id"]) == page
    assert len(services(viewer).overview.pages) == 1  # the second view used the kept body
    assert "No invitations yet." in page
    assert "Nobody has consented yet." in counts_of(page)

    # The space's record, changed elsewhere.
    invited = owner_there.post(
        f"/api/spaces/{made['id']}/invitations", json={"webid": ALICE, "roles": ["data-provider"]}
    )
    assert invited.status_code == 201
    page = overview(owner, made["id"])
    assert ALICE in page
    assert "No invitations yet." not in page

    # Its datasets graph, written elsewhere.
    with writer.app_context():
        graph = datasets_to_graph(made["iri"], [dataset(made["iri"], "orders-from-elsewhere")])
        services(writer).registry.write(
            datasets_graph_name(made["iri"]), graph, expected_revision=0
        )
    assert "orders-from-elsewhere" in overview(owner, made["id"])

    # People's consents, recorded elsewhere: the counters move, so do the counts.
    # (a draft's terms have no digest yet; the consents name some terms, the counts do not care)
    terms = SimpleNamespace(iri=made["iri"], terms_digest="sha256:" + "d" * 64)
    consented(services(writer), terms, 3)
    assert counts_of(overview(owner, made["id"])) == "Given: 3"
    consented(services(writer), terms, 2, first=3)
    assert counts_of(overview(owner, made["id"])) == "Given: 5"
    services(viewer).close()
    services(writer).close()


def test_each_viewer_gets_the_page_for_who_they_are(callers, space):  # noqa: F811
    owner, alice = callers[OWNER], callers[ALICE]
    mine = overview(owner, space["id"])
    hers = overview(alice, space["id"])
    assert "Close this space" in mine
    assert "Send the invitation" in mine
    assert "Close this space" not in hers
    assert "Send the invitation" not in hers
    assert overview(owner, space["id"]) == mine  # kept, and still the owner's
    assert overview(alice, space["id"]) == hers

    # Invited but not yet in: the invitation to accept, no counts, no datasets.
    invited = owner.post(
        f"/api/spaces/{space['id']}/invitations",
        json={"webid": STRANGER, "roles": ["data-consumer"]},
    )
    assert invited.status_code == 201
    theirs = overview(callers[STRANGER], space["id"])
    assert "You are invited" in theirs
    assert 'id="consent-counts"' not in theirs
    assert "Pushed datasets" not in theirs
    assert "You are invited" not in overview(owner, space["id"])


def test_someone_who_may_not_view_the_space_is_refused_even_when_it_is_kept(callers, space):  # noqa: F811
    overview(callers[OWNER], space["id"])  # kept now
    assert callers[STRANGER].get(f"/spaces/{space['id']}").status_code == 403
    assert callers["nobody"].get(f"/spaces/{space['id']}").status_code == 303  # to sign in


def test_every_form_carries_the_viewers_own_token_and_it_is_accepted(app, space):  # noqa: F811
    sessions = []
    for token in ("first-session-token", "second-session-token"):
        client = app.test_client()
        with client.session_transaction() as session:
            session.update(webid=OWNER, signed_in_at=datetime.now(UTC).timestamp())
            session["csrf_token"] = token
        sessions.append((client, token))
    pages = [c.get(f"/spaces/{space['id']}").get_data(as_text=True) for c, _ in sessions]
    assert len(services(app).overview.pages) == 1  # one body, kept, for both sessions
    for page, (_, token) in zip(pages, sessions, strict=True):
        tokens = TOKEN.findall(page)
        assert len(tokens) >= 3  # invite, submit or approve, close, withdraw...
        assert set(tokens) == {token}
        assert "csrf-placeholder" not in page

    client, token = sessions[1]
    sent = client.post(
        f"/spaces/{space['id']}/invitations",
        data={
            "webid": "https://carol.example/profile/card#me",
            "roles": "data-consumer",
            "csrf_token": token,
        },
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)
    stolen = client.post(
        f"/spaces/{space['id']}/invitations",
        data={
            "webid": "https://dave.example/profile/card#me",
            "roles": "data-consumer",
            "csrf_token": sessions[0][1],
        },
    )
    assert stolen.status_code == 403
    assert "dave.example" not in overview(Caller(app, OWNER), space["id"])


def test_a_refused_invitation_shows_the_form_again_with_its_errors_and_a_token(app, space):  # noqa: F811
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(webid=OWNER, signed_in_at=datetime.now(UTC).timestamp())
        session["csrf_token"] = "the-token"
    response = client.post(
        f"/spaces/{space['id']}/invitations",
        data={"webid": "not a webid", "roles": "data-consumer", "csrf_token": "the-token"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="not a webid"' in page
    assert set(TOKEN.findall(page)) == {"the-token"}
    # The page with errors is not the one kept for others.
    assert 'value="not a webid"' not in overview(Caller(app, OWNER), space["id"])


class Reads:
    """Every read the app's registry answers (queries, graphs, revisions), by kind."""

    def __init__(self, registry, monkeypatch):
        self.seen: list[str] = []
        for name in ("select", "select_text", "ask", "read", "revision"):
            monkeypatch.setattr(registry, name, self._logged(name, getattr(registry, name)))

    def _logged(self, name, original):
        def logged(*args, **kwargs):
            self.seen.append(name)
            return original(*args, **kwargs)

        return logged


def test_a_repeat_view_makes_two_small_queries_and_renders_only_the_frame(
    app,  # noqa: F811
    callers,  # noqa: F811
    space,  # noqa: F811
    monkeypatch,
):
    first = overview(callers[OWNER], space["id"])
    reads = Reads(services(app).registry, monkeypatch)
    rendered: list[str] = []
    original = spaces_view.render_template
    monkeypatch.setattr(
        spaces_view,
        "render_template",
        lambda name, **context: rendered.append(name) or original(name, **context),
    )
    assert overview(callers[OWNER], space["id"]) == first
    assert reads.seen == ["select_text", "select_text"]  # the stamp, the counters' version
    assert rendered == ["space.html"]  # the frame: who is signed in


def test_a_write_landing_while_a_view_reads_is_on_the_next_view(
    app,  # noqa: F811
    callers,  # noqa: F811
    space,  # noqa: F811
    monkeypatch,
):
    """The stamp is read before the space: a change written between the two is shown by this
    view (kept under the older stamp) or the next, never hidden behind a newer stamp."""
    owner = callers[OWNER]
    stamped, raced = stamps.page_stamp, []

    def stamp_then_a_write(registry, space_iri):
        found = stamped(registry, space_iri)
        if not raced:
            raced.append(
                owner.post(
                    f"/api/spaces/{space['id']}/invitations",
                    json={"webid": "https://meanwhile.example/#me", "roles": ["data-consumer"]},
                )
            )
        return found

    monkeypatch.setattr(stamps, "page_stamp", stamp_then_a_write)
    overview(owner, space["id"])
    monkeypatch.setattr(stamps, "page_stamp", stamped)
    assert raced[0].status_code == 201, raced[0].get_data(as_text=True)
    assert "meanwhile.example" in overview(owner, space["id"])
