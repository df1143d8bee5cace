"""Fuzz the Deribit, BitMEX, Bitfinex and Kraken Futures parsers on the live path.

The same checks as tests/unit/test_fuzz_parsers.py (nothing raises; every frame lands in exactly
one of bad, control, records or unknown instrument; no record out of range). These feeds count
an order, trade or position id once, so a repeated event is a control frame ("seen before"),
not a duplicate record: the exact landing tables are their own.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.feeds import (
    CONTROL_FRAMES,
    ERROR_FRAMES,
    ONCE_FEED_IDS,
    UNKNOWN_INSTRUMENT_FRAMES,
    VALID_FRAMES,
)
from tests.unit.test_fuzz_parsers import (
    FUZZ,
    _feed,
    _mutated,
    _raw_frames,
    json_frames,
    run_frames,
)


@pytest.mark.parametrize("feed_id", ONCE_FEED_IDS)
@FUZZ
@given(frames=st.lists(json_frames(), min_size=1, max_size=5))
def test_arbitrary_json_is_counted_and_never_raises(
    feed_id: str, frames: list[str | bytes]
) -> None:
    run_frames(feed_id, frames)


@pytest.mark.parametrize("feed_id", ONCE_FEED_IDS)
@FUZZ
@given(frames=st.lists(_raw_frames, min_size=1, max_size=5))
def test_arbitrary_text_and_bytes_are_counted_and_never_raise(
    feed_id: str, frames: list[str | bytes]
) -> None:
    run_frames(feed_id, frames)


@pytest.mark.parametrize("feed_id", ONCE_FEED_IDS)
@FUZZ
@given(data=st.data())
def test_mutated_recorded_frames_are_counted_and_never_raise(
    feed_id: str, data: st.DataObject
) -> None:
    frames = data.draw(st.lists(_mutated(feed_id), min_size=1, max_size=4), label="frames")
    run_frames(feed_id, frames)


@pytest.mark.parametrize("feed_id", ONCE_FEED_IDS)
def test_the_recorded_frames_land_where_they_should_and_repeats_are_control(
    feed_id: str,
) -> None:
    _feed.cache_clear()  # a fresh feed: no id seen yet
    valid, control, errors = VALID_FRAMES[feed_id], CONTROL_FRAMES[feed_id], ERROR_FRAMES[feed_id]
    unknown = [UNKNOWN_INSTRUMENT_FRAMES[feed_id]] if feed_id in UNKNOWN_INSTRUMENT_FRAMES else []
    _, tally = run_frames(feed_id, [*valid, *control, *errors, *unknown])
    assert tally.landed == [
        *["records"] * len(valid),
        *["control"] * len(control),
        *["bad"] * len(errors),
        *["unknown"] * len(unknown),
    ]
    # Delivered again (a reconnect's snapshot): control, no record. Kraken has no id to check.
    _, again = run_frames(feed_id, list[str | bytes](valid))
    expected = "records" if feed_id == "kraken-futures" else "control"
    assert again.landed == [expected] * len(valid)


_BAD_NUMBERS = ['"abc"', "true", "[]", "{}", "1e400", "-1", "0", "-0.5", "1e-400", "null"]


@pytest.mark.parametrize(
    ("feed_id", "field"),
    [
        ("deribit", ("params", "data", 0, "amount")),
        ("deribit", ("params", "data", 0, "price")),
        ("bitmex", ("data", 0, "leavesQty")),
        ("bitmex", ("data", 0, "price")),
        ("bitfinex", (1, 0, 5)),
        ("bitfinex", (1, 0, 11)),
        ("kraken-futures", ("qty",)),
        ("kraken-futures", ("price",)),
    ],
)
def test_invalid_numbers_never_become_records(feed_id: str, field: tuple[str | int, ...]) -> None:
    for index, token in enumerate(_BAD_NUMBERS):
        _feed.cache_clear()
        tree = json.loads(VALID_FRAMES[feed_id][0])
        node = tree
        for step in field[:-1]:
            node = node[step]
        node[field[-1]] = "@@raw@@"
        frame = json.dumps(tree).replace('"@@raw@@"', token)
        _, tally = run_frames(feed_id, [frame])
        # Bitfinex takes BASE_PRICE when PRICE_ACQUIRED is not a number or zero (only a negative
        # one is rejected; 1e400 makes the frame undecodable), and a negative AMOUNT is a short.
        fine = feed_id == "bitfinex" and (
            (field[-1] == 11 and token not in ("-1", "-0.5", "1e400"))
            or (field[-1] == 5 and token in ("-1", "-0.5"))
        )
        assert tally.landed == (["records"] if fine else ["bad"]), (index, token)
