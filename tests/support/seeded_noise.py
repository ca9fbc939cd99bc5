"""A seeded Laplace sampler, for tests that need the same draws twice: never for a real run.

Production noise comes from OpenDP (datafuse.noise.OpenDPSampler), whose generator is
cryptographically secure and cannot be seeded.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


class SeededLaplace:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)  # noqa: S311 - repeatable on purpose, tests only

    def real(self, value: float, scale: float) -> float:
        u = self.random.random() - 0.5
        return value - scale * math.copysign(1.0, u) * math.log(1 - 2 * abs(u))

    def integers(self, values: Sequence[int], scale: float) -> list[int]:
        # A discrete Laplace draw is the difference of two geometric draws.
        q = math.exp(-1 / scale)
        return [v + self._geometric(q) - self._geometric(q) for v in values]

    def _geometric(self, q: float) -> int:
        return math.floor(math.log(1 - self.random.random()) / math.log(q))
