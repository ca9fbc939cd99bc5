"""Which pod server a request lands on, and a pool that spreads a pull over all of them.

A bound "per host" that keys on the URL's spelling is no bound: `localhost`, `LOCALHOST.`,
`127.0.0.1` and `[::ffff:127.0.0.1]` are four hosts and one server, and a provider that gives
each person a subdomain pod (`alice.pods.example`) would get one bound per person. So a pod
server here is the address its host resolves to (or the gateway a pod route sends it to) and
the port: what the server itself sees.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

Resolver = Callable[[str], str]


def first_address(host: str) -> str:
    """The lowest address `host` resolves to; the name itself when it resolves to nothing
    (its reads fail anyway, and share one bound meanwhile)."""
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return host
    addresses = sorted({_canonical(str(info[4][0])) for info in found})
    return addresses[0] if addresses else host


def _canonical(address: str) -> str:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return str(ip)


class PodServers:
    """The pod server of a URL, `address:port`; lookups are remembered for the pull."""

    def __init__(
        self,
        routes: Mapping[str, tuple[str, int]] | None = None,
        resolve: Resolver = first_address,
    ):
        """`routes`: origin -> (host, port) the worker connects to instead (its gateways)."""
        self._routes = {_origin(o): target for o, target in (routes or {}).items()}
        self._resolve = resolve
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def key(self, url: str) -> str:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        try:
            port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
        except ValueError:  # a port that is not a number: its read fails, the bound still holds
            port = 0
        route = self._routes.get(f"{scheme}://{host}:{port}")
        if route is not None:
            host, port = route[0].lower().rstrip("."), route[1]
        return f"{self._address(host)}:{port}"

    def _address(self, host: str) -> str:
        try:
            return _canonical(host.strip("[]"))
        except ValueError:
            pass
        with self._lock:
            known = self._known.get(host)
        if known is None:
            known = self._resolve(host)
            with self._lock:
                self._known[host] = known
        return known


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    return f"{scheme}://{(parts.hostname or '').rstrip('.')}:{port}"


class PullScheduler:
    """Runs `work(index, self)` for each person on at most `people_at_once` threads, taking
    people in turn from each pod server that has a free place (at most `per_server` people of
    one server at once), so no thread waits on a busy server while another server is idle.

    `slot(url)` is the hard bound on requests in flight at one server, whatever a person's
    resources are (one person's may span servers).

    `ahead`: people a server may have beyond its bound, taken only by a thread no server
    within its bound has anyone for. They do what comes before a request (the consent
    re-check, which waits on the control plane) while the server's places are busy reading,
    then queue for a place: so the re-check's round trip does not leave a place idle, and a
    slow server still cannot hold a thread another server's people could use.
    """

    def __init__(self, servers: PodServers, people_at_once: int, per_server: int, ahead: int = 0):
        self.servers = servers
        self._threads = max(1, people_at_once)
        self._per_server = max(1, per_server)
        self._most = self._per_server + max(0, ahead)
        self._cond = threading.Condition()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._queues: dict[str, deque[int]] = {}
        self._busy: dict[str, int] = {}
        self._ready: deque[str] = deque()  # servers with people waiting and a free place
        self._left = 0  # people queued, not yet taken
        self._added = 0
        self._closed = False  # no more people will be added
        self._pool: list[threading.Thread] = []
        self._failure: BaseException | None = None

    def slot(self, url: str) -> threading.BoundedSemaphore:
        key = self.servers.key(url)
        with self._cond:
            return self._slots.setdefault(key, threading.BoundedSemaphore(self._per_server))

    def run(self, first_urls: Sequence[str], work: Callable[[int, PullScheduler], None]) -> None:
        """`first_urls[i]`: where person i's first resource is (the server they queue at)."""
        self.start(work, min(self._threads, len(first_urls)))
        self.add(first_urls)
        self.close()
        self.join()

    # --- Fed while it runs: the people of a run come a page at a time --------------------------

    def start(self, work: Callable[[int, PullScheduler], None], threads: int | None = None) -> None:
        """Start the threads; people come with `add`, and `close` says no more will."""
        count = self._threads if threads is None else threads
        self._pool = [
            threading.Thread(target=self._serve, args=(work,), name=f"pull-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._pool:
            thread.start()

    def add(self, first_urls: Sequence[str]) -> int:
        """Queue more people (numbered on from those before); the number of the first."""
        keys = [self.servers.key(url) if url else "" for url in first_urls]
        with self._cond:
            first = self._added
            for offset, key in enumerate(keys):
                if key not in self._queues:
                    self._queues[key], self._busy[key] = deque(), 0
                queue = self._queues[key]
                # A server with no one waiting is out of turn; back in it if it has room.
                if not queue and self._busy[key] < self._per_server:
                    self._ready.append(key)
                queue.append(first + offset)
            self._added += len(keys)
            self._left += len(keys)
            self._cond.notify_all()
        return first

    def wait_for_room(self, low: int, most: int) -> None:
        """Until fewer than `low` people wait, or a server has no one waiting while fewer than
        `most` do (it would idle until the next people come), or a thread failed."""
        with self._cond:
            while not (
                self._failure is not None
                or self._left < low
                or (self._left < most and any(not q for q in self._queues.values()))
            ):
                self._cond.wait()

    @property
    def failed(self) -> bool:
        with self._cond:
            return self._failure is not None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def stop(self, failure: BaseException) -> None:
        """The feeder failed: the threads finish whom they hold and take no one else."""
        with self._cond:
            self._failure = self._failure or failure
            self._closed = True
            self._cond.notify_all()

    def join(self) -> None:
        for thread in self._pool:
            thread.join()
        if self._failure is not None:
            raise self._failure

    def _serve(self, work: Callable[[int, PullScheduler], None]) -> None:
        while (taken := self._take()) is not None:
            key, index = taken
            try:
                work(index, self)
            except BaseException as exc:  # the pull's caller sees it; the others stop taking
                with self._cond:
                    self._failure = self._failure or exc
                    self._cond.notify_all()
            finally:
                self._done(key)

    def _take(self) -> tuple[str, int] | None:
        with self._cond:
            while True:
                if self._failure is not None or (self._left == 0 and self._closed):
                    return None
                if self._ready:
                    key = self._ready.popleft()
                    index = self._queues[key].popleft()
                    self._busy[key] += 1
                    self._left -= 1
                    if self._queues[key] and self._busy[key] < self._per_server:
                        self._ready.append(key)  # its next person after the other servers'
                    return key, index
                key = self._ahead()
                if key is not None:
                    self._busy[key] += 1
                    self._left -= 1
                    return key, self._queues[key].popleft()
                self._cond.wait()

    def _ahead(self) -> str | None:
        """A full server with people waiting and room ahead: the least busy of them."""
        room = [
            key for key, queue in self._queues.items() if queue and self._busy[key] < self._most
        ]
        return min(room, key=lambda key: self._busy[key]) if room else None

    def _done(self, key: str) -> None:
        with self._cond:
            self._busy[key] -= 1
            # Back in turn if people wait there and it was full (a ready server is never full).
            if self._queues[key] and self._busy[key] == self._per_server - 1:
                self._ready.append(key)
            self._cond.notify_all()
