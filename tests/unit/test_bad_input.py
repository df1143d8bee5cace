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


# Exchange text in a reason, as the JSON frames carry it (escaped) and as the log line shows it.
EXCHANGE_TEXT = [
    (
        "okx",
        '{"event":"error","code":"60012","msg":"Invalid request\\nline two\\u2028three"}',
        "error event 60012: Invalid request\\nline two\\u2028three",
    ),
    (
        "binance-usdm",
        '{"error":{"code":2,"msg":"Invalid request:\\r\\nunknown variant"},"id":1}',
        "request error 2: Invalid request:\\r\\nunknown variant",
    ),
    (
        "bybit-linear",
        '{"success":false,"ret_msg":"error:\\u0085handler not found","op":"subscribe","req_id":"7"}',
        "subscribe 7 failed: error:\\x85handler not found",
    ),
]


@pytest.mark.parametrize(("feed_id", "frame", "shown"), EXCHANGE_TEXT)
def test_line_breaks_in_exchange_text_stay_escaped_in_the_one_log_line(
    feed_id: str, frame: str, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    processor = FrameProcessor(build_feed(feed_id), CollectingSink())
    assert processor.process(frame, 1) is None
    assert caplog.messages == [f"{feed_id}: bad frame skipped ({shown}): {frame}"]
    assert len(caplog.messages[0].splitlines()) == 1
    assert processor.stats.last_error == f"bad frame: {shown}"


def test_a_ten_megabyte_value_in_a_reason_is_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    side = "x" * 10_000_000
    frame = _binance(S=side)
    processor = FrameProcessor(build_feed("binance-usdm"), CollectingSink())
    assert processor.process(frame, 1) is not None
    reason = f"BTCUSDT: unknown order side '{side}'"
    shown = f"{reason[:300]}... ({len(reason)} chars)"
    raw = f"{frame[:300]}... ({len(frame)} chars)"
    assert caplog.messages == [f"binance-usdm: bad frame skipped ({shown}): {raw}"]
    assert processor.stats.last_error == f"bad frame: {shown}"
    assert (processor.stats.bad_frames, processor.stats.rejected_events) == (1, 1)


def test_a_ten_megabyte_unknown_instrument_is_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    inst_id = "Z" * 10_000_000
    frame = _okx("1", "100").replace("BTC-USDT-SWAP", inst_id)
    processor = FrameProcessor(build_feed("okx"), CollectingSink())
    parsed = processor.process(frame, 1)
    assert parsed is not None
    assert parsed.rejected is not None
    processor.skip_unknown(parsed.rejected)  # as the runner does without a metadata manager
    names = repr([inst_id])
    assert caplog.messages == [
        f"okx: skipped 1 event(s) of unknown instrument(s) {names[:300]}... ({len(names)} chars)"
    ]
    assert (processor.stats.bad_frames, processor.stats.unknown_instrument_events) == (0, 1)


def test_a_rejected_bybit_subscription_logs_its_reason_on_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = build_feed("bybit-linear")
    [subscribe] = feed.subscribe_messages(0)
    req_id = json.loads(subscribe)["req_id"]
    reply = {"success": False, "ret_msg": "busy\nretry later", "op": "subscribe", "req_id": req_id}
    processor = FrameProcessor(feed, CollectingSink())
    assert processor.process(json.dumps(reply), 1) is None
    assert len(caplog.messages) == 2  # the retry plan, then the bad frame
    assert all(len(message.splitlines()) == 1 for message in caplog.messages)
    assert "rejected: busy\\nretry later; " in caplog.messages[0]
    assert processor.stats.bad_frames == 1
