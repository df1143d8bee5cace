"""Exact-value tests of the Binance parsers on every recorded frame (tests/fixtures)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collectors.exchanges.binance import (
    BinanceCoinmFeed,
    CoinmContract,
    parse_coinm,
    parse_coinm_exchange_info,
    parse_usdm,
)
from collectors.parsing import FrameError
from collectors.record import Liquidation, Side
from tests.support.fixtures import lines, text

RECV = 1_800_000_000_000


def approx(value: str) -> object:
    return pytest.approx(float(Decimal(value)), rel=1e-12, abs=0)


# One row per line of binance_usdm_forceorder.jsonl:
# (symbol, side, price = ap, qty = z, notional = z * ap, ts = o.T)
USDM_EXPECTED = [
    ("BTCUSDT", Side.LONG, "9910", "0.014", "138.74", 1568014460893),
    ("IOTXUSDT", Side.LONG, "0.06669", "3661", "244.15209", 1634653599180),  # z, not l=962
    ("BTCUSDT", Side.LONG, "18990.00", "0.009", "170.91", 1665523974217),
    ("BTCUSDT", Side.SHORT, "34959.70", "1.437", "50237.0889", 1698871323059),
    ("ETHUSDT", Side.LONG, "2704.51", "0.036", "97.36236", 1738661434384),
    ("STGUSDT", Side.LONG, "0.1355000", "5", "0.6775", 1786172556607),
    ("BTCUSDT", Side.SHORT, "83598.50", "0.001", "83.5985", 1790845665206),
    ("BTCUSDT", Side.LONG, "82651.90", "0.190", "15703.861", 1791565602120),  # z, not l=0.155
    ("COTIUSDT", Side.SHORT, "0.0219120", "288183", "6314.665896", 1789672235690),
    ("BTCUSDT", Side.LONG, "39021.00", "0.288", "11238.048", 1650898329196),
    ("BTCUSDT", Side.LONG, "38986.50", "0.004", "155.946", 1650898336320),
]


@pytest.mark.parametrize(
    ("frame", "expected"),
    list(zip(lines("binance_usdm_forceorder.jsonl"), USDM_EXPECTED, strict=True)),
)
def test_usdm_every_recorded_frame(frame: str, expected: tuple[object, ...]) -> None:
    symbol, side, price, qty, notional, ts = expected
    parsed = parse_usdm(frame, RECV)
    assert parsed.rejected is None
    assert parsed.control is None
    [record] = parsed.records
    assert record.exchange == "binance"
    assert record.market == "usdm"
    assert record.symbol == symbol
    assert record.base == str(symbol).removesuffix("USDT")
    assert record.side is side
    assert record.price == approx(str(price))
    assert record.qty_base == approx(str(qty))
    assert record.notional_usd == approx(str(notional))
    assert record.ts_ms == ts
    assert record.recv_ms == RECV


def test_usdm_subscribe_reply_is_control() -> None:
    [reply] = lines("binance_ws_control.jsonl")
    parsed = parse_usdm(reply, RECV)
    assert parsed.records == []
    assert parsed.control == "reply to request 1"


def test_usdm_request_error_is_a_bad_frame() -> None:
    with pytest.raises(FrameError, match="request error 2: Invalid request"):
        parse_usdm('{"error":{"code":2,"msg":"Invalid request"},"id":3}', RECV)


def test_usdm_accepts_a_list_of_events() -> None:
    one = lines("binance_usdm_forceorder.jsonl")[0]
    parsed = parse_usdm(f"[{one},{one.replace('SELL', 'BUY')}]", RECV)
    assert [r.side for r in parsed.records] == [Side.LONG, Side.SHORT]


def test_usdm_falls_back_to_q_and_p() -> None:
    frame = (
        '{"e":"forceOrder","E":1,"o":{"s":"ETHUSDC","S":"BUY","q":"2","p":"3000.5","ap":"0",'
        '"T":42}}'
    )
    [record] = parse_usdm(frame, RECV).records
    assert (record.base, record.qty_base, record.price, record.notional_usd) == (
        "ETH",
        2.0,
        3000.5,
        6001.0,
    )


def test_usdm_multiplier_prefix_keeps_notional() -> None:
    frame = (
        '{"e":"forceOrder","E":1,"o":{"s":"1000PEPEUSDT","S":"SELL","q":"100000","p":"0.0121",'
        '"ap":"0.0120","z":"100000","T":7}}'
    )
    [record] = parse_usdm(frame, RECV).records
    assert record.base == "PEPE"
    assert record.qty_base == approx("100000000")  # 100,000 units of 1000 PEPE
    assert record.price == approx("0.000012")
    assert record.notional_usd == approx("1200")
    assert record.qty_base * record.price == approx("1200")


def test_usdm_rejects_a_non_usd_quote() -> None:
    frame = (
        '{"e":"forceOrder","E":1,"o":{"s":"ETHBTC","S":"SELL","q":"1","p":"0.05","ap":"0.05",'
        '"z":"1","T":7}}'
    )
    parsed = parse_usdm(frame, RECV)
    assert parsed.records == []
    assert parsed.rejected is not None
    assert parsed.rejected[0].reason == "not quoted in a USD stablecoin"


def test_coinm_exchange_info_reads_contract_sizes() -> None:
    contracts = parse_coinm_exchange_info(text("binance_coinm_exchangeinfo.json"))
    assert len(contracts) == 36
    assert contracts["BTCUSD_PERP"] == CoinmContract("BTC", 100.0)
    assert contracts["ETHUSD_PERP"] == CoinmContract("ETH", 10.0)
    sizes = sorted(c.contract_size_usd for c in contracts.values())
    assert sizes.count(100.0) == 3
    assert sizes.count(10.0) == 33
    assert all(c.base == "BTC" for c in contracts.values() if c.contract_size_usd == 100.0)


def test_coinm_exchange_info_without_contracts_is_rejected() -> None:
    with pytest.raises(FrameError, match="no USD contracts"):
        parse_coinm_exchange_info('{"symbols":[]}')
    with pytest.raises(FrameError, match="exchangeInfo"):
        parse_coinm_exchange_info('{"code":-1121,"msg":"Invalid symbol."}')


@pytest.mark.parametrize("frame", lines("binance_coinm_forceorder.jsonl"))
def test_coinm_every_recorded_frame(frame: str) -> None:
    # The recorded doc example is BTCUSD_200925, a 2020 quarterly that the 2021 exchangeInfo
    # fixture no longer lists; its size comes from the same rule (every BTCUSD_* is 100 USD).
    contracts = {"BTCUSD_200925": CoinmContract("BTC", 100.0)}
    [record] = parse_coinm(frame, RECV, contracts).records
    assert record == Liquidation(
        exchange="binance",
        market="coinm",
        symbol="BTCUSD_200925",
        base="BTC",
        side=Side.LONG,
        price=9496.5,
        qty_base=100.0 / 9496.5,  # 1 contract x 100 USD at the average fill price
        notional_usd=100.0,
        ts_ms=1591154240949,
        recv_ms=RECV,
    )


def test_coinm_unknown_symbol_is_flagged_for_refetch() -> None:
    contracts = parse_coinm_exchange_info(text("binance_coinm_exchangeinfo.json"))
    parsed = parse_coinm(lines("binance_coinm_forceorder.jsonl")[0], RECV, contracts)
    assert parsed.records == []
    assert parsed.rejected is not None
    [rejection] = parsed.rejected
    assert rejection.unknown_instrument
    assert rejection.instrument == "BTCUSD_200925"


def test_coinm_feed_values_perpetual_with_fetched_contract_size() -> None:
    feed = BinanceCoinmFeed("ws://unused", "http://unused")
    assert feed.apply_exchange_info(text("binance_coinm_exchangeinfo.json")) == "36 contracts"
    frame = lines("binance_coinm_forceorder.jsonl")[0].replace("BTCUSD_200925", "ETHUSD_PERP")
    frame = frame.replace('"z":"1"', '"z":"25"').replace('"S":"SELL"', '"S":"BUY"')
    [record] = feed.parse(frame, RECV).records
    assert (record.base, record.side, record.notional_usd) == ("ETH", Side.SHORT, 250.0)
    assert record.qty_base == approx(str(Decimal(250) / Decimal("9496.5")))
