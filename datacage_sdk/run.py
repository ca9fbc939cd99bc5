"""One run as the algorithm sees it: event, parameters, providers, output, log and progress."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from rdflib import Graph

from datacage_sdk.inputs import Dataset, Individuals, datasets
from datacage_sdk.outputs import OutputError, shape_problems

# The space's approved differential-privacy term travels beside the parameters under this
# name, which no manifest parameter can have (they are identifiers); `Run.privacy` holds it.
PRIVACY_PARAMETER = "datacage:differential_privacy"

# Relative IRIs in the shape resolve as the gate resolves them (server/algorithms/shape.py).
SHAPE_BASE = "https://bundle.datacage.invalid/"


class Run:
    """Built by :func:`datacage_sdk.dispatch` from the bootstrap's ``ctx``."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self.parameters: dict[str, Any] = dict(ctx.parameters)
        # {"mechanism", "epsilon", "lower", "upper"}, or None when the space has no such term.
        self.privacy: dict[str, Any] | None = self.parameters.pop(PRIVACY_PARAMETER, None)
        bundle = Path(getattr(ctx, "bundle_dir", "/bundle"))
        self.manifest = tomllib.loads((bundle / "manifest.toml").read_text(encoding="utf-8"))
        self.event = self._event()
        self.individuals = Individuals(ctx.people)
        self.datasets: list[Dataset] = datasets(Path(getattr(ctx, "input_dir", "/input")))
        self._shape_path = bundle / self.manifest["algorithm"]["output_shape"]
        self._shape: Graph | None = None

    @property
    def providers(self) -> list[Individuals | Dataset]:
        """Every data provider of the run: the individuals first, then each dataset."""
        return [self.individuals, *self.datasets]

    def dataset(self, name: str) -> Dataset:
        """The dataset registered as ``name`` (or with id ``name``)."""
        for dataset in self.datasets:
            if name in (dataset.name, dataset.id):
                return dataset
        known = ", ".join(d.name for d in self.datasets) or "none"
        raise LookupError(f"This run has no dataset {name!r} (it has: {known}).")

    @property
    def shape(self) -> Graph:
        if self._shape is None:
            self._shape = Graph().parse(
                data=self._shape_path.read_bytes(), format="turtle", publicID=SHAPE_BASE
            )
        return self._shape

    def write(self, result: Graph | str, name: str = "result.ttl") -> Path:
        """Check ``result`` against the output shape, then write it as Turtle into the output."""
        graph = result if isinstance(result, Graph) else Graph().parse(data=result, format="turtle")
        problems = shape_problems(graph, self.shape)
        if problems:
            raise OutputError(problems)
        return self._ctx.write_result(graph.serialize(format="turtle"), name)

    def log(self, message: object) -> None:
        """A line in the run's log, shown only after the datacage scrubs every input value."""
        self._ctx.log(message)

    def progress(self, fraction: float) -> None:
        self._ctx.progress(fraction)

    def _event(self) -> str:
        declared = list(self.manifest["algorithm"].get("events", []))
        chosen = self.parameters.get("event")
        if chosen is not None:
            if chosen not in declared:
                raise LookupError(f"The event {chosen!r} is not one this bundle declares.")
            return str(chosen)
        if len(declared) != 1:
            raise LookupError(
                "This bundle declares several events: give the run's one as the 'event' parameter."
            )
        return declared[0]
