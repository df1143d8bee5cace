"""Capped, jittered exponential backoff: one policy for reconnects, retries and restarts."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: delay n lies in [c/2, c], c = min(max, initial*2^n).

    The first retry comes within `initial_s` (1 s); a connection that stayed up for
    `healthy_after_s` resets the attempt count, so a short-lived connection keeps backing off.
    """

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    healthy_after_s: float = 60.0

    def delay(self, attempt: int, rand: float | None = None) -> float:
        """Return the delay before retry number `attempt` (0-based)."""
        ceiling = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        jitter = random.random() if rand is None else rand  # noqa: S311 - jitter, not crypto
        return ceiling / 2 + jitter * ceiling / 2
