"""Runs: one execution of a space's approved algorithm, asked here, done by the datacage.

The control plane keeps the record (`model`, `rdf`, `store`) and the rules (`actions`); the
datacage claims a queued run as a *job*, reports its progress, and says how it ended. Nothing in
a run record is personal data: people appear only as counts.
"""

from .model import Run, RunStatus

__all__ = ["Run", "RunStatus"]
