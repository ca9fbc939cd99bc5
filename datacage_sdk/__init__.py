"""The code provider's SDK: what an algorithm imports inside the datacage's sandbox.

Handlers are registered per event (``@on("CHECK_COMMON_DEMO_CUSTOMERS")``) and called with a
:class:`Run`: the approved parameters, the inputs per data provider (the individuals' pods are
one provider, each organisation's dataset another), read as rdflib graphs or as rows, and an
output that is checked against the bundle's own shape before it is written. Logs go to the
run's log, which the datacage scrubs of every identifier read from the inputs.

Self-contained on purpose: the standard library, rdflib and ``datafuse`` only, never the
server's code, so the sandbox can bind it read-only (docs/sdk.md).
"""

from datacage_sdk.events import dispatch, handlers, on
from datacage_sdk.inputs import Dataset, Individuals, InputError, Person
from datacage_sdk.outputs import DCG_INDIVIDUALS, OutputError, shape_problems
from datacage_sdk.run import Run

__all__ = [
    "DCG_INDIVIDUALS",
    "Dataset",
    "Individuals",
    "InputError",
    "OutputError",
    "Person",
    "Run",
    "dispatch",
    "handlers",
    "on",
    "shape_problems",
]
