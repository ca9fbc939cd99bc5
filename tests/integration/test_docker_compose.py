"""docker/compose.yaml, up for real with the images of this session (test_docker_images.py), and
driven as its users drive it: people consent through the ordinary entrance, a run's pulls go
through the gateway on the datacage's RA-TLS certificate, the report lands in the consumer's
pod and `datacage verify-result` accepts it. And the walls: the datacage's network reaches the
gateway and nothing else, and through the gateway only the control plane's job API.

How the file is run (plain engine commands, not podman-compose): tests/support/compose_stack.py.
Figures (`name=value` lines in the output): the time from `up` to every service ready, and from
`up` and from the run's start to the first delivered result.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from connectors.solid.css.process import free_loopback_port
from tests.support.compose_stack import ComposeStack, copied_admission
from tests.support.compose_world import StackWorld, localhost_names
from tests.support.containers import (
    Engine,
    available_engines,
    engine_params,
    report,
    session_images,
)
from tests.support.docker_files import load_compose

ENGINES = available_engines()
DATACAGE_CLI = Path(sys.executable).with_name("datacage")
PEOPLE = 5  # a space's smallest group


@pytest.fixture(scope="module", params=engine_params(ENGINES))
def engine(request) -> Engine:
    found = ENGINES[request.param]
    if isinstance(found, str):
        pytest.skip(f"{request.param}: {found}")
    return found


class Up:
    """The running stack, where it answers, and what the test learnt on the way."""

    def __init__(self, stack: ComposeStack, port: int, admission: Path, ca: Path, began: float):
        self.stack, self.port, self.admission, self.ca = stack, port, admission, ca
        self.began = began
        self.world = StackWorld(stack, port, ca)


@pytest.fixture(scope="module")
def up(engine, request, tmp_path_factory) -> Up:
    images = session_images(engine)
    admission = copied_admission()
    port = free_loopback_port()
    variables = {
        "CONTROL_PLANE_IMAGE": images["control-plane"].tag,
        "CSS_IMAGE": images["css"].tag,
        "NGINX_IMAGE": images["nginx"].tag,
        "DATACAGE_IMAGE": images["datacage"].tag,
        "BROKER_IMAGE": images["broker"].tag,  # the fleet profile's (the last test)
        "PUBLIC_PORT": str(port),
    }
    stack = ComposeStack(engine, variables, binds={"./admission": admission})
    try:
        began = time.monotonic()
        stack.up()
        report(request, f"compose_up_{engine.name}_s={time.monotonic() - began:.1f}")
        ca = tmp_path_factory.mktemp("compose") / "ca.pem"
        ca.write_text(stack.exec("control-plane", "cat", "/etc/datacage/certs/ca.pem"))
        yield Up(stack, port, admission, ca, began)
    finally:
        stack.down()
        shutil.rmtree(admission.parent, ignore_errors=True)
    assert stack.leftovers() == []  # nothing of this run stays behind


# --- who runs as whom -------------------------------------------------------------------------


@pytest.mark.timeout(3600)
def test_every_service_is_healthy_and_the_control_plane_serves_as_a_non_root_user(up):
    for service in ("css", "control-plane", "admission", "entrance", "gateway", "datacage"):
        assert up.stack.healthy(service), f"{service}:\n{up.stack.logs(service)}"
    for service in ("control-plane", "admission", "css"):
        assert up.stack.exec(service, "id", "-u").strip() != "0", service
    with localhost_names():
        answer = requests.get(f"{up.world.control_plane}healthz", verify=str(up.ca), timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok"}


@pytest.mark.timeout(3600)
def test_the_datacage_holds_exactly_the_capabilities_the_compose_file_grants(up):
    """Root inside (the sandbox's set-up needs it), with six capabilities and no others."""
    status = up.stack.exec("datacage", "cat", "/proc/1/status")
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    granted = set(load_compose()["services"]["datacage"]["cap_add"])
    effective = int(fields["CapEff"].strip(), 16)
    assert _capabilities(effective) == granted
    assert int(fields["CapBnd"].strip(), 16) == effective  # nothing left to regain
    assert fields["NoNewPrivs"].strip() == "1"


_CAPABILITY_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "KILL": 5, "SETGID": 6, "SETUID": 7,
                    "SYS_ADMIN": 21}  # fmt: skip


