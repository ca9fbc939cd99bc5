"""The dashboard on a real `oxigraph serve` registry shared by two control planes.

One control plane keeps a space's dashboard; the other (another gunicorn worker, or the
scheduler's process: anything with its own registry connection) writes a run and a delivery.
The first one's next view shows both: what it kept is checked against the store's activity
counter, which the other's writes moved, not against anything in its own memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.runs.model import Run, RunStatus
from server.services import services
from tests.support.dashboard_page import DELIVERED, tile
from tests.support.registries import oxigraph  # noqa: F401 - the fixture, by name
from tests.support.web_api import (  # noqa: F401
    OWNER,
    PUBLIC_URL,
    Caller,
    clean_environment,
    create,
    sparql_app,
)


def test_a_write_by_another_control_plane_is_on_the_next_view(oxigraph, tmp_path):  # noqa: F811
    viewer, writer = (sparql_app(oxigraph, tmp_path / n) for n in ("viewer", "writer"))
    owner = Caller(viewer, OWNER)
    space = create(owner)

    def view() -> str:
        response = owner.get(f"/spaces/{space['id']}/dashboard")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    assert view() == view()  # kept: the same page
    assert tile(view(), "runs") == "0"

    store = services(writer).runs.store
    with writer.app_context():
        run = store.create(
            Run(
                id="elsewhere1",
                iri=store.iri_of("elsewhere1"),
                space_id=space["id"],
                space_iri=space["iri"],
                algorithm_digest="sha256:" + "a" * 64,
                terms_digest="sha256:" + "b" * 64,
                requested_by=OWNER,
                requested_at=datetime.now(UTC) - timedelta(hours=1),
                status=RunStatus.SUCCEEDED,
                gate_passed=True,
            )
        )
    page = view()
    assert tile(page, "runs") == "1"
    assert tile(page, "deliveries") == "0"

    with writer.app_context():
        store.record_delivery(run.iri, DELIVERED, datetime.now(UTC), None)
    page = view()
    assert tile(page, "deliveries") == "1"
    assert "last run: delivered" in page
    services(viewer).close()
    services(writer).close()
