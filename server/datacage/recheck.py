"""Consent re-checks right before each read, asked of the control plane in batches.

The rule the datacage keeps: a consent withdrawn before a person's data is read is never read.
So the last word on a person comes from a question sent *after* their read was about to start,
never from an answer given earlier in the run (a page's answer is only a prefilter). Asking
once per person would cost a round trip each; instead the people about to be read at the same
moment share one question: whoever is waiting when a question goes out is in it, and a
person who starts waiting while a question is on its way waits for the next one, whose answer
is taken after they asked. At most one question is on its way at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .pull import ConsentLike

#: The most people one question names (the control plane takes up to 500).
MAX_ASKED = 200


@dataclass
class _Ticket:
    iri: str
    done: bool = False
    in_force: bool = False
    error: BaseException | None = field(default=None, repr=False)


class BatchedRecheck:
    """The consent authority of `pull`: `still_in_force` blocks until a question that went out
    after it was called has answered. `ask` takes IRIs and returns those still in force."""

    def __init__(
        self,
        ask: Callable[[list[str]], set[str]],
        record_refusal: Callable[[ConsentLike, str], None],
        max_asked: int = MAX_ASKED,
    ):
        self._ask = ask
        self._record_refusal = record_refusal
        self._max = max(1, max_asked)
        self._changed = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._asking = False
        self.questions = 0  # how many went out (for the benchmark and the tests)

    @property
    def waiting(self) -> int:
        """How many reads wait for a question to go out."""
        with self._changed:
            return len(self._waiting)

    def still_in_force(self, consent: ConsentLike) -> bool:
        ticket = _Ticket(consent.iri)
        with self._changed:
            self._waiting.append(ticket)
            while not ticket.done:
                if self._asking:
                    self._changed.wait()
                    continue
                # Nobody is asking: this thread asks for everyone waiting now.
                self._asking = True
                batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
                self._changed.release()
                try:
                    self._answer(batch)
                finally:
                    self._changed.acquire()
                    self._asking = False
                    self._changed.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.in_force

    def record_refusal(self, consent: ConsentLike, url: str) -> None:
        self._record_refusal(consent, url)

    def _answer(self, batch: list[_Ticket]) -> None:
        try:
            self.questions += 1
            in_force = self._ask(list(dict.fromkeys(t.iri for t in batch)))
        except Exception as exc:  # each waiting read fails as a lone question would
            for ticket in batch:
                ticket.error, ticket.done = exc, True
            return
        for ticket in batch:
            ticket.in_force, ticket.done = ticket.iri in in_force, True