def _capabilities(mask: int) -> set[str]:
    names = {bit: name for name, bit in _CAPABILITY_BITS.items()}
    found = {names.get(bit, f"bit {bit}") for bit in range(64) if mask >> bit & 1}
    return found


# --- the datacage's walls ---------------------------------------------------------------------

_CONNECT = """
import json, socket, sys
out = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        out[target] = "connected"
    except OSError as exc:
        out[target] = type(exc).__name__
print(json.dumps(out))
"""


def _connections(up: Up, service: str, *targets: str) -> dict[str, str]:
    return json.loads(up.stack.exec(service, "python", "-c", _CONNECT, *targets))


@pytest.mark.timeout(3600)
def test_the_datacage_reaches_the_gateway_and_nothing_else(up):
    """Its network is internal and holds only the gateway: the control plane's own port, the
    entrance (the control plane's public port), the host and the outside are all unreachable,
    by name and by address; the gateway answers, under both public host names."""
    addresses = up.stack.addresses
    cage_host = _bridge(addresses["gateway"]["cage"])
    with socket.create_server(("0.0.0.0", 0)) as host_listener:  # noqa: S104 - the probe's target
        host_port = host_listener.getsockname()[1]
        found = _connections(
            up, "datacage",
            "control-plane:5000", f"{addresses['control-plane']['public']}:5000",
            f"entrance:{up.port}", f"{addresses['entrance']['public']}:{up.port}",
            "css:3000", f"{addresses['css']['public']}:3000", "admission:9180",
            f"{cage_host}:{host_port}", "1.1.1.1:443",
            f"{addresses['gateway']['cage']}:{up.port}",
            f"pods.localhost:{up.port}", f"datacage.localhost:{up.port}",
        )  # fmt: skip
        # The same probe on the public network does reach the host's listener: the probe
        # tells a connection from a refusal, and the wall is the cage's network.
        public_host = f"{_bridge(addresses['control-plane']['public'])}:{host_port}"
        control = _connections(up, "control-plane", public_host)
    assert control == {public_host: "connected"}
    reachable = {target for target, what in found.items() if what == "connected"}
    assert reachable == {
        f"{addresses['gateway']['cage']}:{up.port}",
        f"pods.localhost:{up.port}",
        f"datacage.localhost:{up.port}",
    }, found


def _bridge(address: str) -> str:
    """The host's side of a container's network (the engine gives the bridge the first
    address)."""
    return address.rsplit(".", 1)[0] + ".1"


_REQUEST = """
import http.client, json, ssl, sys
context = ssl.create_default_context(cafile="/etc/datacage/certs/trust.pem")
host, port = sys.argv[1], int(sys.argv[2])
out = {}
for method_path in sys.argv[3:]:
    method, path = method_path.split(" ", 1)
    connection = http.client.HTTPSConnection(host, port, context=context, timeout=10)
    connection.request(method, path)  # the path exactly as given, dot segments and all
    out[method_path] = connection.getresponse().status
    connection.close()
print(json.dumps(out))
"""


def _statuses(up: Up, host: str, *requests_: str) -> dict[str, int]:
    command = ["python", "-c", _REQUEST, host, str(up.port), *requests_]
    return json.loads(up.stack.exec("datacage", *command))


@pytest.mark.timeout(3600)
def test_through_the_gateway_the_datacage_reaches_only_the_control_plane_s_job_api(up):
    """Attack: the datacage (its code, or an algorithm that escaped) calls the rest of the
    control plane from its own network: the space API, people's pages, sign-in. Only the job
    API exists there; dot segments and encodings do not lead out of it."""
    found = _statuses(
        up, "datacage.localhost",
        "GET /api/datacage/next", "GET /api/spaces", "GET /", "GET /login", "GET /my-data",
        "POST /api/spaces", "GET /api/datacage/../spaces", "GET /api/datacage/%2e%2e/spaces",
        "GET /api/datacage/..%2f..%2fapi/spaces", "GET /healthz", "GET /client-id.jsonld",
    )  # fmt: skip
    assert found.pop("GET /api/datacage/next") == 401  # the job API: it wants the datacage's token
    assert set(found.values()) == {404}, found


