"""Which pod server a URL is on, and the pool that spreads a pull over servers."""

from __future__ import annotations

import threading
import time

import pytest

from server.datacage.pod_servers import PodServers, PullScheduler
from server.datacage.pull import PullLimits


def resolver(table: dict[str, str]):
    return lambda host: table.get(host, host)


def test_spellings_of_one_address_are_one_server():
    servers = PodServers(resolve=resolver({"localhost": "127.0.0.1"}))
    keys = {
        servers.key(url)
        for url in (
            "http://localhost:3000/a",
            "http://LOCALHOST:3000/b",
            "http://localhost.:3000/c",
            "http://127.0.0.1:3000/d",
            "http://[::ffff:127.0.0.1]:3000/e",
            "http://user@localhost:3000/f",
        )
    }
    assert keys == {"127.0.0.1:3000"}


def test_subdomain_pods_of_one_provider_are_one_server():
    """Attack: a provider giving each person a host of their own gets one bound, not one each."""
    servers = PodServers(resolve=resolver({f"p{n}.pods.example": "203.0.113.7" for n in range(50)}))
    assert {servers.key(f"https://p{n}.pods.example/data") for n in range(50)} == {
        "203.0.113.7:443"
    }


def test_default_ports_and_other_ports():
    servers = PodServers(resolve=resolver({"pods.example": "203.0.113.7"}))
    assert servers.key("https://pods.example/x") == servers.key("https://pods.example:443/y")
    assert servers.key("https://pods.example:8443/x") != servers.key("https://pods.example/x")


def test_a_routed_origin_is_the_gateway_it_is_sent_to():
    servers = PodServers(
        routes={"https://pods.example": ("127.0.0.1", 9443)},
        resolve=resolver({"pods.example": "203.0.113.7"}),
    )
    assert servers.key("https://pods.example/alice/x") == "127.0.0.1:9443"


def test_a_host_that_resolves_to_nothing_is_its_own_server_and_lookups_are_remembered():
    asked: list[str] = []

    def resolve(host: str) -> str:
        asked.append(host)
        return host

    servers = PodServers(resolve=resolve)
    assert servers.key("https://nowhere.invalid/a") == "nowhere.invalid:443"
    servers.key("https://nowhere.invalid/b")
    assert asked == ["nowhere.invalid"]


def test_the_scheduler_keeps_each_server_within_its_bound_and_every_thread_busy():
    servers = PodServers(resolve=resolver({"a.example": "192.0.2.1", "b.example": "192.0.2.2"}))
    urls = [f"https://a.example/{n}" for n in range(12)] + [
        f"https://b.example/{n}" for n in range(12)
    ]
    busy = {"192.0.2.1:443": 0, "192.0.2.2:443": 0}
    most = dict(busy)
    lock = threading.Lock()
    done: list[int] = []

    def work(index: int, pool: PullScheduler) -> None:
        key = servers.key(urls[index])
        with lock:
            busy[key] += 1
            most[key] = max(most[key], busy[key])
        time.sleep(0.02 if "a.example" in urls[index] else 0.0)
        with lock:
            busy[key] -= 1
            done.append(index)

    PullScheduler(servers, people_at_once=6, per_server=2).run(urls, work)
    assert sorted(done) == list(range(24))
    assert most == {"192.0.2.1:443": 2, "192.0.2.2:443": 2}


def test_a_failure_stops_the_pool_and_reaches_the_caller():
    servers = PodServers(resolve=resolver({}))

    def work(index: int, pool: PullScheduler) -> None:
        if index == 3:
            raise RuntimeError("the control plane is gone")

    with pytest.raises(RuntimeError, match="control plane"):
        PullScheduler(servers, 4, 2).run([f"https://h{n}.example/" for n in range(40)], work)


def test_limits_come_from_the_configuration_with_defaults():
    assert PullLimits.from_config({}) == PullLimits()
    limits = PullLimits.from_config({"PULL_PEOPLE_AT_ONCE": 32, "PULL_PER_POD_SERVER": 6})
    assert (limits.people_at_once, limits.per_host) == (32, 6)


def test_the_worker_reads_its_pull_limits_from_its_environment_and_refuses_nonsense():
    from server.config import ConfigError, worker_config

    config = worker_config({"DATACAGE_PULL_PER_POD_SERVER": "2"})
    assert PullLimits.from_config(config).per_host == 2
    for bad in ("0", "many"):
        with pytest.raises(ConfigError, match="DATACAGE_PULL_PER_POD_SERVER"):
            worker_config({"DATACAGE_PULL_PER_POD_SERVER": bad})
