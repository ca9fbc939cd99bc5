"""Attacks on the output gate by a dishonest code provider, through the real gate and its
real bubblewrap sandbox: the approved shape and the result are both the attacker's."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Graph

from server.datacage.gate import GatePolicy, InputIdentifiers, check_output

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "fixtures" / "hostile" / "gate"
COMMON_SHAPE = ROOT / "server/algorithms/builtin/common-customers/shapes/report.ttl"
NOBODY = InputIdentifiers(frozenset())
LEASED = range(2_000_000_000, 2_100_000_000)  # server.datacage.sandbox.ids's default range
REPORT = """@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix df: <https://w3id.org/datacage/datafuse#> .
<https://w3id.org/datacage/datafuse/report#common-customers>
    a df:MatchReport ; df:parties 2 ; df:matchedOn "email" ; df:blinding "x25519" ;
    df:commonCustomers 5 ; dcg:individuals 7 .
"""
OPEN_LABEL_SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix ex: <https://example.org/ns#> .
ex:ReportShape a sh:NodeShape ; sh:targetClass ex:Report ; sh:closed true ;
    sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) ;
    sh:property [ sh:path ex:label ; sh:maxLength 200 ] , [ sh:path ex:detail ; sh:maxCount 1 ] ,
                [ sh:path dcg:individuals ; sh:datatype xsd:integer ; sh:minCount 1 ] .
"""
LABELLED = """@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix ex: <https://example.org/ns#> .
ex:r a ex:Report ; dcg:individuals 9 ; ex:label {label} .
"""


def common_policy(k: int = 5) -> GatePolicy:
    return GatePolicy(shape=Graph().parse(COMMON_SHAPE), min_individuals=k)


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "out"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def gate(folder: Path, policy: GatePolicy, people: int = 20):
    return check_output(folder, policy, NOBODY, individuals_in_run=people)


def test_a_fitting_report_passes_through_the_sandboxed_gate(tmp_path):
    verdict = gate(write(tmp_path, {"r.ttl": REPORT}), common_policy())
    assert verdict.passed, verdict.reasons
    assert len(verdict.graph) == 6


# --- The gate has no network -------------------------------------------------------------------


class _Listener(http.server.BaseHTTPRequestHandler):
    received: list[bytes]  # each listener gets its own (see the fixture)

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append(self.requestline.encode() + b"\n" + self.rfile.read(length))
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = _any

    def log_message(self, *args) -> None:
        pass


class _Settled(list):
    """What a listener received, final once `settle()` returned."""

    def __init__(self, server: http.server.ThreadingHTTPServer) -> None:
        super().__init__()
        self._server = server

    def settle(self) -> _Settled:
        """Stop listening and finish every request already made: a connection the kernel
        accepted but nobody served yet counts too, so nothing can arrive after this."""
        self._server.shutdown()
        self._server.socket.setblocking(False)
        try:
            waiting, _ = self._server.socket.accept()
        except BlockingIOError:
            pass
        else:
            waiting.close()
            self.append(b"(a connection)")
        self._server.server_close()  # joins the request threads (block_on_close)
        return self


@pytest.fixture
def listener() -> Iterator[tuple[int, _Settled]]:
    received: list[bytes] = []
    handler = type("Handler", (_Listener,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    settled = _Settled(server)
    handler.received = settled
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], settled
    if thread.is_alive():
        server.shutdown()
    server.server_close()


def test_the_listener_counts_a_request_made_just_before_it_settles(listener):
    # The negative tests below rest on this: settling waits for what is on its way.
    port, received = listener
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"POST /sparql HTTP/1.0\r\nContent-Length: 4\r\n\r\nleak")
        assert received.settle() != []


