"""One table for every exchange: which raw side fields mean a LONG or a SHORT was liquidated."""

from __future__ import annotations

import json

import pytest

from collectors.exchanges.binance import CoinmContract, parse_coinm, parse_usdm
from collectors.exchanges.bybit.parsing import BybitInstrument
from collectors.exchanges.bybit.parsing import parse_liquidations as parse_bybit
from collectors.exchanges.okx.parsing import OkxInstrument, parse_liquidations
from collectors.parsing import Parsed
from collectors.record import Side

_OKX = {"BTC-USDT-SWAP": OkxInstrument("BTC-USDT-SWAP", "SWAP", "BTC", 1.0, False, 0.01)}
_COINM = {"BTCUSD_PERP": CoinmContract("BTC", 100.0)}
_BYBIT = {
    "BTCUSDT": BybitInstrument("BTCUSDT", "BTC", 1.0, False),
    "BTCUSD": BybitInstrument("BTCUSD", "BTC", 1.0, True),
}


def _binance(symbol: str, side: str) -> str:
    return json.dumps(
        {
            "e": "forceOrder",
            "E": 1,
            "o": {"s": symbol, "S": side, "q": "1", "p": "100", "ap": "100", "z": "1", "T": 1},
        }
    )


def _okx(pos_side: str | None, side: str) -> str:
    detail = {"bkPx": "100", "side": side, "sz": "1", "ts": "1"}
    if pos_side is not None:
        detail["posSide"] = pos_side
    return json.dumps({"data": [{"instId": "BTC-USDT-SWAP", "details": [detail]}]})


def _bybit(symbol: str, side: str) -> Parsed:
    entry = {"T": 1, "s": symbol, "S": side, "v": "1", "p": "100"}
    frame = {"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": 1, "data": [entry]}
    return parse_bybit(json.dumps(frame), 0, _BYBIT)


def _usdm(side: str) -> Parsed:
    return parse_usdm(_binance("BTCUSDT", side), 0)


def _coinm(side: str) -> Parsed:
    return parse_coinm(_binance("BTCUSD_PERP", side), 0, _COINM)


def _okx_parse(pos_side: str | None, side: str) -> Parsed:
    return parse_liquidations(_okx(pos_side, side), 0, _OKX)


SIDE_TABLE = [
    # Binance: `o.S` is the side of the forced ORDER that closes the position.
    ("binance usdm S=SELL", lambda: _usdm("SELL"), Side.LONG),
    ("binance usdm S=BUY", lambda: _usdm("BUY"), Side.SHORT),
    ("binance coinm S=SELL", lambda: _coinm("SELL"), Side.LONG),
    ("binance coinm S=BUY", lambda: _coinm("BUY"), Side.SHORT),
    # OKX: `posSide` is the position in hedge mode; in net mode the order side decides.
    ("okx posSide=long", lambda: _okx_parse("long", "sell"), Side.LONG),
    ("okx posSide=short", lambda: _okx_parse("short", "buy"), Side.SHORT),
    ("okx posSide=long beats side", lambda: _okx_parse("long", "buy"), Side.LONG),
    ("okx posSide=net side=sell", lambda: _okx_parse("net", "sell"), Side.LONG),
    ("okx posSide=net side=buy", lambda: _okx_parse("net", "buy"), Side.SHORT),
    ("okx posSide missing side=sell", lambda: _okx_parse(None, "sell"), Side.LONG),
    ("okx posSide missing side=buy", lambda: _okx_parse(None, "buy"), Side.SHORT),
    # Bybit: `S` is the POSITION side, so the letter is the opposite of Binance's order side.
    ("bybit linear S=Buy", lambda: _bybit("BTCUSDT", "Buy"), Side.LONG),
    ("bybit linear S=Sell", lambda: _bybit("BTCUSDT", "Sell"), Side.SHORT),
    ("bybit inverse S=Buy", lambda: _bybit("BTCUSD", "Buy"), Side.LONG),
    ("bybit inverse S=Sell", lambda: _bybit("BTCUSD", "Sell"), Side.SHORT),
]


@pytest.mark.parametrize(
    ("case", "parse", "expected"), SIDE_TABLE, ids=[row[0] for row in SIDE_TABLE]
)
def test_side_is_the_liquidated_position(case: str, parse: object, expected: Side) -> None:
    assert callable(parse)
    parsed = parse()
    assert isinstance(parsed, Parsed)
    assert [r.side for r in parsed.records] == [expected]


@pytest.mark.parametrize(
    "parse",
    [
        lambda: _usdm("sell"),
        lambda: _usdm("HOLD"),
        lambda: _coinm(""),
        lambda: _okx_parse("net", "hold"),
        lambda: _okx_parse("both", "sell"),
        lambda: _bybit("BTCUSDT", "BUY"),
        lambda: _bybit("BTCUSDT", "long"),
    ],
)
def test_unknown_side_is_rejected(parse: object) -> None:
    assert callable(parse)
    parsed = parse()
    assert parsed.records == []
    assert parsed.rejected is not None
    assert "unknown" in parsed.rejected[0].reason
