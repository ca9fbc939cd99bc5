"""The documentation is the guard of its own accuracy: every page is reachable from README,
every relative link lands, and every `datacage` command shown is a real one.

Commands are read from fenced `sh`, `shell` and `console` blocks (in `console` blocks only the
lines after a `$ ` prompt), and, as illustrations, from inline code spans in prose that start
with `datacage `. Each one is checked against the click command tree
(`server.cli.main`): the command path must exist and every option must be one of its options.

A block preceded by `<!-- illustrative -->` shows commands with placeholders (`$ID`,
`sha256:...`, `[--optional]`): only the path and the option names are checked. Any other
command must be runnable as written: its arguments and required options are checked too, and it
is either run end to end by the test named in `RUN_ELSEWHERE`, or (`RUN_HERE`, and any
`--help`) run here through click, and must exit 0.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from server.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

# Command paths a test runs end to end through the CLI, with the file of that test. The check
# below makes sure the file exists and invokes the command (its last word, quoted).
RUN_ELSEWHERE = {
    "audit verify": "tests/unit/test_audit_chain.py",
    "verify": "tests/unit/test_attestation.py",
    "verify-result": "tests/integration/test_result_delivery.py",
    "sdk build": "tests/integration/test_sdk_local.py",
    "sdk run": "tests/integration/test_sdk_local.py",
    "push evidence": "tests/integration/test_push_flow.py",
    "push dataset": "tests/integration/test_push_flow.py",
    "serve": "tests/integration/test_operator_commands.py",
    "worker": "tests/integration/test_operator_commands.py",
    "admission": "tests/integration/test_operator_commands.py",
    "demo": "tests/support/demo_run.py",  # the helper tests/integration/test_demo.py runs
    "fleet-beat": "tests/support/fleet_world.py",  # started by tests/integration/test_fleet.py
    "key-service init": "tests/integration/test_key_service_command.py",
    "key-service add-key": "tests/integration/test_key_service_command.py",
    "key-service retire": "tests/integration/test_key_service_command.py",
    "key-service show": "tests/integration/test_key_service_command.py",
    "key-service serve": "tests/integration/test_key_service_command.py",
}
# Commands quick and self-contained enough for this test to run them (in a fresh data folder).
RUN_HERE = {"config-reference", "push connectors", "consents expire"}
# Commands the docs only show: what runs their work instead of their command line. A command
# path in the docs must be in one of these three tables, so a gap is written down, not hidden.
SHOWN_ONLY: dict[str, str] = {}


ILLUSTRATIVE = "<!-- illustrative -->"
SHELL_LANGUAGES = {"sh", "shell", "console", "bash"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
INLINE_CODE = re.compile(r"(`+).+?\1")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


# --- Markdown: fenced blocks, links, headings -------------------------------------------------


@dataclass
class Block:
    path: Path
    line: int  # the line of the opening fence
    language: str
    lines: list[str]
    illustrative: bool


def blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text().splitlines()
    index, last_prose = 0, ""  # the last non-blank line before a block: maybe its marker
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            last_prose = lines[index].strip() or last_prose
            index += 1
            continue
        fence, start, body = opening.group(2), index, []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index])
            index += 1
        index += 1
        yield Block(path, start + 1, opening.group(3).lower(), body, last_prose == ILLUSTRATIVE)
        last_prose = ""


def prose_lines(path: Path, *, keep_code: bool = False) -> Iterator[tuple[int, str]]:
    """Lines outside fenced blocks, with inline code removed (links there are not links)."""
    fence = None
    for number, text in enumerate(path.read_text().splitlines(), 1):
        opening = FENCE.match(text)
        if fence is None and opening:
            fence = opening.group(2)
            continue
        if fence is not None:
            if text.strip().startswith(fence):
                fence = None
            continue
        yield number, text if keep_code else INLINE_CODE.sub("", text)


def links(path: Path) -> Iterator[tuple[int, str]]:
    for number, text in prose_lines(path):
        for match in LINK.finditer(text):
            yield number, match.group(1)
        reference = REFERENCE.match(text)
        if reference:
            yield number, reference.group(1)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    kept = "".join(
        c for c in text if c in " -_" or unicodedata.category(c)[0] in {"L", "N"}
    ).strip()
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, text in prose_lines(path, keep_code=True):
        heading = HEADING.match(text)
        if not heading:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)) or target.startswith("//")


def resolve(source: Path, target: str) -> tuple[Path, str]:
    file_part, _, anchor = target.partition("#")
    return (source if not file_part else (source.parent / file_part).resolve()), anchor


# --- Links and reachability ------------------------------------------------------------------


def test_every_relative_link_lands_on_a_file_and_a_heading():
    problems = []
    for path in markdown_files():
        for line, target in links(path):
            if is_external(target):
                continue
            file, anchor = resolve(path, target)
            if not file.exists():
                problems.append(f"{where(path, line)}: link to {target}: no such file")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                problems.append(
                    f"{where(path, line)}: link to {target}: {file.relative_to(ROOT)} has no "
                    f"heading whose anchor is #{anchor}"
                )
    assert not problems, "\n".join(problems)


def test_every_docs_page_is_reachable_from_readme():
    reached, waiting = {README}, [README]
    while waiting:
        page = waiting.pop()
        for _, target in links(page):
            if is_external(target):
                continue
            file, _ = resolve(page, target)
            if file.suffix == ".md" and file.exists() and file not in reached:
                reached.add(file)
                waiting.append(file)
    orphans = [p.relative_to(ROOT) for p in sorted(DOCS.rglob("*.md")) if p not in reached]
    assert not orphans, (
        "These pages are linked neither from README.md nor from a page reachable from it: "
        + ", ".join(map(str, orphans))
    )


# --- Commands --------------------------------------------------------------------------------


@dataclass
class Command:
    path: Path
    line: int
    words: list[str]  # after the program name
    illustrative: bool

    @property
    def at(self) -> str:
        return where(self.path, self.line)


def shell_lines(block: Block) -> Iterator[tuple[int, str]]:
    """Logical command lines (continuations joined), with the line number they start on."""
    pending, start = "", 0
    for offset, raw in enumerate(block.lines, 1):
        text = raw.strip()
        if not pending:
            if block.language == "console":
                if not text.startswith("$ "):
                    continue
                text = text[2:]
            if not text or text.startswith("#"):
                continue
            start = block.line + offset
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        yield start, pending + text
        pending = ""
    if pending:
        yield start, pending


def words_of(command_line: str) -> list[str]:
    try:
        words = shlex.split(command_line, comments=True)
    except ValueError:
        words = command_line.split()
    cut = next((i for i, w in enumerate(words) if w in {"|", ">", ">>", "&&", "||", ";"}), None)
    words = words[:cut]
    while words and ENV_ASSIGNMENT.match(words[0]):  # `DATACAGE_X=1 datacage worker`
        words = words[1:]
    return words


def documented_commands(program: str) -> Iterator[Command]:
    for path in markdown_files():
        for block in blocks(path):
            if block.language not in SHELL_LANGUAGES:
                continue
            for line, text in shell_lines(block):
                words = words_of(text)
                if words and Path(words[0]).name == program:
                    yield Command(path, line, words[1:], block.illustrative)


def strip_brackets(words: list[str]) -> list[str]:
    """`[--allow-software --software-key x]` in a synopsis: the options without the brackets."""
    out = []
    for word in words:
        word = word.lstrip("[").rstrip("]")
        if word and word not in {"...", "|"}:
            out.append(word)
    return out


def option_table(command: click.Command) -> dict[str, click.Parameter]:
    table: dict[str, click.Parameter] = {"--help": click.Option(["--help"], is_flag=True)}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                table[name] = param
    return table


def takes_value(param: click.Parameter) -> bool:
    return not (isinstance(param, click.Option) and (param.is_flag or param.count))


class Parsed:
    """What a command line says to one click command: its options (with values) and arguments."""

    def __init__(self, command: click.Command, words: list[str], at: str):
        self.options: dict[str, list[str]] = {}
        self.arguments: list[str] = []
        self.rest: list[str] = []  # after a group's subcommand name
        table = option_table(command)
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if word == "--":
                self.arguments.extend(words[index:])
                break
            if not word.startswith("-") or word == "-" or re.match(r"^-\d", word):
                if isinstance(command, click.Group):
                    self.rest = [word, *words[index:]]
                    break
                self.arguments.append(word)
                continue
            name, equals, value = word.partition("=")
            if not name.startswith("--") and len(name) > 2:
                name, value, equals = word[:2], word[2:], "attached"
            param = table.get(name)
            if param is None:
                known = ", ".join(sorted(n for n in table if n.startswith("--")))
                raise AssertionError(f"{at}: {name} is not an option of this command ({known})")
            if not takes_value(param):
                if equals:
                    raise AssertionError(f"{at}: the flag {name} takes no value")
                self.options.setdefault(param.name or name, [])
                continue
            if not equals:
                if index >= len(words):
                    raise AssertionError(f"{at}: {name} needs a value")
                value, index = words[index], index + 1
            self.options.setdefault(param.name or name, []).append(value)


def check_command(command: Command) -> tuple[str, click.Command, Parsed]:
    """Walk the command tree; returns the command path, the leaf and what was said to it."""
    words = strip_brackets(command.words) if command.illustrative else command.words
    node: click.Command = main
    path: list[str] = []
    while True:
        parsed = Parsed(node, words, command.at)
        if not isinstance(node, click.Group) or not parsed.rest:
            break
        name, words = parsed.rest[0], parsed.rest[1:]
        child = node.commands.get(name)
        if child is None:
            known = ", ".join(sorted(node.commands))
            raise AssertionError(
                f"{command.at}: `datacage {' '.join([*path, name])}` is not a command "
                f"(`datacage {' '.join(path)}` has: {known})".replace("datacage  ", "datacage ")
            )
        node, path = child, [*path, name]
    return " ".join(path), node, parsed


def check_runnable(command: Command, leaf: click.Command, parsed: Parsed) -> None:
    """A command shown as is must be complete: arguments, required options, choices."""
    if isinstance(leaf, click.Group) and "help" not in parsed.options:
        raise AssertionError(f"{command.at}: `datacage {' '.join(command.words)}` is a group")
    arguments = [p for p in leaf.params if isinstance(p, click.Argument)]
    unlimited = any(p.nargs == -1 for p in arguments)
    wanted = sum(max(p.nargs, 0) for p in arguments if p.required)
    if "help" in parsed.options:
        return
    if not unlimited and len(parsed.arguments) > sum(max(p.nargs, 0) for p in arguments):
        raise AssertionError(f"{command.at}: unexpected arguments {parsed.arguments}")
    if len(parsed.arguments) < wanted:
        raise AssertionError(f"{command.at}: missing argument(s) {[p.name for p in arguments]}")
    for param in leaf.params:
        if not isinstance(param, click.Option):
            continue
        given = parsed.options.get(param.name or "")
        if param.required and given is None and not param.envvar:
            raise AssertionError(f"{command.at}: the required option {param.opts[0]} is missing")
        if given and isinstance(param.type, click.Choice):
            for value in given:
                if value not in param.type.choices:
                    raise AssertionError(
                        f"{command.at}: {param.opts[0]} {value}: not one of {param.type.choices}"
                    )


INLINE_COMMAND = re.compile(r"`(datacage [^`]+)`")


def inline_commands() -> Iterator[Command]:
    """`datacage push dataset` in a sentence: its path and option names must exist too."""
    for path in markdown_files():
        for number, text in prose_lines(path, keep_code=True):
            for match in INLINE_COMMAND.finditer(text):
                yield Command(path, number, words_of(match.group(1))[1:], illustrative=True)


COMMANDS = list(documented_commands("datacage"))
INLINE = list(inline_commands())


def test_the_docs_show_commands():
    # Guards the parser itself: if it found nothing, every check below would pass vacuously.
    assert len(COMMANDS) >= 8, [c.at for c in COMMANDS]


@pytest.mark.parametrize("command", COMMANDS + INLINE, ids=lambda c: c.at)
def test_each_documented_command_exists_with_its_options(command: Command):
    _, leaf, parsed = check_command(command)
    if not command.illustrative:
        check_runnable(command, leaf, parsed)


def test_runnable_commands_are_run_by_a_test(tmp_path, monkeypatch):
    """Commands shown as is: run end to end elsewhere (RUN_ELSEWHERE), or run here."""
    monkeypatch.setenv("DATACAGE_DATA_DIR", str(tmp_path))
    problems = []
    for command in COMMANDS:
        if command.illustrative:
            continue
        path, _, _ = check_command(command)
        if path in RUN_ELSEWHERE:
            continue
        if path not in RUN_HERE and "--help" not in command.words:
            problems.append(
                f"{command.at}: no test runs `datacage {' '.join(command.words)}`: mark its block "
                f"{ILLUSTRATIVE} if it has placeholders, or name the test that runs it in "
                "RUN_ELSEWHERE (tests/unit/test_docs.py)"
            )
            continue
        result = CliRunner().invoke(main, command.words, catch_exceptions=True)
        if result.exit_code != 0:
            problems.append(
                f"{command.at}: `datacage {' '.join(command.words)}` exited {result.exit_code}: "
                f"{result.output.strip()[-300:] or result.exception!r}"
            )
    assert not problems, "\n".join(problems)


def test_every_documented_command_is_run_or_named_as_shown_only():
    ledger = set(RUN_ELSEWHERE) | RUN_HERE | set(SHOWN_ONLY)
    problems = []
    for command in COMMANDS + INLINE:
        path, leaf, _ = check_command(command)
        if isinstance(leaf, click.Group) or path in ledger or command.words[-1:] == ["--help"]:
            continue  # a group named in prose (`datacage push`) runs nothing itself
        problems.append(
            f"{command.at}: `datacage {path}` is run by no test: run it (RUN_HERE, RUN_ELSEWHERE) "
            "or say what runs its work instead (SHOWN_ONLY, tests/unit/test_docs.py)"
        )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", sorted(RUN_ELSEWHERE))
def test_the_tests_named_as_running_a_command_do_run_it(path: str):
    test_file = ROOT / RUN_ELSEWHERE[path]
    assert test_file.exists(), f"RUN_ELSEWHERE names {test_file}, which does not exist"
    last = path.split()[-1]
    assert re.search(rf"[\"']{re.escape(last)}[\"']", test_file.read_text()), (
        f"{RUN_ELSEWHERE[path]} never invokes `datacage {path}`"
    )


def test_every_command_of_the_cli_is_documented():
    """The reverse direction: a command nobody can find in the docs is as bad as a wrong one."""
    documented = {check_command(c)[0] for c in COMMANDS}
    flask_own = {"run", "routes", "shell"}

    def paths(group: click.Group, prefix: str = "") -> Iterator[str]:
        for name, child in group.commands.items():
            full = f"{prefix}{name}"
            if isinstance(child, click.Group):
                yield from paths(child, full + " ")
            elif full not in flask_own:
                yield full

    missing = sorted(set(paths(main)) - documented)
    assert not missing, f"No fenced sh/console block in README.md or docs/ shows: {missing}"


MAKE_TARGET = re.compile(r"^([\w.-]+):", re.M)


def test_make_targets_in_the_docs_exist():
    targets = set(MAKE_TARGET.findall((ROOT / "Makefile").read_text()))
    problems = []
    for path in markdown_files():
        for block in blocks(path):
            if block.language not in SHELL_LANGUAGES:
                continue
            for line, text in shell_lines(block):
                words = words_of(text)
                if words[:1] == ["make"]:
                    problems += [
                        f"{where(path, line)}: `make {w}`: no such target in the Makefile"
                        for w in words[1:]
                        if not w.startswith("-") and "=" not in w and w not in targets
                    ]
    assert not problems, "\n".join(problems)


# --- The checker, checked --------------------------------------------------------------------


def fake(words: str, illustrative: bool = False) -> Command:
    return Command(README, 1, shlex.split(words), illustrative)


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("nosuch", "is not a command"),
        ("audit nosuch", "`datacage audit nosuch` is not a command"),
        ("audit verify --nosuch", "--nosuch is not an option"),
        ("worker --once=yes", "takes no value"),
        ("verify-result", "missing argument"),
        ("config-reference extra", "unexpected arguments"),
    ],
)
def test_the_checker_refuses_what_does_not_exist(words: str, message: str):
    def check() -> None:
        _, leaf, parsed = check_command(fake(words))
        check_runnable(fake(words), leaf, parsed)

    with pytest.raises(AssertionError, match=re.escape(message)):
        check()


def test_illustrative_commands_keep_their_option_names_checked():
    check_command(fake("verify-result R --code sha256:<x y> [--allow-software]", True))
    with pytest.raises(AssertionError, match="--codes is not an option"):
        check_command(fake("verify-result R --codes sha256:... [--allow-software]", True))


def test_headings_keep_their_code_in_anchors():
    assert "datacage-verify" in anchors(DOCS / "attestation.md")


def test_anchors_follow_githubs_rule():
    assert slug("Checking: `datacage audit verify [--space ID]`") == (
        "checking-datacage-audit-verify---space-id"
    )
    assert slug("3. The smallest group (k)") == "3-the-smallest-group-k"