def test_a_sparql_service_spelt_with_an_escape_reaches_no_listener(tmp_path, listener):
    port, received = listener
    shape_text = (HOSTILE / "service_shape.ttl").read_text().replace("{port}", str(port))
    policy = GatePolicy(shape=Graph().parse(data=shape_text, format="turtle"), min_individuals=5)
    secret = REPORT.replace('"x25519"', '"carol@example.org salary 81000"')
    verdict = gate(write(tmp_path, {"r.ttl": secret}), policy)
    assert received.settle() == []
    assert not verdict.passed
    assert "SPARQL" in " ".join(verdict.reasons)
    assert not any((tmp_path / "out").iterdir())


def test_the_gate_sandbox_itself_has_no_network(listener):
    from server.datacage.gate.isolation import CheckerProcess, GateLimits

    port, received = listener
    program = textwrap.dedent(
        f"""
        import urllib.request
        urllib.request.urlopen("http://127.0.0.1:{port}/sparql", data=b"every triple", timeout=3)
        """
    )
    checker = CheckerProcess(b"{}", GateLimits(wall_seconds=20), program=program)
    end = checker.end(frozenset())
    assert end.failure is not None
    assert end.failure.rule == "gate/crashed"
    assert "PermissionError" in checker.log() or "Operation not permitted" in checker.log()
    assert received.settle() == []


# --- Closed shapes close the output ------------------------------------------------------------


def test_per_person_nodes_beside_the_common_customers_report_are_refused(tmp_path):
    attack = (HOSTILE / "per_person.ttl").read_text()
    verdict = gate(write(tmp_path, {"r.ttl": attack}), common_policy())
    assert not verdict.passed
    reasons = " ".join(verdict.reasons)
    assert "no closed shape describes" in reasons
    for leaked in ("bob.jones", "gro.elpmaxe", "81000", "leak.example", "YWxpY2"):
        assert leaked not in reasons
    assert not any((tmp_path / "out").iterdir())


def test_a_node_covering_one_individual_is_refused_whatever_its_class(tmp_path):
    one = (
        REPORT
        + "<https://x.example/alice> a <https://x.example/Row> ;"
        + " <https://w3id.org/datacage/ns#individuals> 1 .\n"
    )
    verdict = gate(write(tmp_path, {"r.ttl": one}), common_policy())
    assert not verdict.passed
    assert "fewer individuals than this space's smallest group (5)" in " ".join(verdict.reasons)


def test_an_rdf_type_of_an_unrelated_class_cannot_carry_data(tmp_path):
    # A class IRI is free text: only classes the shape names.
    attack = REPORT.replace("a df:MatchReport ;", "a df:MatchReport, <https://x.example/YWxpY2U> ;")
    verdict = gate(write(tmp_path, {"r.ttl": attack}), common_policy())
    assert not verdict.passed
    assert "an rdf:type the shape does not name" in " ".join(verdict.reasons)


def test_a_blank_node_under_a_declared_property_cannot_carry_data(tmp_path):
    policy = GatePolicy(
        shape=Graph().parse(data=OPEN_LABEL_SHAPE, format="turtle"), min_individuals=5
    )
    attack = LABELLED.format(
        label='"north" ; ex:detail [ <https://x.example/v> "alice" ; dcg:individuals 9 ]'
    )
    verdict = gate(write(tmp_path, {"r.ttl": attack}), policy)
    assert not verdict.passed
    assert "no closed shape describes" in " ".join(verdict.reasons)


