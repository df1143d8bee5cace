"""The reconnect delays: first retry within a second, doubling, capped at a minute."""

from __future__ import annotations

import pytest

from collectors.backoff import Backoff


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        (0, 0.5, 1.0),
        (1, 1.0, 2.0),
        (2, 2.0, 4.0),
        (5, 16.0, 32.0),
        (6, 30.0, 60.0),
        (50, 30.0, 60.0),
    ],
)
def test_delay_bounds(attempt: int, low: float, high: float) -> None:
    backoff = Backoff()
    assert backoff.delay(attempt, rand=0.0) == low
    assert backoff.delay(attempt, rand=1.0) == high
    assert low <= backoff.delay(attempt) <= high


def test_huge_attempt_counts_do_not_overflow() -> None:
    assert Backoff().delay(10**9, rand=1.0) == 60.0
