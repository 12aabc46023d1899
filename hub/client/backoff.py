"""Exponential backoff with jitter, for reconnects and for re-sending refused frames."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays of initial, 2*initial, 4*initial ... capped at maximum, each scaled by a random
    factor in [0.5, 1]: the jitter spreads a fleet of terminals that lost the same hub, and
    the floor of one half keeps a lone terminal from hammering it."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        *,
        random_unit: Callable[[], float] = random.random,
    ) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self._random_unit = random_unit
        self._attempts = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2.0 ** min(self._attempts, 62))
        self._attempts += 1
        return ceiling * (0.5 + self._random_unit() / 2)

    def reset(self) -> None:
        self._attempts = 0