def test_statements_about_the_shape_itself_are_refused(tmp_path):
    attack = REPORT + (
        "<https://w3id.org/datacage/datafuse/shapes#MatchReport> "
        '<http://www.w3.org/ns/shacl#closed> false ; <https://x.example/n> "bob.jones" .\n'
    )
    verdict = gate(write(tmp_path, {"r.ttl": attack}), common_policy())
    assert not verdict.passed
    assert "bob.jones" not in " ".join(verdict.reasons)


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ('"north"@en-YWxpY2UtYm9i', "carry a language tag the shape does not allow"),
        ('"north"^^<https://x.example/YWxpY2U>', "neither XSD nor named in the shape"),
        ("<https://x.example/YWxpY2UtYm9i>", "are IRIs that the shape does not name"),
    ],
)
def test_language_tags_datatypes_and_iri_values_cannot_carry_data(tmp_path, label, words):
    policy = GatePolicy(
        shape=Graph().parse(data=OPEN_LABEL_SHAPE, format="turtle"), min_individuals=5
    )
    assert gate(write(tmp_path, {"r.ttl": LABELLED.format(label='"north"')}), policy).passed
    verdict = gate(write(tmp_path, {"r.ttl": LABELLED.format(label=label)}), policy)
    assert not verdict.passed
    reasons = " ".join(verdict.reasons)
    assert words in reasons
    assert "YWxpY2" not in reasons


# --- Time, memory and crashes -------------------------------------------------------------------

REGEX_CHECK = """
import sys, time
from pathlib import Path
from rdflib import Graph
from server.datacage.gate import GatePolicy, InputIdentifiers, check_output
shape = Graph().parse(data=sys.argv[2], format="turtle")
started = time.monotonic()
verdict = check_output(Path(sys.argv[1]), GatePolicy(shape=shape, min_individuals=5),
                       InputIdentifiers(frozenset()), individuals_in_run=20)
print("passed" if verdict.passed else "refused", round(time.monotonic() - started, 1))
print(verdict.reasons)
"""


def test_a_catastrophic_regular_expression_ends_cleanly_within_a_bound(tmp_path):
    shape = OPEN_LABEL_SHAPE.replace("sh:maxLength 200", 'sh:pattern "^(a|aa)+$"')
    folder = write(tmp_path, {"r.ttl": LABELLED.format(label='"' + "a" * 61 + '!"')})
    # In a process of its own: a regex holding the GIL would freeze this one for hours.
    ended = subprocess.run(
        [sys.executable, "-c", REGEX_CHECK, str(folder), shape],
        capture_output=True, text=True, timeout=90, cwd=ROOT, check=False,
    )  # fmt: skip
    assert ended.returncode == 0, ended.stderr[-2000:]
    assert ended.stdout.startswith("refused"), ended.stdout
    assert "sh:PatternConstraintComponent" in ended.stdout
    assert "aaaa" not in ended.stdout


def big_report(count: int = 4000) -> str:
    rows = "".join(
        f'<https://x.example/r{i}> a ex:Report ; dcg:individuals 9 ; ex:label "row {i}" .\n'
        for i in range(count)
    )
    return (
        "@prefix dcg: <https://w3id.org/datacage/ns#> .\n@prefix ex: <https://example.org/ns#> .\n"
        + rows
    )


def test_a_gate_process_killed_holds_the_result_back(tmp_path):
    policy = GatePolicy(
        shape=Graph().parse(data=OPEN_LABEL_SHAPE, format="turtle"), min_individuals=5
    )
    folder = write(tmp_path, {"r.ttl": big_report(20000)})
    verdicts = []
    thread = threading.Thread(target=lambda: verdicts.append(gate(folder, policy)))
    thread.start()
    killed = _kill_sandboxed_python(timeout=30)
    thread.join(60)
    assert killed, "no sandboxed gate process was found"
    assert not thread.is_alive()
    assert not verdicts[0].passed
    assert verdicts[0].reasons == [
        "The gate's checking process ended without a verdict; nothing was released."
    ]
    assert not any(folder.iterdir())


