"""Reading docker/ as Docker would: the compose file (interpolated, strictly parsed), the
Dockerfiles' instructions, and the scripts of docker/ loaded by path. For the tests of
docker/ (tests/integration/test_docker*.py), which run where no Docker daemon does.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).parents[2]
DOCKER = ROOT / "docker"
DATACAGE = ROOT / ".venv" / "bin" / "datacage"
PYTHON = ROOT / ".venv" / "bin" / "python"
DOCKERFILES = {
    "control-plane": DOCKER / "control-plane.Dockerfile",
    "datacage": DOCKER / "datacage.Dockerfile",
    "css": DOCKER / "css.Dockerfile",
    "nginx": DOCKER / "nginx.Dockerfile",
    "broker": DOCKER / "broker.Dockerfile",
}

_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?::-([^}]*))?\}")


def interpolate(value: object, environ: dict[str, str]) -> object:
    """Compose's `${NAME}` / `${NAME:-default}` substitution (`$$` is a `$`), on every string."""
    if isinstance(value, str):
        return _VARIABLE.sub(
            lambda m: "$" if m[0] == "$$" else environ.get(m[1]) or (m[2] or ""), value
        )
    if isinstance(value, list):
        return [interpolate(v, environ) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, environ) for k, v in value.items()}
    return value


class _StrictLoader(yaml.SafeLoader):
    """Refuses a key given twice in one mapping, as compose's own YAML parser does."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    keys = [key.value for key, _ in node.value]
    twice = {key for key in keys if keys.count(key) > 1}
    if twice:
        raise yaml.constructor.ConstructorError(
            None, None, f"keys given twice: {twice}", node.start_mark
        )
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_compose(environ: dict[str, str] | None = None) -> dict:
    """docker/compose.yaml as compose reads it, with `environ` for its variables."""
    text = (DOCKER / "compose.yaml").read_text()
    return interpolate(yaml.load(text, Loader=_StrictLoader), environ or {})  # noqa: S506


def volumes_of(service: dict) -> dict[str, str]:
    """target -> source of a service's short-syntax volumes."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def dockerfile(name: str) -> str:
    return DOCKERFILES[name].read_text()


def final_stage(text: str) -> str:
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[-1]


def instructions(text: str, name: str) -> list[str]:
    """The arguments of every `name` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [m[1].strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, flags=re.MULTILINE)]


def exec_form(instruction: str) -> list[str]:
    """An exec-form CMD / HEALTHCHECK argument list (a JSON array is YAML too)."""
    return yaml.safe_load(instruction)


def image_command(name: str) -> list[str]:
    return exec_form(instructions(dockerfile(name), "CMD")[-1])


def image_health_command(name: str) -> list[str]:
    return exec_form(instructions(dockerfile(name), "HEALTHCHECK")[-1].split("CMD", 1)[1])


def image_env(name: str) -> dict[str, str]:
    """The final stage's ENV instructions (KEY=VALUE form), PATH left out."""
    found = {}
    for instruction in instructions(final_stage(dockerfile(name)), "ENV"):
        for word in shlex.split(instruction):
            key, _, value = word.partition("=")
            found[key] = value
    found.pop("PATH", None)
    return found


@functools.cache
def script(name: str) -> ModuleType:
    """A script of docker/, copied into the image: not a module of ours, so loaded by path."""
    spec = importlib.util.spec_from_file_location(f"docker_{name}", DOCKER / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
