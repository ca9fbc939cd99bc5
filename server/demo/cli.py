"""`datacage demo`: start everything, tell the story with progress bars, wait for Ctrl-C.

Each step prints what it did; the slow ones (seeding pods, consents) show a progress bar. With
`--check` it stops after checking the reports against plain sets and exits 0, or 1 with the
reason. Whatever happens, every process and thread it started is stopped before it returns.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urljoin

import click

from connectors.solid.css import CssError
from connectors.solid.errors import SolidError

from ..config import ConfigError
from ..errors import DomainError
from ..push.errors import PushError
from ..runs.model import Run, RunStatus
from ..spaces.model import Space
from . import check, seed, story
from .consent_flow import ConsentFlowError, answer_all
from .stack import Account, DemoStack, StartRefused, fresh_folder, quiet_logs, require_free_port

T = TypeVar("T")
_PARALLEL = 4  # CSS is one node process; a few requests in flight keep it busy, more queue


@dataclass
class Outcome:
    """What the story tells at the end."""

    lines: list[str] = field(default_factory=list)
    urls: list[tuple[str, str, str]] = field(default_factory=list)  # (label, url, how)
    timings: list[tuple[str, float]] = field(default_factory=list)  # (step, seconds)

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        began, ended = time.monotonic(), "stopped after "
        try:
            yield
            ended = ""
        finally:
            # Said as each step ends, or is stopped, so a long demo (1,000 people) shows
            # where it is, and a stopped one still shows where its time went.
            spent = time.monotonic() - began
            self.timings.append((step if not ended else f"{step} (stopped)", spent))
            click.echo(f"  ({step}: {ended}{spent:.1f} s)")

    def print_timings(self) -> None:
        if not self.timings:
            return
        click.echo("\nWhere the time went")
        for step, spent in self.timings:
            click.echo(f"  {step}: {spent:.1f} s")


@click.command("demo")
@click.option("--people", default=50, show_default=True, type=click.IntRange(5, 1000),
              help="Individuals with pods (nine in ten consent).")  # fmt: skip
@click.option("--check", "--no-wait", "check_only", is_flag=True,
              help="Set up, run, check the reports, print, exit 0 or 1: no waiting.")  # fmt: skip
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="The control plane's port (0: a free one).")  # fmt: skip
@click.option("--css-port", default=3000, show_default=True, type=click.IntRange(0, 65535),
              help="The Community Solid Server's port (0: a free one).")  # fmt: skip
@click.option("--folder", default="instance/demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The demo's data; emptied and made afresh at every start.")  # fmt: skip
def demo(people: int, check_only: bool, port: int, css_port: int, folder: Path) -> None:
    """Run the whole product locally on seeded pods: the seed use case, end to end."""
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    try:
        require_free_port(port, "--port")
        require_free_port(css_port, "--css-port")
        stack = DemoStack(fresh_folder(folder), css_port=css_port or None, control_port=port)
    except (StartRefused, CssError) as exc:  # nothing started yet
        raise click.ClickException(str(exc)) from None
    outcome, ready = Outcome(), False
    try:
        # The terminal is the story's: whatever else writes to stderr (the worker's own
        # progress bars, a thread's traceback) goes to demo.log beside the product's logs.
        with (stack.folder / "demo.log").open("a") as log, contextlib.redirect_stderr(log):
            _tell(stack, people, outcome)
            _print(outcome, stack, time.monotonic() - began)
            ready = True
            if not check_only:
                click.echo("Press Ctrl-C to stop everything the demo started.")
                while True:
                    time.sleep(3600)
    except KeyboardInterrupt:
        if not ready:  # a demo stopped on its way still says where its time went
            outcome.print_timings()
        click.echo("\nStopping...")
    except (CssError, SolidError, DomainError, PushError, ConfigError, story.DemoFailed,
            check.ReportMismatch, ConsentFlowError) as exc:  # fmt: skip
        outcome.print_timings()
        raise click.ClickException(f"The demo stopped: {exc}") from None
    except OSError as exc:  # a port taken between our check and the bind, a full disk
        outcome.print_timings()
        raise click.ClickException(f"The demo stopped: {exc}.") from None
    finally:
        stack.close()
        click.echo("Stopped the Community Solid Server, the control plane and the datacage.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass(frozen=True)
class Cast:
    """Everyone in the demo, with their CSS accounts."""

    retailer: Account
    bank: Account
    cage: Account
    persons: list[Account]


def _tell(stack: DemoStack, people: int, out: Outcome) -> None:
    """The whole story, step by step; each step adds its line to what is told at the end."""
    cast = _seed(stack, people, out)
    with out.timed("control plane and datacage start"):
        stack.start_control_plane(cast.cage.webid)
        quiet_logs(stack.folder)
        worker = stack.start_worker(cast.cage)
    click.echo(f"Control plane on {stack.control_plane}; the datacage worker is polling it.")
    with out.timed("spaces, approvals and the bank's pushes"):
        spaces = _organisations(stack, cast, worker.provider.public_key_pem(), people, out)
    with out.timed("consent pages"):
        _individuals(stack, cast, spaces, people, out)
    _runs(stack, cast, spaces, people, out)
    out.urls[:0] = [
        ("Space overview", urljoin(stack.control_plane, f"spaces/{spaces[0].id}"),
         _how_to_sign_in(cast.retailer)),
        ("Space dashboard", urljoin(stack.control_plane, f"spaces/{spaces[0].id}/dashboard"),
         "consents over time, runs, deliveries, how data flows (signed in as above)"),
        ("An individual's My data", urljoin(stack.control_plane, "my-data"),
         _how_to_sign_in(cast.persons[0])),
    ]  # fmt: skip


def _seed(stack: DemoStack, people: int, out: Outcome) -> Cast:
    click.echo(f"Demo folder: {stack.folder} (made afresh; logs in demo.log)")
    click.echo("Starting the Community Solid Server...", nl=False)
    with out.timed("pod provider start"):
        click.echo(f" ready on {stack.css.base_url} in {stack.start_css():.1f} s")
    with out.timed("accounts and pods seeded"):
        retailer, bank, cage = (
            stack.create(m, with_client=True) for m in (seed.RETAILER, seed.BANK, seed.DATACAGE)
        )
        persons = _in_parallel(
            f"Seeding {people} people's pods", range(people), lambda n: _seed_person(stack, n)
        )
    out.lines.append(
        f"{people} people have pods with a customer record and orders; the retailer, the bank "
        "and the datacage have accounts of their own."
    )
    return Cast(retailer, bank, cage, persons)


def _organisations(
    stack: DemoStack, cast: Cast, enclave_key_pem: str, people: int, out: Outcome
) -> list[Space]:
    """The retailer's spaces, approved by both; its results container; the bank's pushes."""
    app = stack.app
    assert app is not None
    spaces = [story.set_up_space(app, plan, cast.retailer, cast.bank) for plan in story.PLANS]
    story.add_inbox(cast.retailer)
    for space in spaces:
        story.choose_results_container(app, space, cast.retailer, cast.cage.webid)
    out.lines.append(
        "The retailer set up " + " and ".join(f"'{s.name}'" for s in spaces) + ", invited the "
        "bank, both approved; results go to its pod, notices to its inbox."
    )
    for space in spaces:
        story.wait_for_evidence(app, space, cast.bank)
        story.push_bank_list(
            stack.control_plane, stack.folder, space, cast.bank, enclave_key_pem, people
        )
    out.lines.append(
        f"The bank checked the datacage's evidence and pushed its {len(seed.bank_rows(people))} "
        "customers, encrypted to the enclave key, once per space (bank/share/)."
    )
    return spaces


def _individuals(
    stack: DemoStack, cast: Cast, spaces: list[Space], people: int, out: Outcome
) -> None:
    """Every person answers every space's invitation on its pages; most accept. A person's
    answers are one after the other, in one browser (CSS asks for the password once);
    several people answer at once."""
    ids = [space.id for space in spaces]
    _in_parallel(
        f"Consent pages ({len(ids) * len(cast.persons)} answers)",
        list(enumerate(cast.persons)),
        lambda p: answer_all(
            stack.control_plane,
            ids,
            p[1],
            accept=seed.consents(p[0]),
            ca_bundle=str(stack.ca_bundle),
        ),
    )
    yes = sum(1 for n in range(people) if seed.consents(n))
    out.lines.append(
        f"{yes} people accepted each space on its consent page (signing in at CSS), "
        f"{people - yes} declined."
    )


def _runs(stack: DemoStack, cast: Cast, spaces: list[Space], people: int, out: Outcome) -> None:
    """Both runs, waited for; each report read back from the retailer's pod and checked."""
    app = stack.app
    assert app is not None
    with out.timed("runs (claims, pulls, algorithms, gates, deliveries)"):
        runs = [story.start_run(app, space, cast.retailer) for space in spaces]
        patience = 120 + 2 * people  # seconds: pulls grow with the people
        watched = _in_parallel(
            "Running in the datacage", runs, lambda r: story.wait_for_run(app, r, patience), 1
        )
    for space, seen in zip(spaces, watched, strict=True):
        out.timings += [(f"  {space.name}: {stage}", spent) for stage, spent in seen.stages]
    with out.timed("reports read back and checked"):
        _check_reports(stack, cast, spaces, watched, people, out)