def _kill_sandboxed_python(timeout: float) -> bool:
    """SIGKILL the python that runs the gate's checks (a grandchild of this process, as a
    leased sandbox uid)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                uid = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0]
            except (OSError, IndexError):
                continue
            if (
                int(uid) in LEASED
                and b"gatecheck.__main__" in b" ".join(cmdline)
                and b"bwrap" not in cmdline[0]
            ):
                os.kill(int(pid), signal.SIGKILL)
                return True
        time.sleep(0.05)
    return False


def test_a_gate_over_its_wall_clock_or_memory_holds_the_result_back(tmp_path):
    from server.datacage.gate import GateLimits

    shape = Graph().parse(data=OPEN_LABEL_SHAPE, format="turtle")
    folder = write(tmp_path, {"r.ttl": big_report(20000)})
    started = time.monotonic()
    slow = gate(
        folder, GatePolicy(shape=shape, min_individuals=5, limits=GateLimits(wall_seconds=0.5))
    )
    assert time.monotonic() - started < 10
    assert slow.reasons == [
        "The gate did not finish checking the output within 1 s; nothing was released."
    ]
    folder = write(tmp_path, {"r.ttl": big_report(20000)})
    small = GatePolicy(shape=shape, min_individuals=5, limits=GateLimits(memory_bytes=64 << 20))
    verdict = gate(folder, small)
    assert not verdict.passed
    assert "nothing was released" in verdict.reasons[0]


# --- Refusals in fixed words --------------------------------------------------------------------


def test_refusal_reasons_never_echo_names_values_or_iris_the_algorithm_chose(tmp_path):
    folder = write(
        tmp_path,
        {
            "MFWGSY3FEBSXQYLNOBWGKLTPOJTQ.ttl": "this is not turtle",
            "bob.jones@example.org.txt": "x",
            "r.ttl": REPORT.replace("df:parties 2", 'df:parties "SECRETVALUE"').replace(
                "<https://w3id.org/datacage/datafuse/report#common-customers>",
                "<https://x.example/SECRETIRI>",
            ),
        },
    )
    (folder / "Y2Fyb2w.ttl").symlink_to(folder / "r.ttl")
    reasons = " ".join(gate(folder, common_policy()).reasons)
    assert reasons
    for chosen in ("MFWGSY3FEBSXQYLNOBWGKLTPOJTQ", "bob.jones", "Y2Fyb2w", "SECRET"):
        assert chosen not in reasons


# --- The gate's sandbox is a user of its own ---------------------------------------------------

# Holds a "secret" in the sandbox's private /tmp, says it parsed, then waits to be read.
_HOLDER = textwrap.dedent(
    """
    import json, os, sys, time
    with open("/tmp/held.txt", "w") as held:
        held.write("what the gate read")
    print(json.dumps({"parsed": True, "uid": os.getuid()}), flush=True)
    time.sleep(30)
    """
)
_NOBODY = 65534


def _sandbox_pid(checker) -> int:
    """The host pid of the checker's sandboxed process (bwrap's --info-fd, as a pidfd)."""
    deadline = time.monotonic() + 10
    while checker._info.pidfd is None and time.monotonic() < deadline:
        time.sleep(0.01)
    fdinfo = Path(f"/proc/self/fdinfo/{checker._info.pidfd}").read_text()
    return int(next(line for line in fdinfo.splitlines() if line.startswith("Pid:")).split()[1])


def _read_as_nobody(path: str) -> str:
    """What a process of the host's ``nobody`` reads at ``path`` (forked: no interpreter of
    ours needs to be reachable to it), or the error it got."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only
        try:
            os.setgroups([])
            os.setgid(_NOBODY)
            os.setuid(_NOBODY)
            with open(path) as held:
                os.write(writer, held.read().encode())
        except OSError as error:
            os.write(writer, f"refused: {error.strerror}".encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        read = answer.read().decode()
    os.waitpid(child, 0)
    return read


def _host_uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_a_host_nobody_process_cannot_reach_into_the_gate_sandbox():
    """The host's ``nobody`` (any service that runs as it) owns a sandbox that runs as
    ``nobody``, and the kernel lets the owner of a user namespace into it: /proc/PID/root
    opens the sandbox's private /tmp. A gate check must run as a uid of its own."""
    from server.datacage.gate.isolation import CheckerProcess, GateLimits

    checker = CheckerProcess(b"{}", GateLimits(wall_seconds=20), program=_HOLDER)
    try:
        assert checker.parsed()
        pid = _sandbox_pid(checker)
        assert _host_uid(pid) != _NOBODY
        assert _read_as_nobody(f"/proc/{pid}/root/tmp/held.txt") != "what the gate read"
    finally:
        checker.stop()


def test_two_concurrent_gate_checks_run_as_two_leased_uids_given_back_after(tmp_path):
    from server.datacage.gate.isolation import CheckerProcess, GateLimits
    from server.datacage.sandbox.ids import IdPool

    pool = IdPool(2_000_000_500, 2_000_000_599, lock_dir=tmp_path / "locks")
    first = CheckerProcess(b"{}", GateLimits(wall_seconds=20), program=_HOLDER, ids=pool)
    second = CheckerProcess(b"{}", GateLimits(wall_seconds=20), program=_HOLDER, ids=pool)
    try:
        assert first.parsed()
        assert second.parsed()
        uids = {_host_uid(_sandbox_pid(first)), _host_uid(_sandbox_pid(second))}
        assert len(uids) == 2
        assert all(2_000_000_500 <= uid <= 2_000_000_599 for uid in uids)
        inside = {m.get("uid") for c in (first, second) for m in c._lines if "uid" in m}
        assert not inside & uids  # inside, each sees an id that says nothing of the host's
        assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == sorted(map(str, uids))
    finally:
        first.stop()
        second.stop()
    assert list((tmp_path / "locks").iterdir()) == []  # both given back once reaped


# --- A sandbox started while the algorithm runs checks that run's output only ------------------


def test_a_gate_sandbox_started_before_the_output_checks_it_with_its_clock_from_then(tmp_path):
    from server.datacage.gate import GateLimits, prepare
    from server.datacage.gate.isolation import CheckerProcess
    from server.datacage.sandbox.ids import IdPool

    pool = IdPool(2_000_000_600, 2_000_000_609, lock_dir=tmp_path / "locks")
    limits = GateLimits(wall_seconds=8)

    checker = CheckerProcess(None, limits, ids=pool)
    assert checker.ready(30)  # imports done, waiting for its request
    time.sleep(limits.wall_seconds + 1)  # a long algorithm run: the gate's clock has not started
    folder = write(tmp_path, {"r.ttl": REPORT})
    verdict = check_output(folder, common_policy(), NOBODY, individuals_in_run=20, checker=checker)
    assert verdict.passed, verdict.reasons
    assert checker.process.returncode == 0
    assert list((tmp_path / "locks").iterdir()) == []  # its uid given back
    with pytest.raises(ValueError, match="checked an output already"):
        check_output(folder, common_policy(), NOBODY, individuals_in_run=20, checker=checker)
    spare = prepare(limits)
    spare.stop()
    assert spare.limits == limits


def test_a_gate_sandbox_a_run_never_used_is_ended_and_its_uid_given_back(tmp_path):
    from server.datacage.gate import GateLimits
    from server.datacage.gate.isolation import CheckerProcess
    from server.datacage.sandbox.ids import IdPool

    pool = IdPool(2_000_000_610, 2_000_000_619, lock_dir=tmp_path / "locks")
    checker = CheckerProcess(None, GateLimits(), ids=pool)
    assert len(list((tmp_path / "locks").iterdir())) == 1
    checker.stop()
    assert checker.process.returncode is not None
    assert list((tmp_path / "locks").iterdir()) == []
    assert checker.end(frozenset()).failure.rule == "gate/crashed"  # no verdict, ever
    # Refused before the sandbox was needed (an empty folder): it is ended all the same.
    checker = CheckerProcess(None, GateLimits(), ids=pool)
    empty = tmp_path / "empty"
    empty.mkdir()
    verdict = check_output(empty, common_policy(), NOBODY, individuals_in_run=20, checker=checker)
    assert not verdict.passed
    assert checker.process.returncode is not None
    assert list((tmp_path / "locks").iterdir()) == []
