"""Capture files: writing, reading malformed lines, and replaying through the parsers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.capture import CaptureLine, CaptureProblem, CaptureWriter, read_capture, replay
from collectors.exchanges.binance import BinanceCoinmFeed, BinanceUsdmFeed
from collectors.exchanges.bybit.feed import BybitFeed
from collectors.exchanges.okx.feed import OkxFeed
from collectors.record import Side
from tests.support import bybit
from tests.support.fixtures import lines, text
from tests.support.sinks import CollectingSink


def test_write_then_read(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.jsonl"
    writer = CaptureWriter(path).open()
    writer.record("okx", 5, 'pong "quoted"\nnewline')
    writer.record("okx-instruments", 6, "{}")
    writer.close()
    assert writer.lines == 2
    with path.open("rb") as f:
        assert list(read_capture(f)) == [
            CaptureLine(5, "okx", 'pong "quoted"\nnewline'),
            CaptureLine(6, "okx-instruments", "{}"),
        ]


def test_malformed_lines_become_problems() -> None:
    raw = [
        b'{"recv_ms":1,"source":"okx","frame":"pong"}\n',
        b"\n",
        b"garbage\n",
        b'{"recv_ms":"x"}\n',
    ]
    items = list(read_capture(raw))
    assert items[0] == CaptureLine(1, "okx", "pong")
    assert [type(i) for i in items[1:]] == [CaptureProblem, CaptureProblem]
    assert [i.line_no for i in items[1:] if isinstance(i, CaptureProblem)] == [3, 4]


def test_replay_installs_metadata_before_frames() -> None:
    okx_frame = lines("okx_liquidation_orders.jsonl")[5]
    usdm_frame = lines("binance_usdm_forceorder.jsonl")[7]
    capture: list[CaptureLine | CaptureProblem] = [
        CaptureLine(1, "okx", okx_frame),  # before its instruments: unknown, skipped
        CaptureLine(2, "okx-instruments", text("okx_instruments_swap.json")),
        CaptureLine(3, "okx", okx_frame.replace("1791565600771", "1791565600772")),
        CaptureLine(4, "binance-usdm", usdm_frame),
        CaptureLine(5, "binance-usdm", usdm_frame),  # delivered twice: counted once
        CaptureLine(6, "bitmex", "{}"),
        CaptureProblem(7, "bad"),
    ]
    sink = CollectingSink()
    feeds = [
        BinanceUsdmFeed("ws://x"),
        BinanceCoinmFeed("ws://x", "http://x"),
        OkxFeed("ws://x", "http://x"),
    ]
    report = replay(capture, feeds, sink)
    assert [(r.symbol, r.ts_ms) for r in sink.records] == [
        ("BTC-USDT-SWAP", 1791565600772),
        ("BTCUSDT", 1791565602120),
    ]
    assert report.lines == 6
    assert report.problems == 1
    assert report.metadata_applied == 1
    assert report.unknown_sources == {"bitmex": 1}
    assert report.feeds["okx"].unknown_instrument_events == 1
    assert report.feeds["binance-usdm"].duplicates == 1
    assert (report.first_ms, report.last_ms) == (1, 5)


def test_capture_line_is_the_documented_json() -> None:
    assert json.loads(json.dumps({"recv_ms": 1, "source": "okx", "frame": "x"})) == {
        "recv_ms": 1,
        "source": "okx",
        "frame": "x",
    }


def test_the_shared_bybit_source_reaches_both_feeds_and_each_takes_its_own() -> None:
    linear = BybitFeed("linear", "ws://x", "http://x")
    inverse = BybitFeed("inverse", "ws://x", "http://x")
    inverse_push = json.dumps(
        {
            "topic": "allLiquidation.BTCUSD",
            "type": "snapshot",
            "ts": 2,
            "data": [{"T": 1, "s": "BTCUSD", "S": "Sell", "v": "800", "p": "80000"}],
        }
    )
    capture: list[CaptureLine | CaptureProblem] = [
        CaptureLine(1, "bybit-instruments", bybit.pages(bybit.inverse_page())),
        CaptureLine(2, "bybit-instruments", bybit.pages(bybit.linear_page())),
        CaptureLine(3, "bybit-linear", lines("bybit_all_liquidation.jsonl")[4]),
        CaptureLine(4, "bybit-inverse", inverse_push),
        CaptureLine(5, "bybit-instruments", '[{"retCode":10001,"retMsg":"params error"}]'),
    ]
    sink = CollectingSink()
    report = replay(capture, [linear, inverse], sink)
    assert [(r.market, r.symbol, r.side, r.notional_usd) for r in sink.records] == [
        ("linear", "BTCUSDT", Side.LONG, pytest.approx(494.3814)),
        ("linear", "BTCUSDT", Side.LONG, pytest.approx(3130.9834)),
        ("inverse", "BTCUSD", Side.SHORT, 800.0),
    ]
    assert (report.metadata_applied, report.metadata_failed) == (2, 1)
    assert (len(linear.instruments), len(inverse.instruments)) == (9, 3)