def _check_reports(
    stack: DemoStack,
    cast: Cast,
    spaces: list[Space],
    watched: list[story.Watched],
    people: int,
    out: Outcome,
) -> None:
    client = cast.retailer.client()
    checks = (check.check_common_customers, check.check_joint_stats)
    for space, seen, verify in zip(spaces, watched, checks, strict=True):
        run, statuses = seen.run, seen.statuses
        out.lines.append(_run_line(space, run))
        if run.status is not RunStatus.SUCCEEDED:
            why = " ".join([run.outcome.wording if run.outcome else "", *run.problems]).strip()
            raise story.DemoFailed(f"The run of {space.name} failed: {why}")
        if run.pull_transport != "tls":
            raise story.DemoFailed(f"The run of {space.name} did not read pods over TLS.")
        [status] = statuses
        if status.state != "delivered" or status.location is None:
            raise story.DemoFailed(f"The report of {space.name} was not delivered: {status.detail}")
        notice = "a notice went to its inbox" if status.notified else "no inbox notice"
        out.lines.append(f"  delivered into the retailer's pod; {notice}")
        out.lines.append("  " + verify(check.read_report(client, status.location), people))
        out.urls.append(
            (f"{space.name}: the report", status.location,
             f"readable by the retailer only (a Solid app signed in as {seed.RETAILER.email}); "
             f"its delivery shows on {story.run_page(stack.control_plane, space, run)}")
        )  # fmt: skip
    pulls = stack.pods.pulls()
    if pulls.admitted == 0:
        raise story.DemoFailed("No pod read went through the pod provider's attestation gateway.")
    out.lines.append(
        f"Every pod read went through the pod provider's attestation gateway: {pulls.admitted} "
        f"request(s) admitted on the datacage's RA-TLS certificate (software stand-in evidence), "
        f"{pulls.refused} refused; none over plain http."
    )


