"""Exact-value tests of the Bitget parser: side buy is a long; amount taken as quote USD."""

from __future__ import annotations

import json

import pytest

from collectors.exchanges.bitget.feed import BitgetFeed
from collectors.exchanges.bitget.parsing import asset_of, parse_frame
from collectors.parsing import FrameError
from collectors.record import Liquidation, Side
from tests.support.fixtures import lines

RECV = 1_800_000_000_000
DOC = lines("bitget_uta_liquidation.jsonl")


def test_doc_frame_buy_is_a_long_and_amount_is_taken_as_usd() -> None:
    # UNVERIFIED unit: tests/live/test_bitget_amount.py says how to settle it.
    parsed = parse_frame(DOC[0], RECV)
    assert parsed.records == [
        Liquidation(
            "bitget", "usdt-futures", "BTCUSDT", "BTC", Side.LONG, 89000.0, 37.722858 / 89000,
            37.722858, 1736371332162, RECV,
        )
    ]  # fmt: skip


def test_sell_is_a_short_and_every_row_is_read() -> None:
    frame = json.loads(DOC[0])
    frame["data"].append({**frame["data"][0], "side": "sell", "symbol": "1000PEPEUSDT"})
    parsed = parse_frame(json.dumps(frame), RECV)
    assert [(r.side, r.base, r.price, r.notional_usd) for r in parsed.records] == [
        (Side.LONG, "BTC", 89000.0, 37.722858),
        (Side.SHORT, "PEPE", 89.0, 37.722858),
    ]


def test_assets_of_every_product_line() -> None:
    assert [asset_of(s) for s in ("BTCUSDT", "ETHPERP", "BTCUSD", "BTCUSD_251226", "BTC")] == [
        ("BTC", 1.0),
        ("ETH", 1.0),
        ("BTC", 1.0),
        ("BTC", 1.0),
        None,
    ]


def test_pong_and_acks_are_control_and_errors_are_bad_frames() -> None:
    assert parse_frame("pong", RECV).control == "pong"
    ack = '{"event":"subscribe","arg":{"instType":"usdt-futures","topic":"liquidation"}}'
    assert parse_frame(ack, RECV).control == "subscribe"
    with pytest.raises(FrameError, match="error 30001: bad"):
        parse_frame('{"event":"error","code":30001,"msg":"bad"}', RECV)


def test_the_feed_subscribes_every_futures_line_and_pings_with_text() -> None:
    feed = BitgetFeed("ws://x")
    assert json.loads(feed.subscribe_messages()[0]) == {
        "op": "subscribe",
        "args": [
            {"instType": "usdt-futures", "topic": "liquidation"},
            {"instType": "usdc-futures", "topic": "liquidation"},
            {"instType": "coin-futures", "topic": "liquidation"},
        ],
    }
    assert (feed.policy.app_ping, feed.policy.app_ping_every_s) == ("ping", 25.0)


def test_each_unusable_row_is_rejected_with_its_first_reason_and_the_rest_kept() -> None:
    frame = json.loads(DOC[0])
    good = frame["data"][0]
    frame["data"] = [
        {**good, "side": "close", "price": "0"},  # two faults: the first is named
        {**good, "price": "0"},
        {**good, "amount": "-1"},
        {key: value for key, value in good.items() if key != "ts"},
        {**good, "symbol": "BTCEUR"},
        good,
        {**good, "price": "1e-320"},  # subnormal price: the quantity overflows
    ]
    parsed = parse_frame(json.dumps(frame), RECV)
    assert [(r.symbol, r.notional_usd) for r in parsed.records] == [("BTCUSDT", 37.722858)]
    assert [(r.reason, r.instrument) for r in parsed.rejected or []] == [
        ("unknown side 'close'", "BTCUSDT"),
        ("price 0.0 unusable", "BTCUSDT"),
        ("amount -1.0 unusable", "BTCUSDT"),
        ("no ts", "BTCUSDT"),
        ("not quoted in USD", "BTCEUR"),
        ("qty_base inf out of range", "BTCUSDT"),
    ]
