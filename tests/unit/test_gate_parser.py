"""Exact-value tests of the Gate parser: sign, contract sizes, both `result` shapes, times."""

from __future__ import annotations

import json

import pytest

from collectors.exchanges.gate.feed import GateFeed
from collectors.exchanges.gate.parsing import parse_contracts, parse_frame
from collectors.parsing import FrameError
from collectors.record import Liquidation, Side
from tests.support.fixtures import lines, text

RECV = 1_800_000_000_000
USDT = parse_contracts(text("gate_contracts_usdt.json"), "usdt")
BTC = parse_contracts(text("gate_contracts_btc.json"), "btc")
DOC = lines("gate_public_liquidates.jsonl")
SHAPES = lines("gate_public_liquidates_shapes.jsonl")


def _usdt(price: float, size: float, multiplier: float, side: Side, ts: int) -> Liquidation:
    qty = abs(size) * multiplier
    return Liquidation("gate", "usdt", "BTC_USDT", "BTC", side, price, qty, qty * price, ts, RECV)


def test_contract_lists_keep_usable_contracts_only() -> None:
    assert {name: c.quanto_multiplier for name, c in USDT.items()} == {
        "BTC_USDT": 0.0001,
        "ETH_USDT": 0.01,
        "PEPE_USDT": 10_000_000.0,
    }  # BAD_USDT (multiplier 0) is skipped: never guess a size
    assert {name: (c.base, c.quanto_multiplier) for name, c in BTC.items()} == {
        "BTC_USD": ("BTC", 0.0)
    }


@pytest.mark.parametrize("body", ["{}", "[]", "not json", '[{"name":"X_USDT"}]'])
def test_an_unusable_contract_list_raises(body: str) -> None:
    with pytest.raises(FrameError):
        parse_contracts(body, "usdt")


def test_doc_frame_negative_size_is_a_long_and_sizes_use_quanto_multiplier() -> None:
    parsed = parse_frame(DOC[0], RECV, "usdt", USDT)
    assert parsed.records == [
        _usdt(215.1, -124.5, 0.0001, Side.LONG, 1541486601123),
        _usdt(215.2, -10.5, 0.0001, Side.LONG, 1541486601456),
    ]
    assert parsed.rejected is None


def test_pre_2026_08_20_frame_has_integer_size_and_time_in_seconds() -> None:
    parsed = parse_frame(DOC[1], RECV, "usdt", USDT)
    assert parsed.records == [_usdt(215.1, -124, 0.0001, Side.LONG, 1541486601000)]


def test_result_as_a_bare_object_positive_size_is_a_short() -> None:
    parsed = parse_frame(SHAPES[0], RECV, "usdt", USDT)
    assert parsed.records == [_usdt(82400.5, 2.5, 0.0001, Side.SHORT, 1788000000123)]


def test_btc_settle_is_one_usd_per_contract_and_the_envelope_time_fills_in() -> None:
    parsed = parse_frame(SHAPES[1], RECV, "btc", BTC)
    assert parsed.records == [
        Liquidation(
            "gate", "btc", "BTC_USD", "BTC", Side.LONG, 82400.5, 1500 / 82400.5, 1500.0,
            1788000000200, RECV,
        ),
        Liquidation(
            "gate", "btc", "BTC_USD", "BTC", Side.SHORT, 82390.0, 700 / 82390, 700.0,
            1788000000456, RECV,
        ),
    ]  # fmt: skip


def test_acks_and_pongs_are_control_and_an_error_reply_is_a_bad_frame() -> None:
    assert (
        parse_frame(SHAPES[2], RECV, "usdt", USDT).control == "futures.public_liquidates subscribe"
    )
    assert parse_frame(SHAPES[3], RECV, "usdt", USDT).control == "futures.pong"
    with pytest.raises(FrameError, match="error 2: unknown contract"):
        parse_frame(SHAPES[4], RECV, "usdt", USDT)


def _push(**row: object) -> str:
    body = {
        "channel": "futures.public_liquidates",
        "event": "update",
        "time_ms": 5,
        "result": [row],
    }
    return json.dumps(body)


def test_unknown_contract_waits_for_metadata_and_zero_size_is_rejected() -> None:
    unknown = parse_frame(_push(contract="XYZ_USDT", size="-1", price="1"), RECV, "usdt", USDT)
    assert unknown.rejected is not None
    assert [(r.instrument, r.unknown_instrument) for r in unknown.rejected] == [("XYZ_USDT", True)]
    zero = parse_frame(_push(contract="BTC_USDT", size="0", price="1"), RECV, "usdt", USDT)
    assert zero.rejected is not None
    assert [r.reason for r in zero.rejected] == ["size 0.0 unusable"]


def test_the_feed_sends_the_size_decimal_header_and_subscribes_every_contract() -> None:
    feed = GateFeed("usdt", "ws://x", "http://y")
    assert feed.headers == {"X-Gate-Size-Decimal": "1"}
    (frame,) = feed.subscribe_messages()
    decoded = json.loads(frame)
    assert (decoded["channel"], decoded["event"], decoded["payload"]) == (
        "futures.public_liquidates",
        "subscribe",
        ["!all"],
    )
    assert isinstance(decoded["time"], int)
    with pytest.raises(ValueError, match="usd1"):
        GateFeed("usd1", "ws://x", "http://y")
