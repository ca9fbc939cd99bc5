"""Pod servers that count, at the server, the requests in flight (`inflight.cjs`), and a folder
of people's resources on each, readable by one datacage WebID: the world of the pull-scale
tests and of `bench/pulls.py`."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from connectors.solid import AccessMode, SolidClient, SolidSession
from connectors.solid.css import CommunitySolidServer, CssAccountApi

INFLIGHT_PRELOAD = Path(__file__).with_name("inflight.cjs")
RECORD = b'<#me> <http://schema.org/email> "someone@example.org" .\n'


def counted_server() -> CommunitySolidServer:
    """A CSS (not yet started) that counts the requests in flight at it."""
    return CommunitySolidServer(preloads=(INFLIGHT_PRELOAD,))


@dataclass(frozen=True)
class Load:
    most: int  # most requests in flight at once
    total: int
    spans: list[tuple[float, float]]  # (start, end) of each, in seconds

    @property
    def first_start(self) -> float:
        return min(s for s, _ in self.spans)

    @property
    def last_end(self) -> float:
        return max(e for _, e in self.spans)

    def overlaps(self, other: Load) -> float:
        """Seconds during which both servers had a request in flight."""
        covered = 0.0
        for start, end in _merged(self.spans):
            for other_start, other_end in _merged(other.spans):
                covered += max(0.0, min(end, other_end) - max(start, other_start))
        return covered


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def reset(server: CommunitySolidServer, delay_ms: int = 0) -> None:
    """Zero the server's counts; it holds each counted request `delay_ms` before answering."""
    response = requests.post(f"{server.base_url}.inflight/reset?delay={delay_ms}", timeout=10)
    response.raise_for_status()


def load(server: CommunitySolidServer) -> Load:
    body = requests.get(f"{server.base_url}.inflight", timeout=10).json()
    spans = [(s / 1000, e / 1000) for s, e in body["spans"]]
    return Load(int(body["most"]), int(body["total"]), spans)


@dataclass(frozen=True)
class PeopleFolder:
    """`count` people's records in one folder of one pod, readable by `reader`."""

    urls: list[str]
    owner: SolidClient


def people_folder(
    accounts: CssAccountApi, reader_webid: str, count: int, label: str = "people"
) -> PeopleFolder:
    name = f"{label}-{secrets.token_hex(5)}"
    account = accounts.create_account(
        email=f"{name}@example.org", password=secrets.token_urlsafe(18), pod_name=name
    )
    credentials = accounts.create_client_credentials(account, "owner")
    owner = SolidClient(
        SolidSession.from_client_credentials(credentials.issuer, credentials.id, credentials.secret)
    )
    folder = account.pod_url + "people/"
    urls = [f"{folder}{n:05d}.ttl" for n in range(count)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda url: owner.put(url, RECORD, "text/turtle"), urls))
    owner.access_control(folder).grant(reader_webid, [AccessMode.READ], include_members=True)
    return PeopleFolder(urls, owner)
