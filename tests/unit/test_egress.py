"""The egress policy under attack: internal addresses, spellings, redirects, slow and huge answers.

Every "refused" case here names a loopback listener (or an address that is refused before any
connection is made) and checks that nothing reached it.
"""

from __future__ import annotations

import ssl
import time

import pytest
import requests

from connectors.egress import UNREACHABLE, EgressError, EgressPolicy, parse_allow
from connectors.solid import errors as solid_errors
from connectors.solid.http import Http
from tests.support.listener import answer, closed_port, flood, listening, redirect, trickle

STRICT = EgressPolicy()
LOOPBACK = EgressPolicy.from_settings("loopback", deadline_seconds=3, max_response_bytes=1 << 20)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "169.254.169.254",  # cloud metadata
        "fd00:ec2::254",  # cloud metadata over IPv6
        "fe80::1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "::",
        "224.0.0.1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped IPv6
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    ],
)
def test_internal_addresses_are_refused(address):
    assert not STRICT.permits(address)


def test_public_addresses_are_permitted():
    assert STRICT.permits("93.184.215.14")
    assert STRICT.permits("2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def test_allow_list_opens_ranges_but_metadata_only_by_name():
    policy = EgressPolicy.from_settings("loopback link-local 10.1.0.0/16")
    assert all(policy.permits(a) for a in ("127.0.0.1", "::1", "10.1.2.3"))
    assert not policy.permits("10.2.0.1")
    assert not policy.permits("169.254.169.254")  # a range does not open the metadata service
    assert EgressPolicy.from_settings("169.254.169.254").permits("169.254.169.254")
    with pytest.raises(ValueError, match="intranet"):
        parse_allow("intranet")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://2130706433:{port}/",  # 127.0.0.1 as one decimal number
        "http://0177.0.0.1:{port}/",  # octal
        "http://0x7f.1:{port}/",  # hex, short form
        "http://0:{port}/",  # 0.0.0.0 reaches loopback on Linux
        "http://a@127.0.0.1:{port}/",  # userinfo
        "http://example.org@127.0.0.1:{port}/",
    ],
)
def test_every_spelling_of_loopback_is_refused_before_connecting(url):
    with listening(answer(b"secret")) as listener:
        with pytest.raises(EgressError, match=UNREACHABLE):
            STRICT.session().get(url.format(port=listener.port), timeout=3)
        assert listener.connections == 0


def test_allowed_loopback_is_reached_with_the_right_host_header():
    with listening(answer(b"hello")) as listener:
        response = LOOPBACK.session().get(f"http://localhost:{listener.port}/x", timeout=3)
    assert response.content == b"hello"
    assert listener.connections == 1


def test_a_body_read_after_the_server_closes_is_whole():
    """`Connection: close` answers (most servers' last response) stay readable to the end."""
    body = bytes(range(256)) * 2048  # 512 KiB, more than any socket buffer
    with listening(answer(body)) as listener:
        http = Http(session=LOOPBACK.session())
        assert http.read(http.request("GET", listener.url)) == body


def test_tls_is_checked_against_the_name_not_the_pinned_address(tmp_path):
    """Connecting to the pinned address keeps SNI and certificate checks on the host name."""
    from server.demo.certificates import make_local_ca

    ca, cert, key = make_local_ca(tmp_path)  # a certificate for localhost (and 127.0.0.1)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names = {"localhost": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    policy = EgressPolicy(allow=parse_allow("loopback"), resolver=lambda h, p: names[h])
    with listening(answer(b"over tls"), tls=context) as listener:
        session = policy.session()
        good = session.get(f"https://localhost:{listener.port}/", verify=str(ca), timeout=5)
        assert good.content == b"over tls"
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://other.test:{listener.port}/", verify=str(ca), timeout=5)


def test_the_checked_address_is_the_one_connected_to():
    """DNS rebinding: the resolver is asked once; a second, internal answer is never used."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    calls = []

    def resolver(host, port):
        calls.append(host)
        return next(answers)

    policy = EgressPolicy(resolver=resolver, deadline_seconds=0.5)
    with listening(answer(b"inside")) as listener:
        with pytest.raises(EgressError):
            policy.session().get(f"http://rebind.test:{listener.port}/", timeout=0.5)
        assert listener.connections == 0
    assert calls == ["rebind.test"]


def test_a_name_resolving_to_internal_addresses_is_refused_without_connecting():
    for inside in ("10.1.2.3", "169.254.169.254", "fd00:ec2::254"):
        resolved: list[str] = []
        policy = EgressPolicy(resolver=lambda host, port, a=inside, r=resolved: r.append(a) or [a])
        with pytest.raises(EgressError):
            policy.session().get("http://idp.example/", timeout=1)
        assert resolved == [inside]


def test_redirect_to_loopback_is_refused_on_the_hop():
    with listening(answer(b"inside")) as inside:
        target = f"http://127.0.0.1:{inside.port}/"
        # The first hop is allowed (as a public server would be); the redirect is not.
        policy = EgressPolicy(
            allow=parse_allow("127.0.0.1/32"), resolver=lambda h, p: ["127.0.0.1"]
        )
        with listening(redirect(f"http://internal.test:{inside.port}/")) as outside:

            def resolver(host, port):
                return ["127.0.0.1"] if host == "public.test" else ["10.0.0.9"]

            policy = EgressPolicy(allow=policy.allow, resolver=resolver)
            with pytest.raises(EgressError):
                policy.session().get(f"http://public.test:{outside.port}/", timeout=3)
            assert outside.connections == 1
        assert inside.connections == 0
        assert target  # the listener behind the redirect was never called


def test_slow_loris_is_cut_at_the_deadline():
    with listening(trickle(30)) as listener:
        http = Http(session=LOOPBACK.session(), timeout=(2.0, 2.0))
        start = time.monotonic()
        with pytest.raises(solid_errors.SolidError):
            http.read(http.request("GET", listener.url))
        elapsed = time.monotonic() - start
    assert elapsed < LOOPBACK.deadline_seconds + 10  # the trickle would last 30 s


def test_oversized_answer_is_cut_at_the_cap():
    with listening(flood(8 << 20)) as listener:
        session = LOOPBACK.session()
        with pytest.raises(requests.RequestException):
            session.get(listener.url, timeout=3).content  # noqa: B018 - reading is the test


def test_open_and_closed_ports_and_timeouts_read_the_same():
    http = Http(session=LOOPBACK.session(), timeout=(1.0, 1.0))
    messages = []
    with listening(lambda conn: time.sleep(5)) as silent:
        for url in (f"http://127.0.0.1:{closed_port()}/", silent.url, "http://10.0.0.1/"):
            with pytest.raises(solid_errors.SolidError) as caught:
                http.request("GET", url, what="the profile")
            messages.append(str(caught.value))
    assert len(set(messages)) == 1, messages
    assert not any(address in messages[0] for address in ("127.0.0.1", "10.0.0.1"))


def test_a_pushed_dataset_url_cannot_reach_the_datacages_network(monkeypatch):
    from connectors.base import ConnectorError
    from connectors.http_grant import open_url

    monkeypatch.setenv("DATACAGE_EGRESS_ALLOW", "")  # as in production
    for handler in (answer(b"metadata"), trickle(5)):
        with listening(handler) as internal:
            grant = {"url": internal.url + "latest/meta-data/"}
            with pytest.raises(ConnectorError, match="could not be reached"), open_url(grant, "S3"):
                pass
            assert internal.connections == 0