# --- a person's consent, to a verified result in the consumer's pod ---------------------------


@pytest.mark.timeout(3600)
def test_a_consent_through_the_entrance_becomes_a_verified_result_in_the_consumer_s_pod(
    up, request, tmp_path
):
    world, name = up.world, up.stack.engine.name
    with localhost_names():
        owner = world.user("owner")
        space = world.active_space(owner)
        people = [world.user(f"shopper{n}") for n in range(PEOPLE)]
        for n, person in enumerate(people):
            world.fill_pod(person, n)
        with ThreadPoolExecutor(max_workers=3) as pool:
            pages = list(pool.map(lambda p: world.consent(space["id"], p), people))
        assert all("/my-data" in page for page in pages), pages
        container = world.choose_results_container(space["id"], owner)
        policy = world.approve_datacage(up.admission, space["algorithm"]["digest"])
        started = time.monotonic()
        world.start_run(owner, space["id"])
        delivered = world.wait_for_result(owner, container, within=300)
        report(request, f"compose_run_to_result_{name}_s={time.monotonic() - started:.1f}")
        report(request, f"compose_up_to_result_{name}_s={time.monotonic() - up.began:.1f}")
        document = owner.client.get(delivered, accept="text/turtle").body
        # Pod data without a certificate, from the datacage's own network: refused at the gate.
        stolen = _statuses(up, "pods.localhost", f"GET {_path(people[0].pod)}shop/orders.csv")
    assert set(stolen.values()) == {495}, stolen

    result = tmp_path / "result.ttl"
    result.write_bytes(document)
    verdict = subprocess.run(
        [str(DATACAGE_CLI), "verify-result", "--policy", str(policy), str(result)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert verdict.stdout.startswith("ACCEPTED")
    assert f"consents used: {PEOPLE}" in verdict.stdout
    assert "pods read over: TLS, with the datacage's RA-TLS certificate" in verdict.stdout

    # Every read of the people's data went through the gateway, on a client certificate the
    # admission service accepted, and reached the pod server.
    reads = [
        line for line in up.stack.logs("gateway", tail=None).splitlines()
        if '"GET /shopper' in line and "/shop/orders.csv" in line
    ]  # fmt: skip
    admitted = [line for line in reads if " 200 " in line and 'client_cert="NONE"' not in line]
    assert len(admitted) >= PEOPLE, reads


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.mark.timeout(3600)
def test_the_fleet_profile_carries_a_run_through_its_broker_and_two_workers(up, request):
    """The same stack with its `fleet` profile started, as
    `compose --profile fleet up --scale datacage=0 --scale fleet-worker=2` makes it: the
    broker built from the local Debian base, two workers, the beat. A run started through the
    control plane is offered by the beat, claimed by one worker and delivered."""
    stack, world, name = up.stack, up.world, up.stack.engine.name
    stack.engine.run("stop", "-t", "2", stack.container("datacage"))  # --scale datacage=0
    began = time.monotonic()
    stack.up(["broker", "fleet-key", "fleet-worker", "fleet-beat"])
    workers = ("fleet-worker", stack.start_replica("fleet-worker", 2))
    for worker in workers:
        stack.wait_healthy(worker)
    report(request, f"compose_fleet_up_{name}_s={time.monotonic() - began:.1f}")
    assert stack.exec("broker", "redis-cli", "ping").strip() == "PONG"
    with localhost_names():
        owner = world.user("fleet-owner")
        space = world.active_space(owner)
        people = [world.user(f"fleet-shopper{n}") for n in range(PEOPLE)]
        for n, person in enumerate(people):
            world.fill_pod(person, n)
        for person in people:  # one at a time: the first test has shown consents at once
            world.consent(space["id"], person)
        container = world.choose_results_container(space["id"], owner)
        world.approve_datacage(up.admission, space["algorithm"]["digest"], workers)
        started = time.monotonic()
        world.start_run(owner, space["id"])
        delivered = world.wait_for_result(owner, container, within=300)
        report(request, f"compose_fleet_run_to_result_{name}_s={time.monotonic() - started:.1f}")
    assert delivered.startswith(container)
    claimed = [w for w in workers if "job claimed" in stack.logs(w, tail=None)]
    assert len(claimed) == 1, {w: stack.logs(w) for w in workers}
