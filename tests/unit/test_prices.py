"""Average-price sums: exact to the second for the last 16 minutes, to the minute before that,
kept in two rings of arrays (a row per minute, a row per second) whatever the event rate."""

from __future__ import annotations

import numpy as np

from aggregation.prices import SECONDS_KEPT_S, PriceSums

T0 = 1_800_000_000  # seconds; a whole minute


def add(sums: PriceSums, *events: tuple[int, int, float, float]) -> None:
    """Add (second, asset, usd, price) events as one batch."""
    sec, asset, usd, price = (np.array(column) for column in zip(*events, strict=True))
    sums.add(sec.astype(np.int64), asset.astype(np.int64), usd.astype(float), price.astype(float))


def test_recent_seconds_are_exact_and_older_minutes_whole() -> None:
    sums = PriceSums(minutes=1_445)
    sums.reserve(2)
    now = T0 + 3_600
    add(
        sums,
        (now - 10, 0, 100.0, 50.0),  # 10 s ago
        (now - 100, 0, 300.0, 70.0),  # 100 s ago
        (now - 1_800 - 30, 0, 1_000.0, 10.0),  # half an hour ago, in the middle of a minute
        (now - 10, 1, 5.0, 2.0),  # another asset
    )
    end_ms = (now + 1) * 1000
    [last_minute, last_5m, last_hour] = sums.sums(
        0, [(now - 59) * 1000, (now - 299) * 1000, (now - 3_599) * 1000], end_ms
    )
    assert last_minute == (100.0 * 50.0, 100.0)
    assert last_5m == (100.0 * 50.0 + 300.0 * 70.0, 400.0)
    assert last_hour == (100.0 * 50.0 + 300.0 * 70.0 + 1_000.0 * 10.0, 1_400.0)
    # A window starting inside that old minute counts the whole minute (a minute's resolution
    # before the 16 minutes of seconds); one starting after it does not count it.
    old_minute = (now - 1_800 - 30) // 60 * 60
    assert sums.sums(0, [(old_minute + 59) * 1000], end_ms)[0][1] == 1_400.0
    assert sums.sums(0, [(old_minute + 60) * 1000], end_ms)[0][1] == 400.0
    assert sums.sums(1, [(now - 59) * 1000], end_ms) == [(10.0, 5.0)]
    assert sums.sums(7, [(now - 59) * 1000], end_ms) == [(0.0, 0.0)]  # never seen


def test_rows_are_reused_and_a_label_that_left_is_dropped() -> None:
    sums = PriceSums(minutes=20)
    sums.reserve(1)
    add(sums, (T0, 0, 1.0, 1.0))
    add(sums, (T0 + 1_200, 0, 2.0, 1.0))  # twenty minutes later: the same minute row, reused
    add(sums, (T0 + 30, 0, 4.0, 1.0))  # late, of a minute that left both rings: dropped
    end_ms = (T0 + 1_201) * 1000
    assert T0 + 30 <= T0 + 1_200 - SECONDS_KEPT_S  # older than the seconds kept
    assert sums.sums(0, [T0 * 1000], end_ms) == [(2.0, 2.0)]