def _how_to_sign_in(account: Account) -> str:
    return (
        f"sign in with the WebID {account.webid}, then at CSS as "
        f"{account.member.email} / {seed.PASSWORD}"
    )


def _seed_person(stack: DemoStack, n: int) -> Account:
    account = stack.create(seed.person(n))  # people sign in with their password only
    stack.write_pod_files(
        account,
        {
            seed.CUSTOMERS_PATH: seed.customer_record(n).encode(),
            seed.ORDERS_PATH: seed.orders_csv(n).encode(),
        },
    )
    return account


def _in_parallel(
    label: str, items: Iterable[T], work: Callable[[T], object], parallel: int = _PARALLEL
) -> list:
    """`work` on each item, a few at a time, under a progress bar; results in item order."""
    items = list(items)
    results: list[object] = [None] * len(items)
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="demo")
    try:
        futures = {pool.submit(work, item): index for index, item in enumerate(items)}
        with click.progressbar(length=len(items), label=label.ljust(30), show_eta=False) as bar:
            for done in as_completed(futures):
                results[futures[done]] = done.result()
                bar.update(1)
    finally:
        pool.shutdown(cancel_futures=True)
    return results


def _run_line(space: Space, run: Run) -> str:
    gate = {True: "passed", False: "stopped it", None: "was not reached"}[run.gate_passed]
    return (
        f"{space.name}: run {run.id} {run.status.label.lower()}, {run.individuals_read} pods "
        f"read, output gate {gate}"
    )


def _print(outcome: Outcome, stack: DemoStack, seconds: float) -> None:
    click.echo("\nWhat happened")
    for line in outcome.lines:
        click.echo(f"  {line}")
    click.echo("\nOpen in a browser")
    for label, url, how in outcome.urls:
        click.echo(f"  {label}: {url}")
        click.echo(f"      {how}")
    outcome.print_timings()
    click.echo(f"\ndemo ready in {seconds:.0f} s (control plane {stack.control_plane})")
