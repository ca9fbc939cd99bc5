"""docker/compose.yaml run for real, by plain `run` commands of whichever engine is here.

Why not `podman-compose`: Debian's 1.0.3 ignores `depends_on` conditions (it would start the
datacage before its identity exists), and this machine's Podman uses CNI without the dnsname
plugin, so containers cannot find each other by name at all. So the file is read as compose
reads it (tests/support/docker_files.py) and each service becomes `create`, `network connect`,
`start`, in the order its `depends_on` conditions ask, each condition waited on here: a one-shot
must exit 0, a service must pass its health check (the compose file's, else its image's, run
with `exec`, since Podman schedules health checks through systemd timers absent here).

Names resolve as compose's DNS would resolve them, from each container's own networks: every
network gets a subnet of its own and every container a fixed address on each of its networks,
and each container's /etc/hosts (`--add-host`) lists the services (and their aliases) that share
a network with it, and nothing else. So the datacage, on the internal `cage` network only, can
name the gateway alone. The same commands work with Docker.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.containers import RUN_OPTIONS, Engine
from tests.support.docker_files import DOCKER, load_compose

HEALTH_WITHIN_S = 180.0


class StackError(RuntimeError):
    """A service did not start, exited badly or never became healthy; carries its logs."""


@dataclass
class ComposeStack:
    """One run of docker/compose.yaml: its containers, networks and volumes, all prefixed."""

    engine: Engine
    variables: dict[str, str]
    binds: dict[str, Path] = field(default_factory=dict)  # "./admission" -> a folder of ours
    project: str = field(default_factory=lambda: f"dct-{uuid.uuid4().hex[:8]}")
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)  # service -> net -> ip
    timings: dict[str, float] = field(default_factory=dict)  # service -> seconds until ready

    def __post_init__(self) -> None:
        self.compose = load_compose(self.variables)
        self.services: dict[str, dict] = self.compose["services"]
        self._networks: dict[str, str] = {}  # name -> subnet
        self._started: list[str] = []

    # --- names ----------------------------------------------------------------------------

    def container(self, service: str) -> str:
        return f"{self.project}-{service}"

    def network(self, name: str) -> str:
        return f"{self.project}-{name}"

    def volume(self, name: str) -> str:
        return f"{self.project}-{name}"

    # --- up and down ----------------------------------------------------------------------

    def up(self, services: list[str] | None = None) -> None:
        """Start `services` (by default all but those behind a compose profile, as
        `compose up` does with no `--profile`) and what they depend on, in order, waiting."""
        started = time.monotonic()
        if not self._networks:  # a second `up` (a profile) joins the networks made by the first
            self._make_networks()
        default = [name for name, spec in self.services.items() if not spec.get("profiles")]
        for name in self._order(services or default):
            if name in self._started:
                continue  # up already: a profile's services started after the default ones
            self._start(name)
            self._wait_for_dependents_conditions(name)
            self.timings[name] = time.monotonic() - started

    def start_replica(self, service: str, number: int) -> str:
        """One more container of `service`, as compose's `--scale` makes: `<service>-<number>`
        (the name `exec`, `logs` and `healthy` take), on the same networks at an address of its
        own. Nothing names it: like compose's replicas, it is reached by no one."""
        name = f"{service}-{number}"
        self.services[name] = self.services[service]
        for network in _networks_of(self.services[service]):
            prefix = self._networks[network].rsplit(".", 1)[0]
            self.addresses.setdefault(name, {})[network] = f"{prefix}.{200 + number}"
        self._start(name)
        return name

    def down(self) -> None:
        """Every container, network and volume of this run, whatever state they are in."""
        for name in reversed(self._started):
            self._quiet("rm", "-f", "-v", *self._stop_wait(), self.container(name))
        force = ["-f"] if self.engine.name == "podman" else []  # Docker before 24 has no -f
        for network in self._networks:
            self._quiet("network", "rm", *force, self.network(network))
        for name in self.compose.get("volumes", {}):
            self._quiet("volume", "rm", "-f", self.volume(name))

    def leftovers(self) -> list[str]:
        """Containers, networks and volumes of this run that still exist (none after `down`)."""
        found = []
        for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
            names = self.engine.run(*kind, "--format", "{{.Name}}" if kind[0] != "ps" else
                                    "{{.Names}}", check=False).split()  # fmt: skip
            found += [name for name in names if name.startswith(self.project + "-")]
        return found

    def __enter__(self) -> ComposeStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    # --- inside the stack -----------------------------------------------------------------

    def exec(self, service: str, *command: str, check: bool = True, timeout: float = 120) -> str:
        return self.engine.run("exec", self.container(service), *command, check=check,
                               timeout=timeout)  # fmt: skip

    def exec_result(
        self, service: str, *command: str, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.engine.command("exec", self.container(service), *command),
            capture_output=True, text=True, check=False, timeout=timeout,
        )  # fmt: skip

    def logs(self, service: str, tail: int | None = 4000) -> str:
        """The service's output (its last `tail` characters; all of it with None)."""
        result = subprocess.run(
            self.engine.command("logs", self.container(service)),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return (result.stdout + result.stderr)[-tail if tail else 0 :]

    def healthy(self, service: str) -> bool:
        test = self._health_test(service)
        return test is not None and self.exec_result(service, *test).returncode == 0

    def wait_healthy(self, service: str, within: float = HEALTH_WITHIN_S) -> None:
        deadline = time.monotonic() + within
        while not self.healthy(service):
            state = self._state(service)
            if state.get("Status") == "exited":
                raise StackError(f"{service} exited ({state.get('ExitCode')}):\n"
                                 f"{self.logs(service)}")  # fmt: skip
            if time.monotonic() > deadline:
                raise StackError(f"{service} not healthy in {within:.0f} s:\n{self.logs(service)}")
            time.sleep(1)

    # --- how -----------------------------------------------------------------------------

    def _order(self, wanted: list[str]) -> list[str]:
        order: list[str] = []

        def visit(name: str) -> None:
            if name in order:
                return
            for dependency in self.services[name].get("depends_on", {}):
                visit(dependency)
            order.append(name)

        for name in wanted:
            visit(name)
        return order

    def _wait_for_dependents_conditions(self, name: str) -> None:
        """Wait on `name` as strictly as any service that depends on it asks."""
        conditions = {
            spec.get("condition", "service_started")
            for other in self.services.values()
            for dependency, spec in (other.get("depends_on") or {}).items()
            if dependency == name
        }
        if "service_completed_successfully" in conditions:
            code = self.engine.run("wait", self.container(name), timeout=HEALTH_WITHIN_S).strip()
            if code.splitlines()[-1] != "0":
                raise StackError(f"{name} exited with {code}:\n{self.logs(name)}")
        if "service_healthy" in conditions:
            self.wait_healthy(name)

    def _make_networks(self) -> None:
        for name, spec in (self.compose.get("networks") or {}).items():
            for _attempt in range(20):
                subnet = f"10.{random.randint(160, 250)}.{random.randint(0, 255)}.0/24"  # noqa: S311
                options = ["--internal"] if (spec or {}).get("internal") else []
                made = subprocess.run(
                    self.engine.command("network", "create", *options, "--subnet", subnet,
                                        self.network(name)),
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if made.returncode == 0:
                    self._networks[name] = subnet
                    break
            else:
                raise StackError(f"no free subnet for network {name}: {made.stderr}")
        # Fixed addresses, from .10 up, so every /etc/hosts can be written before any start.
        for index, (service, spec) in enumerate(self.services.items()):
            for network in _networks_of(spec):
                prefix = self._networks[network].rsplit(".", 1)[0]
                self.addresses.setdefault(service, {})[network] = f"{prefix}.{10 + index}"

    def _hosts(self, service: str) -> list[str]:
        """`--add-host` entries: whoever shares a network with `service`, as its DNS would say."""
        mine = set(self.addresses.get(service, {}))
        entries = []
        for other, spec in self.services.items():
            if other == service:
                continue
            for network, address in self.addresses.get(other, {}).items():
                if network in mine:
                    for host in (other, *_aliases(spec, network)):
                        entries += ["--add-host", f"{host}:{address}"]
        return entries

    def _start(self, name: str) -> None:
        spec = self.services[name]
        networks = _networks_of(spec)
        options = [*RUN_OPTIONS, "--name", self.container(name), *self._options(spec)]
        if spec.get("network_mode") == "none":
            options += ["--network", "none"]
        elif networks:
            first = networks[0]
            options += ["--network", self.network(first), "--ip", self.addresses[name][first]]
            options += self._hosts(name)
        command = spec.get("command") or []
        self.engine.run("create", *options, spec["image"], *command)
        self._started.append(name)
        for network in networks[1:]:
            self.engine.run("network", "connect", "--ip", self.addresses[name][network],
                            self.network(network), self.container(name))  # fmt: skip
        self.engine.run("start", self.container(name))

    def _options(self, spec: dict) -> list[str]:
        options: list[str] = []
        if "user" in spec:
            options += ["--user", str(spec["user"])]
        if spec.get("read_only"):
            options.append("--read-only")
        for path in spec.get("tmpfs") or []:
            options += ["--tmpfs", path]
        for cap in spec.get("cap_drop") or []:
            options += ["--cap-drop", cap]
        for cap in spec.get("cap_add") or []:
            options += ["--cap-add", cap]
        for option in spec.get("security_opt") or []:
            if option == "systempaths=unconfined":
                option = self.engine.unmasked_proc
            options += ["--security-opt", option]
        if spec.get("init"):
            options.append("--init")
        for key, value in (spec.get("environment") or {}).items():
            options += ["-e", f"{key}={value}"]
        for mount in spec.get("volumes") or []:
            source, target, *mode = mount.split(":")
            if source.startswith("."):
                host = self.binds.get(source) or (DOCKER / source).resolve()
                source = str(host)
            else:
                source = self.volume(source)
            options += ["-v", ":".join([source, target, *mode])]
        for port in spec.get("ports") or []:
            options += ["-p", str(port)]
        return options

    def _health_test(self, service: str) -> list[str] | None:
        spec = self.services[service].get("healthcheck")
        if spec is None:
            image = self.services[service]["image"]
            found = self.engine.run(
                "image", "inspect", "--format", "{{json .Config.Healthcheck}}", image
            ).strip()
            spec = {"test": (json.loads(found) or {}).get("Test")} if found != "null" else None
        test = (spec or {}).get("test")
        if not test:
            return None
        return list(test[1:]) if test[0] == "CMD" else ["sh", "-c", test[1]]

    def _state(self, service: str) -> dict:
        found = self.engine.run("inspect", "--format", "{{json .State}}", self.container(service),
                                check=False).strip()  # fmt: skip
        return json.loads(found) if found else {}

    def _stop_wait(self) -> list[str]:
        return ["-t", "2"] if self.engine.name == "podman" else []

    def _quiet(self, *words: str) -> None:
        subprocess.run(self.engine.command(*words), capture_output=True, check=False, timeout=120)


def _networks_of(spec: dict) -> list[str]:
    networks = spec.get("networks") or []
    return list(networks)  # a list of names, or a mapping by name


def _aliases(spec: dict, network: str) -> list[str]:
    networks = spec.get("networks")
    if not isinstance(networks, dict):
        return []
    return list((networks.get(network) or {}).get("aliases") or [])


def copied_admission() -> Path:
    """docker/admission/ copied into a folder of its own that the admission service's uid can
    read (pytest's tmp_path is 0700): the test writes its approvals there, not into the
    checkout. The caller removes it."""
    folder = Path(tempfile.mkdtemp(prefix="datacage-admission-"))
    folder.chmod(0o755)
    target = folder / "admission"
    shutil.copytree(DOCKER / "admission", target)
    return target
