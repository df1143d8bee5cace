"""Exact-value tests of the HTX parser: direction, linear turnover, coin-M contract sizes, pings."""

from __future__ import annotations

import json

import pytest

from collectors.exchanges.htx.parsing import parse_contract_info, parse_frame, pong
from collectors.parsing import FrameError
from collectors.record import Liquidation, Side
from tests.support.fixtures import lines, text

RECV = 1_800_000_000_000
LIVE = lines("htx_liquidation_orders.jsonl")
COINM = lines("htx_coinm_liquidation_orders.jsonl")
SWAP = parse_contract_info(text("htx_contracts_swap.json"))
FUTURES = parse_contract_info(text("htx_contracts_futures.json"))


def test_linear_buy_is_a_short_with_amount_in_base_and_turnover_in_usd() -> None:
    parsed = parse_frame(LIVE[0], RECV, "linear", {})
    assert parsed.records == [
        Liquidation(
            "htx", "linear", "ETH-USDT", "ETH", Side.SHORT, 2446.26, 5.0, 12231.3,
            1789670297212, RECV,
        )
    ]  # fmt: skip


def test_coin_margined_swap_sell_is_a_long_valued_by_contract_size() -> None:
    parsed = parse_frame(COINM[0], RECV, "swap", SWAP)
    assert parsed.records == [
        Liquidation(
            "htx", "swap", "BTC-USD", "BTC", Side.LONG, 60000.0, 3000 / 60000, 3000.0,
            1789670297212, RECV,
        )
    ]  # fmt: skip


def test_coin_margined_futures_use_the_contract_code_size() -> None:
    parsed = parse_frame(COINM[1], RECV, "futures", FUTURES)
    assert parsed.records == [
        Liquidation(
            "htx", "futures", "BTC251226", "BTC", Side.SHORT, 80000.0, 1200 / 80000, 1200.0,
            1789670297299, RECV,
        )
    ]  # fmt: skip


def test_contract_info_maps_codes_and_symbols() -> None:
    assert SWAP == {"BTC-USD": 100.0, "BTC": 100.0, "ETH-USD": 10.0, "ETH": 10.0}
    assert FUTURES["BTC251226"] == 100.0
    with pytest.raises(FrameError, match="status 'error'"):
        parse_contract_info('{"status":"error","err_msg":"x","data":null}')


def test_a_coin_margined_row_without_a_size_waits_for_metadata() -> None:
    parsed = parse_frame(COINM[0], RECV, "swap", {})
    assert parsed.records == []
    assert parsed.rejected is not None
    assert [(r.instrument, r.unknown_instrument) for r in parsed.rejected] == [("BTC-USD", True)]


@pytest.mark.parametrize(
    ("frame", "reply"),
    [
        ('{"op":"ping","ts":1789670081489}', '{"op":"pong","ts":1789670081489}'),
        ('{"op":"ping","ts":"1789676447110"}', '{"op":"pong","ts":"1789676447110"}'),
    ],
)
def test_every_ping_is_answered_with_its_ts_as_it_came(frame: str, reply: str) -> None:
    parsed = parse_frame(frame, RECV, "linear", {})
    assert (parsed.control, parsed.reply, parsed.records) == ("ping", reply, [])


def test_recorded_pings_and_the_ack() -> None:
    assert parse_frame(LIVE[1], RECV, "linear", {}).control == "sub public.*.liquidation_orders"
    assert parse_frame(LIVE[2], RECV, "linear", {}).reply == pong(1789670081489)
    assert parse_frame(LIVE[3], RECV, "linear", {}).reply == pong("1789676447110")


def test_a_subscribe_error_is_a_bad_frame() -> None:
    frame = json.dumps({"op": "sub", "topic": "x", "err-code": 2014, "err-msg": "bad scope"})
    with pytest.raises(FrameError, match="sub error 2014: bad scope"):
        parse_frame(frame, RECV, "linear", {})


def test_an_unknown_direction_and_a_missing_turnover_are_rejected() -> None:
    row = json.loads(LIVE[0])
    row["data"][0]["direction"] = "hold"
    del row["data"][0]["trade_turnover"]
    row["data"].append({**row["data"][0], "direction": "sell"})
    parsed = parse_frame(json.dumps(row), RECV, "linear", {})
    assert parsed.rejected is not None
    assert [r.reason for r in parsed.rejected] == [
        "unknown direction 'hold'",
        "trade_turnover None unusable",
    ]
