"""A minute's largest: loaded at start with the minute's alone, completed from stored seconds."""

from __future__ import annotations

import numpy as np

from aggregation.tops import TOP_DTYPE, TOP_K, MinuteTops, distinct

T = 1_800_000_000_000  # a minute's start


def events(*rows: tuple[int, int, float, int]) -> np.ndarray:
    """(ms into the minute, instrument, usd, seq) each; qty = usd, price 1."""
    out = np.zeros(len(rows), dtype=TOP_DTYPE)
    for i, (ms, inst, usd, seq) in enumerate(rows):
        out[i] = (T + ms, seq, usd, usd, 1.0, T + ms, inst, 0)
    return out


def test_distinct_keeps_the_first_of_each_identity() -> None:
    got = distinct(events((5, 1, 10.0, 7), (5, 2, 10.0, 8), (5, 1, 10.0, 0), (1, 1, 3.0, 0)))
    assert got[["ts", "inst", "seq"]].tolist() == [(T + 1, 1, 0), (T + 5, 1, 7), (T + 5, 2, 8)]
    assert len(distinct(events())) == 0


def test_an_incomplete_minute_is_completed_without_counting_an_event_twice() -> None:
    # Second 0 has 12 events; memory has the minute's largest (3) and one counted since (seq 9).
    stored = events(*((i, i, 100.0 + i, 0) for i in range(12)))
    kept = MinuteTops(stored[np.argsort(-stored["usd"])[:3]], complete=False)
    kept.merge(events((30_000, 40, 5.0, 9)))
    assert kept.best(2)["usd"].tolist() == [111.0, 110.0]  # the minute's largest stay exact
    kept.complete_with(stored)
    assert kept.complete
    assert len(kept.events) == TOP_K + 1  # second 0: its TOP_K of 12; second 30: its one
    assert kept.within(T, T + 1_000)["usd"].tolist() == sorted(
        (100.0 + i for i in range(2, 12)), reverse=True
    )
    assert kept.within(T + 30_000, T + 31_000)["seq"].tolist() == [9]
