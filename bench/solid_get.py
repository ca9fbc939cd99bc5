"""GET throughput of our Solid client against a bare `requests` loop, on the same CSS, same run.

Both sides read the same private ~400-byte Turtle resource with a fresh DPoP proof per request
(CSS refuses replays), sharing one HTTP session per side. The bare side builds its proofs by
hand with PyJWT and obtains its own token with a hand-written client-credentials request, so
it carries none of our layers. Rounds alternate A-B-B-A so drift on this shared, noisy machine
hits both sides alike; the ratio of medians is what matters, not the absolute rates.

Prints `name=value` lines; the last one is `solid_get_ratio=<ours/bare>` (the lower of the
1-thread and 4-thread ratios: our overhead must not show in either).

    python bench/solid_get.py [--requests N] [--rounds R]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.solid import SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi

TURTLE = (
    "@prefix foaf: <http://xmlns.com/foaf/0.1/>.\n"
    "@prefix ex: <https://example.org/ns#>.\n"
    '<#me> a foaf:Person; foaf:name "Alice Example"; foaf:mbox <mailto:alice@example.org>;\n'
    '  ex:city "Brussels"; ex:postcode "1000"; ex:birthYear 1984; ex:segment "gold";\n'
    '  ex:customerSince "2015-03-01"; ex:newsletter true; ex:score 0.82;\n'
    '  ex:note "benchmark resource of about four hundred bytes, private to its owner".\n'
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class BareClient:
    """The baseline: requests + PyJWT, nothing of ours."""

    def __init__(self, issuer: str, client_id: str, secret: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        self.http = requests.Session()
        token_url = issuer + ".oidc/token"
        basic = base64.b64encode(f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode())
        response = self.http.post(
            token_url,
            data={"grant_type": "client_credentials", "scope": "webid"},
            headers={
                "Authorization": "Basic " + basic.decode(),
                "DPoP": self.proof("POST", token_url),
            },
            timeout=10,
        )
        response.raise_for_status()
        self.token = response.json()["access_token"]
        self.ath = b64url(hashlib.sha256(self.token.encode()).digest())

    def proof(self, method: str, url: str, ath: str | None = None) -> str:
        claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
        if ath:
            claims["ath"] = ath
        return jwt.encode(
            claims, self.key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self.jwk}
        )

    def get(self, url: str) -> bytes:
        response = self.http.get(
            url,
            timeout=30,
            headers={
                "Authorization": f"DPoP {self.token}",
                "DPoP": self.proof("GET", url, self.ath),
            },
        )
        response.raise_for_status()
        return response.content


def throughput(get: Callable[[str], object], url: str, count: int, threads: int) -> float:
    began = time.perf_counter()
    if threads == 1:
        for _ in range(count):
            get(url)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: get(url), range(count)))
    return count / (time.perf_counter() - began)


def measure(
    ours: Callable, bare: Callable, url: str, count: int, rounds: int, threads: int
) -> tuple[float, float]:
    ours_rates, bare_rates = [], []
    for round_index in range(rounds):
        order = [("ours", ours), ("bare", bare)]
        if round_index % 2:
            order.reverse()  # A-B, B-A, ...: drift falls on both sides alike
        for name, get in order:
            rate = throughput(get, url, count, threads)
            (ours_rates if name == "ours" else bare_rates).append(rate)
        print(
            f"  [{threads} thread(s)] round {round_index + 1}/{rounds}: "
            f"ours {ours_rates[-1]:.0f}/s, bare {bare_rates[-1]:.0f}/s",
            flush=True,
        )
    return statistics.median(ours_rates), statistics.median(bare_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per round and side")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    print("Starting the Community Solid Server...", flush=True)
    with CommunitySolidServer() as css, CssAccountApi(css.base_url) as accounts:
        account = accounts.create_account(
            email="bench@example.org", password=uuid.uuid4().hex, pod_name="bench"
        )
        ours_credentials = accounts.create_client_credentials(account, "ours")
        bare_credentials = accounts.create_client_credentials(account, "bare")
        session = SolidSession.from_client_credentials(
            css.issuer, ours_credentials.id, ours_credentials.secret
        )
        client = SolidClient(session)
        url = account.pod_url + "bench/resource.ttl"
        client.put(url, TURTLE, "text/turtle")
        bare = BareClient(css.issuer, bare_credentials.id, bare_credentials.secret)
        assert bare.get(url) == client.get(url).body, "both sides must read the same thing"
        print(f"Resource: {len(TURTLE.encode())} bytes at {url}", flush=True)

        def ours(target: str) -> bytes:
            return client.get(target).body

        for warm in (ours, bare.get):  # connections and JIT-ish caches on both sides
            throughput(warm, url, 30, 1)

        ratios = {}
        for threads in (1, 4):
            ours_rate, bare_rate = measure(ours, bare.get, url, args.requests, args.rounds, threads)
            ratios[threads] = ours_rate / bare_rate
            suffix = "1thread" if threads == 1 else f"{threads}threads"
            print(f"solid_get_ours_per_s_{suffix}={ours_rate:.1f}")
            print(f"solid_get_bare_per_s_{suffix}={bare_rate:.1f}")
            print(f"solid_get_ratio_{suffix}={ratios[threads]:.3f}")
    print(f"solid_get_ratio={min(ratios.values()):.3f}")


if __name__ == "__main__":
    main()
