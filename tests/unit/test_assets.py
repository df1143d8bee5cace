"""One asset name across exchanges, with multiplier prefixes resolved."""

from __future__ import annotations

import json

import pytest

from collectors.assets import binance_usdm_base, split_multiplier, split_multiplier_affix
from collectors.exchanges.binance import CoinmContract, parse_coinm, parse_usdm
from collectors.exchanges.okx.feed import OkxFeed


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTCUSDT", ("BTC", 1.0)),
        ("BTCUSDC", ("BTC", 1.0)),
        ("BTCUSDT_251226", ("BTC", 1.0)),
        ("ETHFDUSD", ("ETH", 1.0)),
        ("1000PEPEUSDT", ("PEPE", 1000.0)),
        ("1000000MOGUSDT", ("MOG", 1_000_000.0)),
        ("1MBABYDOGEUSDT", ("BABYDOGE", 1_000_000.0)),
        ("10000LADYSUSDT", ("LADYS", 10_000.0)),
        ("1INCHUSDT", ("1INCH", 1.0)),
        ("BTCDOMUSDT", ("BTCDOM", 1.0)),
        ("ETHBTC", None),
        ("USDT", None),
    ],
)
def test_binance_usdm_base(symbol: str, expected: tuple[str, float] | None) -> None:
    assert binance_usdm_base(symbol) == expected


def test_split_multiplier_needs_a_letter_after_the_prefix() -> None:
    assert split_multiplier("1000") == ("1000", 1.0)
    assert split_multiplier("1000SATS") == ("SATS", 1000.0)


@pytest.mark.parametrize(
    ("coin", "expected"),
    [
        ("BTC", ("BTC", 1.0)),
        ("1000PEPE", ("PEPE", 1000.0)),
        ("10000000AIDOGE", ("AIDOGE", 10_000_000.0)),
        ("1000000CHEEMS", ("CHEEMS", 1_000_000.0)),
        ("SHIB1000", ("SHIB", 1000.0)),
        ("1INCH", ("1INCH", 1.0)),
        ("HPOS10I", ("HPOS10I", 1.0)),
        ("API3", ("API3", 1.0)),
        ("LUNA2", ("LUNA2", 1.0)),
        ("1000", ("1000", 1.0)),  # no letter before or after: not a multiplier
    ],
)
def test_split_multiplier_affix(coin: str, expected: tuple[str, float]) -> None:
    assert split_multiplier_affix(coin) == expected


def test_prefix_only_split_leaves_a_suffix_alone() -> None:
    assert split_multiplier("SHIB1000") == ("SHIB1000", 1.0)
    assert split_multiplier("10000000AIDOGE") == ("AIDOGE", 10_000_000.0)


def _usdm(symbol: str) -> str:
    order = {"s": symbol, "S": "SELL", "q": "2", "p": "10", "ap": "10", "z": "2", "T": 5}
    return json.dumps({"e": "forceOrder", "E": 5, "o": order})


def _okx_feed() -> OkxFeed:
    feed = OkxFeed("ws://unused", "http://unused")
    rows = [
        ("BTC-USDT-SWAP", "SWAP", "linear", "0.01", "BTC"),
        ("BTC-USD-SWAP", "SWAP", "inverse", "100", "USD"),
        ("BTC-USDT-261225", "FUTURES", "linear", "0.01", "BTC"),
        ("BTC-USD-261225", "FUTURES", "inverse", "100", "USD"),
    ]
    data = [
        {"instId": i, "instType": t, "ctType": c, "ctVal": v, "ctMult": "1", "ctValCcy": ccy}
        for i, t, c, v, ccy in rows
    ]
    feed.apply_instruments(json.dumps({"code": "0", "msg": "", "data": data}))
    return feed


def _okx(inst_id: str) -> str:
    detail = {"bkPx": "10", "posSide": "long", "side": "sell", "sz": "2", "ts": "5"}
    return json.dumps({"data": [{"instId": inst_id, "details": [detail]}]})


def test_every_btc_instrument_is_asset_btc() -> None:
    okx = _okx_feed()
    coinm = {s: CoinmContract("BTC", 100.0) for s in ("BTCUSD_PERP", "BTCUSD_261225")}
    bases = [
        *(r.base for s in ("BTCUSDT", "BTCUSDC") for r in parse_usdm(_usdm(s), 0).records),
        *(r.base for s in coinm for r in parse_coinm(_usdm(s), 0, coinm).records),
        *(
            r.base
            for i in ("BTC-USDT-SWAP", "BTC-USD-SWAP", "BTC-USDT-261225", "BTC-USD-261225")
            for r in okx.parse(_okx(i), 0).records
        ),
    ]
    assert bases == ["BTC"] * 8


@pytest.mark.parametrize(
    ("symbol", "base", "factor"),
    [
        ("1000PEPEUSDT", "PEPE", 1e3),
        ("1000000MOGUSDT", "MOG", 1e6),
        ("1MBABYDOGEUSDT", "BABYDOGE", 1e6),
    ],
)
def test_multiplier_scales_quantity_and_keeps_notional(
    symbol: str, base: str, factor: float
) -> None:
    [record] = parse_usdm(_usdm(symbol), 0).records
    assert record.base == base
    assert record.qty_base == 2 * factor
    assert record.price == pytest.approx(10 / factor, rel=1e-12)
    assert record.notional_usd == 20.0
