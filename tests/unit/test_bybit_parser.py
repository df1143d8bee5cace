"""Exact-value tests of the Bybit parser on every recorded frame (tests/fixtures)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from collectors.exchanges.bybit.feed import BybitFeed
from collectors.exchanges.bybit.parsing import (
    BybitInstrument,
    next_page_params,
    parse_instruments,
    parse_liquidations,
)
from collectors.parsing import FrameError
from collectors.record import Side
from tests.support.bybit import inverse_page, linear_page, page, pages, row
from tests.support.fixtures import lines

RECV = 1_800_000_000_000
LINEAR, LINEAR_SKIPPED = parse_instruments(pages(linear_page()), "linear")
INVERSE, _ = parse_instruments(pages(inverse_page()), "inverse")


def approx(value: str | Decimal) -> object:
    return pytest.approx(float(Decimal(value)), rel=1e-12, abs=0)


# One row per liquidation of bybit_all_liquidation.jsonl (the last frame carries two):
# (frame index, symbol, side, p, v, notional = v * p, T). `S=Buy` is a LONG liquidated.
BYBIT_EXPECTED = [
    (0, "ROSEUSDT", "ROSE", Side.SHORT, "0.04499", "20000", "899.8", 1739502302929),
    (1, "ICPUSDT", "ICP", Side.LONG, "2.585", "19.7", "50.9245", 1789670094099),
    (2, "MARSCOINUSDT", "MARSCOIN", Side.SHORT, "0.12734", "2380", "303.0692", 1789670278053),
    (3, "COTIUSDT", "COTI", Side.SHORT, "0.021436", "6666", "142.892376", 1789669871606),
    (4, "BTCUSDT", "BTC", Side.LONG, "82396.90", "0.006", "494.3814", 1791565600992),
    (4, "BTCUSDT", "BTC", Side.LONG, "82394.30", "0.038", "3130.98340", 1791565601058),
]
FRAMES = lines("bybit_all_liquidation.jsonl")


def test_instruments_table() -> None:
    assert LINEAR["BTCUSDT"] == BybitInstrument("BTCUSDT", "BTC", 1.0, False)
    assert LINEAR["BTCPERP"] == BybitInstrument("BTCPERP", "BTC", 1.0, False)  # USDC perpetual
    assert LINEAR["BTCUSDT-26DEC26"] == BybitInstrument("BTCUSDT-26DEC26", "BTC", 1.0, False)
    assert LINEAR["1000PEPEUSDT"] == BybitInstrument("1000PEPEUSDT", "PEPE", 1000.0, False)
    assert LINEAR["SHIB1000USDT"] == BybitInstrument("SHIB1000USDT", "SHIB", 1000.0, False)
    assert LINEAR_SKIPPED == 0
    inverse = {
        "BTCUSD": BybitInstrument("BTCUSD", "BTC", 1.0, True),
        "ETHUSD": BybitInstrument("ETHUSD", "ETH", 1.0, True),
        "BTCUSDH27": BybitInstrument("BTCUSDH27", "BTC", 1.0, True),
    }
    assert inverse == INVERSE


@pytest.mark.parametrize("index", range(len(FRAMES)))
def test_every_recorded_frame(index: int) -> None:
    parsed = parse_liquidations(FRAMES[index], RECV, LINEAR)
    expected = [row for row in BYBIT_EXPECTED if row[0] == index]
    assert parsed.rejected is None
    assert parsed.control is None
    assert len(parsed.records) == len(expected)
    for record, (_, symbol, base, side, price, qty, notional, ts) in zip(
        parsed.records, expected, strict=True
    ):
        assert (record.exchange, record.market, record.symbol, record.base) == (
            "bybit",
            "linear",
            symbol,
            base,
        )
        assert record.side is side
        assert record.price == approx(price)
        assert record.qty_base == approx(qty)
        assert record.notional_usd == approx(notional)
        assert record.notional_usd == approx(Decimal(qty) * Decimal(price))
        assert record.ts_ms == ts
        assert record.recv_ms == RECV


def _push(symbol: str, *entries: tuple[str, str, str]) -> str:
    data = [
        {"T": 1791565600992 + n, "s": symbol, "S": s, "v": v, "p": p}
        for n, (s, v, p) in enumerate(entries)
    ]
    return json.dumps(
        {"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": 1, "data": data}
    )


def test_inverse_size_is_usd_contracts() -> None:
    # Synthetic push: 5,000 BTCUSD contracts of 1 USD at 82,396.9, a long liquidated.
    [record] = parse_liquidations(
        _push("BTCUSD", ("Buy", "5000", "82396.9")), RECV, INVERSE
    ).records
    assert (record.market, record.base, record.side) == ("inverse", "BTC", Side.LONG)
    assert record.notional_usd == 5000.0  # never price x contracts
    assert record.qty_base == approx(Decimal(5000) / Decimal("82396.9"))
    assert record.price == 82396.9


@pytest.mark.parametrize(
    ("symbol", "base", "factor"), [("1000PEPEUSDT", "PEPE", 1e3), ("SHIB1000USDT", "SHIB", 1e3)]
)
def test_multiplier_listings_scale_quantity_and_keep_notional(
    symbol: str, base: str, factor: float
) -> None:
    [record] = parse_liquidations(_push(symbol, ("Sell", "2000", "0.0125")), RECV, LINEAR).records
    assert (record.base, record.side) == (base, Side.SHORT)
    assert record.qty_base == 2000 * factor
    assert record.price == approx(Decimal("0.0125") / Decimal(factor))
    assert record.notional_usd == approx("25")


def test_one_asset_name_across_bybit_contracts() -> None:
    bases = {
        r.base
        for symbol, table in [("BTCUSDT", LINEAR), ("BTCPERP", LINEAR), ("BTCUSD", INVERSE)]
        for r in parse_liquidations(_push(symbol, ("Buy", "1", "80000")), RECV, table).records
    }
    assert bases == {"BTC"}


def test_every_entry_is_read_and_bad_ones_are_rejected() -> None:
    frame = _push(
        "BTCUSDT",
        ("Buy", "0.5", "80000"),
        ("Sell", "0", "80000"),
        ("Sell", "-1", "80000"),
        ("Sell", "NaN", "80000"),
        ("Hold", "1", "80000"),
        ("Sell", "1", "Infinity"),
        ("Sell", "0.25", "80100"),
    )
    parsed = parse_liquidations(frame, RECV, LINEAR)
    assert [(r.side, r.notional_usd) for r in parsed.records] == [
        (Side.LONG, 40000.0),
        (Side.SHORT, 20025.0),
    ]
    assert parsed.rejected is not None
    assert [r.reason for r in parsed.rejected] == [
        "size 0.0 is not a positive finite number",
        "size -1.0 is not a positive finite number",
        "size nan is not a positive finite number",
        "unknown position side 'Hold'",
        "price inf is not a positive finite number",
    ]
    assert not any(r.unknown_instrument for r in parsed.rejected)


def test_an_unknown_symbol_asks_for_metadata() -> None:
    parsed = parse_liquidations(_push("NEWUSDT", ("Buy", "1", "2")), RECV, LINEAR)
    assert parsed.records == []
    assert parsed.rejected is not None
    assert [(r.instrument, r.unknown_instrument) for r in parsed.rejected] == [("NEWUSDT", True)]


@pytest.mark.parametrize(
    ("frame", "control"),
    [
        (lines("bybit_ws_control.jsonl")[0], "subscribe"),
        (lines("bybit_ws_control.jsonl")[1], "pong"),
        ('{"success":true,"ret_msg":"","req_id":"0.4","op":"subscribe"}', "subscribe 0.4"),
        ('{"args":["1672916271846"],"op":"pong"}', "pong"),  # documented for other channels
    ],
)
def test_control_frames(frame: str, control: str) -> None:
    parsed = parse_liquidations(frame, RECV, LINEAR)
    assert (parsed.records, parsed.control) == ([], control)


def test_deprecated_liquidation_topic_is_rejected_not_parsed() -> None:
    for frame in lines("bybit_liquidation_deprecated.jsonl"):
        with pytest.raises(FrameError, match="deprecated topic 'liquidation"):
            parse_liquidations(frame, RECV, LINEAR)


def test_a_failed_reply_is_a_bad_frame() -> None:
    nack = json.dumps(
        {
            "success": False,
            "ret_msg": "Invalid symbol :[allLiquidation.NOPE]",
            "conn_id": "c",
            "req_id": "0.7",
            "op": "subscribe",
        }
    )
    with pytest.raises(FrameError, match=r"subscribe 0\.7 failed: Invalid symbol"):
        parse_liquidations(nack, RECV, LINEAR)


def test_instruments_skip_what_cannot_be_valued() -> None:
    rows = [
        row("BTCUSDT", "LinearPerpetual", "BTC", "USDT"),
        row("NEWUSDT", "LinearPerpetual", "NEW", "USDT", status="PreLaunch"),
        row("OLDUSDT", "LinearPerpetual", "OLD", "USDT", status="Closed"),
        row("BTCUSD", "InversePerpetual", "BTC", "USD"),  # not a linear contract
        row("ETHBTC", "LinearPerpetual", "ETH", "BTC"),  # not quoted in USD
        row("BTC-27MAR26-70000-P", "", "BTC", "USDT"),  # an option row
    ]
    instruments, skipped = parse_instruments(pages(page("linear", rows)), "linear")
    assert list(instruments) == ["BTCUSDT"]
    assert skipped == 5
    inverse_rows = [
        row("BTCUSD", "InversePerpetual", "BTC", "USD"),
        row("BTCEUR", "InversePerpetual", "BTC", "EUR"),  # a 1-EUR contract is not 1 USD
    ]
    instruments, skipped = parse_instruments(pages(page("inverse", inverse_rows)), "inverse")
    assert (list(instruments), skipped) == (["BTCUSD"], 1)


def test_instruments_pages_are_merged() -> None:
    first = page("linear", [row("BTCUSDT", "LinearPerpetual", "BTC", "USDT")], cursor="c2")
    second = page("linear", [row("ETHUSDT", "LinearPerpetual", "ETH", "USDT")])
    instruments, _ = parse_instruments(pages(first, second), "linear")
    assert list(instruments) == ["BTCUSDT", "ETHUSDT"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[{"retCode":10001,"retMsg":"params error","result":{}}]', "error 10001: params error"),
        ('[{"retCode":0,"retMsg":"OK"}]', "no `result`"),
        (pages(inverse_page()), "for 'inverse', not 'linear'"),
        (pages(page("linear", [])), "no trading linear contract"),
        ("<html>502</html>", "instruments-info pages"),
        (linear_page(), "instruments-info pages"),  # one page, not the array of pages
    ],
)
def test_unusable_instruments(body: str, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        parse_instruments(body, "linear")


def test_next_page_params() -> None:
    assert next_page_params(linear_page(cursor="first%3DBTCUSDT")) == {"cursor": "first%3DBTCUSDT"}
    assert next_page_params(linear_page()) is None
    assert next_page_params(page("linear", [], cursor="again")) is None  # nothing left
    with pytest.raises(FrameError, match="error 10006"):
        next_page_params('{"retCode":10006,"retMsg":"Too many visits!","result":{}}')
    with pytest.raises(FrameError, match="instruments-info"):
        next_page_params("not json")


def test_feed_documents_and_summary() -> None:
    feed = BybitFeed("inverse", "ws://unused", "https://api.example/")
    [document] = feed.metadata_documents()
    assert (document.capture_source, document.cache_key) == (
        "bybit-instruments",
        "bybit-instruments/inverse",
    )
    assert document.url == "https://api.example/v5/market/instruments-info"
    assert document.params == {"category": "inverse", "limit": "1000"}
    assert document.next_page is next_page_params
    summary = feed.apply_instruments(pages(inverse_page()))
    assert summary == "3 instruments, 0 rows skipped, 3 new topics, 1 connection(s)"
    assert (feed.feed_id, feed.exchange, feed.coverage) == ("bybit-inverse", "bybit", "complete")
    with pytest.raises(ValueError, match="unknown Bybit category 'option'"):
        BybitFeed("option", "ws://unused", "http://unused")
