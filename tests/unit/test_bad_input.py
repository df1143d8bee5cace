"""Bad input found by fuzzing, pinned as exact cases: each is counted and never becomes a record."""

from __future__ import annotations

import json
import logging

import pytest

from collectors.processor import FrameProcessor
from tests.support.feeds import FEED_IDS, VALID_FRAMES, build_feed
from tests.support.sinks import CollectingSink


def _binance(symbol: str = "BTCUSDT", **order: str) -> str:
    fields = {"s": symbol, "S": "SELL", "p": "100", "ap": "100", "z": "1", "T": 1, **order}
    return json.dumps({"e": "forceOrder", "E": 1, "o": fields})


def _okx(size: str, price: str) -> str:
    detail = {"bkPx": price, "sz": size, "posSide": "long", "side": "sell", "ts": "1"}
    return json.dumps({"data": [{"instId": "BTC-USDT-SWAP", "details": [detail]}]})


def _bybit(symbol: str, size: str, price: str) -> str:
    entry = {"T": 1, "s": symbol, "S": "Buy", "v": size, "p": price}
    return json.dumps({"topic": f"allLiquidation.{symbol}", "data": [entry]})


# Each input is positive and finite; what the parser derives from them is not.
OVERFLOWS = [
    ("binance-usdm", _binance(z="1e200", ap="1e200"), "BTCUSDT: notional_usd inf out of range"),
    (
        "binance-usdm",
        _binance(z="1e-200", ap="1e-200"),
        "BTCUSDT: notional_usd 0.0 out of range",
    ),
    (
        "binance-usdm",
        _binance("1000PEPEUSDT", z="1e307", ap="1"),
        "1000PEPEUSDT: qty_base inf out of range",
    ),
    (
        "binance-coinm",
        _binance("BTCUSD_PERP", z="1", ap="1e-307"),
        "BTCUSD_PERP: qty_base inf out of range",
    ),
    ("okx", _okx("1e308", "1e308"), "BTC-USDT-SWAP: notional_usd inf out of range"),
    ("okx", _okx("1e-300", "1e-300"), "BTC-USDT-SWAP: notional_usd 0.0 out of range"),
    ("bybit-linear", _bybit("BTCUSDT", "1e300", "1e300"), "BTCUSDT: notional_usd inf out of range"),
    ("bybit-inverse", _bybit("BTCUSD", "1e300", "1e-300"), "BTCUSD: qty_base inf out of range"),
    ("bybit-inverse", _bybit("BTCUSD", "1e-320", "1e300"), "BTCUSD: qty_base 0.0 out of range"),
]


@pytest.mark.parametrize(("feed_id", "frame", "reason"), OVERFLOWS)
def test_values_that_overflow_or_underflow_when_combined_are_rejected(
    feed_id: str, frame: str, reason: str
) -> None:
    sink = CollectingSink()
    processor = FrameProcessor(build_feed(feed_id), sink)
    parsed = processor.process(frame, 1)
    assert parsed is not None
    assert [f"{r.instrument}: {r.reason}" for r in parsed.rejected or []] == [reason]
    assert sink.records == []
    assert (processor.stats.bad_frames, processor.stats.rejected_events) == (1, 1)
    assert processor.stats.last_error == f"bad frame: {reason}"


EMPTY_PUSHES = [
    ("binance-usdm", '{"stream":"!forceOrder@arr","data":[]}'),
    ("binance-usdm", "[]"),
    ("binance-coinm", "[]"),
    ("okx", '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[]}'),
    ("okx", '{"data":[{"instId":"BTC-USDT-SWAP","details":[]}]}'),
    ("bybit-linear", '{"topic":"allLiquidation.BTCUSDT","type":"snapshot","data":[]}'),
    ("bybit-inverse", '{"topic":"allLiquidation.BTCUSD","data":[]}'),
]


@pytest.mark.parametrize(("feed_id", "frame"), EMPTY_PUSHES)
def test_a_push_without_events_is_a_bad_frame(
    feed_id: str, frame: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = CollectingSink()
    processor = FrameProcessor(build_feed(feed_id), sink)
    assert processor.process(frame, 1) is None
    stats = processor.stats
    assert (stats.frames, stats.bad_frames, stats.control_frames, stats.events) == (1, 1, 0, 0)
    assert stats.rejected_events == 0  # no entry to reject: the frame itself is bad
    assert stats.last_error == "bad frame: no events"
    assert caplog.messages == [f"{feed_id}: bad frame skipped (no events): {frame}"]


# Deeper than the recursion limit of any interpreter (CPython 3.11 stops near 1,000, 3.12+ later).
_DEPTH = 100_000


@pytest.mark.parametrize("feed_id", FEED_IDS)
@pytest.mark.parametrize("nest", ["array", "object"])
def test_a_value_nested_too_deep_is_a_bad_frame_not_a_parser_failure(
    feed_id: str, nest: str, caplog: pytest.LogCaptureFixture
) -> None:
    deep = "[" * _DEPTH + "1" + "]" * _DEPTH
    if nest == "object":
        deep = '{"a":' * _DEPTH + "1" + "}" * _DEPTH
    frame = VALID_FRAMES[feed_id][0]
    frame = frame[:-1] + f',"extra":{deep}}}'  # an unknown key: ignored, but still decoded
    processor = FrameProcessor(build_feed(feed_id), CollectingSink())
    with caplog.at_level(logging.WARNING, logger="collectors"):
        assert processor.process(frame, 1) is None
    reason = "maximum recursion depth exceeded while deserializing an object"
    assert (processor.stats.bad_frames, processor.stats.events) == (1, 0)
    assert processor.stats.last_error == f"bad frame: {reason}"
    shown = f"{frame[:300]}... ({len(frame)} chars)"  # the raw frame, truncated
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, f"{feed_id}: bad frame skipped ({reason}): {shown}")
    ]
