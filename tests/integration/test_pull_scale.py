"""Pulls that use every pod server and flood none, counted at the servers themselves.

Two real CSS pod servers count the requests in flight at them (tests/support/inflight.cjs);
the datacage's real pull reads people's records from both, as the datacage's own WebID.
"""

from __future__ import annotations

import time

import pytest

from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import CssAccountApi
from server.consent.model import PodResource
from server.datacage.pull import PullLimits
from server.datacage.pull import pull as pull_over_any_transport
from server.protocol.consents import JobConsent
from server.services import services
from tests.support.datacage_world import survey_world
from tests.support.pod_load import load, people_folder, reset

PER_SERVER = 12


class InForce:
    def still_in_force(self, consent) -> bool:
        return True

    def record_refusal(self, consent, url: str) -> None:
        raise AssertionError(f"the pod refused {url}")


def pull(cage, consents, limits):
    # These test pods serve plain http: the development setting.
    return pull_over_any_transport(cage, InForce(), consents, limits, allow_plain_http=True)


def consents_of(urls: list[str], start: int = 0) -> list[JobConsent]:
    return [
        JobConsent(f"https://dc.example/consents/{start + n}", f"{u}#me", (PodResource(u),))
        for n, u in enumerate(urls)
    ]


@pytest.fixture(scope="module")
def two_servers(counted_pod_servers):
    """(cage client, server A, its URLs, server B, its URLs): the cage signs in at A."""
    first, second = counted_pod_servers
    with CssAccountApi(first.base_url) as a_accounts, CssAccountApi(second.base_url) as b_accounts:
        account = a_accounts.create_account(
            email="cage-pull@example.org", password="cage-pull-secret-1", pod_name="cage-pull"
        )
        credentials = a_accounts.create_client_credentials(account, "datacage")
        cage = SolidClient(
            SolidSession.from_client_credentials(
                credentials.issuer, credentials.id, credentials.secret
            )
        )
        a_people = people_folder(a_accounts, account.webid, PER_SERVER, "a")
        b_people = people_folder(b_accounts, account.webid, PER_SERVER, "b")
    return cage, first, a_people.urls, second, b_people.urls


def interleaved(a: list[str], b: list[str]) -> list[str]:
    return [u for pair in zip(a, b, strict=True) for u in pair]


def test_each_pod_server_holds_its_bound_while_both_are_read_at_once(two_servers):
    cage, a, a_urls, b, b_urls = two_servers
    for server in (a, b):
        reset(server, delay_ms=60)  # each answer takes a while, so the bound is reached
    outcomes = pull(
        cage, consents_of(interleaved(a_urls, b_urls)), PullLimits(people_at_once=8, per_host=2)
    )
    assert all(o.inputs for o in outcomes), [o.skipped for o in outcomes if not o.inputs]
    a_load, b_load = load(a), load(b)
    assert a_load.total == b_load.total == PER_SERVER
    assert a_load.most == b_load.most == 2  # the bound, reached and never passed
    # Read at once: both servers were busy together for most of the pull.
    assert a_load.overlaps(b_load) > 0.6 * min(
        a_load.last_end - a_load.first_start, b_load.last_end - b_load.first_start
    )


def test_a_slow_pod_server_does_not_hold_up_the_others(two_servers):
    """Attack: one provider's server answers slowly (or is made to). The pool's threads must
    not all end up queueing for its places while the other servers wait idle."""
    cage, a, a_urls, b, b_urls = two_servers
    reset(a, delay_ms=300)
    reset(b)
    outcomes = pull(
        cage, consents_of(interleaved(a_urls, b_urls)), PullLimits(people_at_once=4, per_host=2)
    )
    assert all(o.inputs for o in outcomes)
    a_load, b_load = load(a), load(b)
    assert a_load.most <= 2
    assert b_load.most <= 2
    began = min(a_load.first_start, b_load.first_start)
    slow, fast = a_load.last_end - began, b_load.last_end - began
    # The slow server needs PER_SERVER / 2 * 0.3 s = 1.8 s however it is read; the fast one's
    # people must not wait for it.
    assert fast < 0.4 * slow, (fast, slow)


def test_spellings_of_one_server_share_its_bound(two_servers):
    """Attack: consents that name one server as `localhost`, `LOCALHOST`, `localhost.` and
    `127.0.0.1` must not get four bounds' worth of requests in at once."""
    cage, a, a_urls, _b, _b_urls = two_servers
    reset(a, delay_ms=150)
    port = a.port
    spellings = [f"{host}:{port}" for host in ("localhost", "LOCALHOST", "localhost.", "127.0.0.1")]
    base = f"localhost:{port}"
    urls = [a_urls[n].replace(base, spellings[n % 4], 1) for n in range(8)]
    pull(cage, consents_of(urls), PullLimits(people_at_once=8, per_host=2))
    counted = load(a)
    assert counted.total >= 4  # the other spellings reached the server too (CSS refuses them)
    assert counted.most <= 2, f"{counted.most} requests in flight at one server, bound 2"


def test_a_real_run_reports_people_read_per_pod_server_through_the_job_api(
    make_user, tmp_path, css
):
    with survey_world(make_user, tmp_path, people=5) as world:
        runs = services(world.app).runs
        started = runs.start(world.space.id, world.owner.webid)
        # One person takes the grant back in their own pod: the datacage gets a 403.
        refuser = world.people[0]
        refuser.client.access_control(refuser.pod + "shop/orders.csv").revoke(world.cage.webid)
        assert world.worker().run_once() is not None
        run = runs.store.load(started.id)
        server = css.base_url.rstrip("/")
        assert [(p.server, p.to_read, p.read, p.failed) for p in run.pod_servers] == [
            (server, 5, 4, 1)
        ]
        client = world.app.test_client()
        with client.session_transaction() as session:
            session.update(webid=world.owner.webid, signed_in_at=time.time(), csrf_token="t")
        page = client.get(f"/spaces/{world.space.id}/runs/{run.id}").get_data(as_text=True)
        row = page[page.index(f'data-server="{server}"') :]
        # Attack: 4 read is below the space's k = 5, which the page never shows; the
        # per-server counts must not tell it either.
        assert run.individuals_read == 0
        assert '<td class="to-read">5</td><td class="read">—</td><td class="failed">—</td>' in row
