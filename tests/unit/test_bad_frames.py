"""Every kind of bad input is rejected with a reason and never becomes a record."""

from __future__ import annotations

import json

import pytest

from collectors.exchanges.binance import CoinmContract, parse_coinm, parse_usdm
from collectors.exchanges.bybit.parsing import BybitInstrument
from collectors.exchanges.bybit.parsing import parse_liquidations as parse_bybit
from collectors.exchanges.okx.parsing import OkxInstrument, parse_liquidations
from collectors.parsing import FrameError, Parsed

_OKX = {"BTC-USDT-SWAP": OkxInstrument("BTC-USDT-SWAP", "SWAP", "BTC", 1.0, False, 0.01)}
_COINM = {"BTCUSD_PERP": CoinmContract("BTC", 100.0)}
_BYBIT = {"BTCUSDT": BybitInstrument("BTCUSDT", "BTC", 1.0, False)}
_ORDER = {"s": "BTCUSDT", "S": "SELL", "q": "1", "p": "100", "ap": "100", "z": "1", "T": 1}


def _binance(**changes: object) -> str:
    order: dict[str, object] = {**_ORDER, **changes}
    for key, value in changes.items():
        if value is None:
            del order[key]
    return json.dumps({"e": "forceOrder", "E": 1, "o": order})


def _okx(**changes: object) -> str:
    detail: dict[str, object] = {
        "bkPx": "100",
        "posSide": "long",
        "side": "sell",
        "sz": "1",
        "ts": "1",
    }
    detail.update(changes)
    for key, value in changes.items():
        if value is None:
            del detail[key]
    return json.dumps({"data": [{"instId": "BTC-USDT-SWAP", "details": [detail]}]})


def _bybit(**changes: object) -> str:
    entry: dict[str, object] = {"T": 1, "s": "BTCUSDT", "S": "Buy", "v": "1", "p": "100"}
    entry.update(changes)
    for key, value in changes.items():
        if value is None:
            del entry[key]
    frame = {"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": 1, "data": [entry]}
    return json.dumps(frame)


UNDECODABLE = [
    ("usdm", "not json"),
    ("usdm", ""),
    ("usdm", "{}"),
    ("usdm", '{"stream":"x","data":{"e":"markPriceUpdate","p":"1"}}'),
    ("usdm", _binance(s=None)),
    ("usdm", _binance(T=None)),
    ("usdm", _binance(p=None)),
    ("usdm", _binance(T="soon")),
    ("usdm", _binance(z=True)),
    ("usdm", _binance(p={"deep": ["x"]})),
    ("usdm", '{"e":"forceOrder","o":[1,2]}'),
    ("usdm", '{"e":"aggTrade","o":{"s":"BTCUSDT","S":"SELL","p":"1","T":1}}'),
    ("usdm", '{"stream":"x","data":[{"e":"aggTrade","o":{"s":"B","S":"SELL","p":"1","T":1}}]}'),
    ("coinm", '{"o":null}'),
    ("okx", "not json"),
    ("okx", "{}"),
    ("okx", '{"arg":{"channel":"tickers"},"data":[]}'),
    ("okx", _okx(sz=None)),
    ("okx", _okx(ts="yesterday")),
    ("okx", '{"data":[{"instId":"BTC-USDT-SWAP"}]}'),
    ("okx", '{"event":"error","code":"60012","msg":"Invalid request"}'),
    ("okx", '{"event":"mystery"}'),
    ("bybit", "not json"),
    ("bybit", "{}"),
    ("bybit", _bybit(v=None)),
    ("bybit", _bybit(T="soon")),
    ("bybit", _bybit(p={"deep": ["x"]})),
    ("bybit", '{"topic":"allLiquidation.BTCUSDT","data":{"s":"BTCUSDT"}}'),
    ("bybit", '{"topic":"allLiquidation.BTCUSDT"}'),
    ("bybit", '{"topic":"publicTrade.BTCUSDT","data":[]}'),
    # the deprecated `liquidation.{symbol}` shape: never subscribed, never parsed
    ("bybit", '{"topic":"liquidation.BTCUSDT","data":{"side":"Buy","size":"1","price":"1"}}'),
    # error replies and unknown operations
    ("bybit", '{"success":false,"ret_msg":"error:handler not found","op":"subscribe"}'),
    ("bybit", '{"success":false,"ret_msg":"","op":"ping"}'),
    ("bybit", '{"ret_msg":"","op":"subscribe"}'),
    ("bybit", '{"success":true,"op":"auth"}'),
]

REJECTED = [
    ("usdm", _binance(z="0"), "quantity 0.0 is not a positive finite number"),
    ("usdm", _binance(z="-1"), "quantity -1.0 is not a positive finite number"),
    ("usdm", _binance(z="NaN"), "quantity nan is not a positive finite number"),
    ("usdm", _binance(z="Infinity"), "quantity inf is not a positive finite number"),
    ("usdm", _binance(ap="-5", p="-5"), "price -5.0 is not a positive finite number"),
    ("usdm", _binance(ap="inf", p="1"), "price inf is not a positive finite number"),
    ("usdm", _binance(z=None, q=None), "no quantity (z or q)"),
    ("usdm", _binance(S="LONG"), "unknown order side 'LONG'"),
    ("coinm", _binance(s="BTCUSD_PERP", z="0"), "quantity 0.0 is not a positive finite number"),
    ("okx", _okx(sz="-3"), "size -3.0 is not a positive finite number"),
    ("okx", _okx(bkPx="0"), "price 0.0 is not a positive finite number"),
    ("okx", _okx(bkPx="-Infinity"), "price -inf is not a positive finite number"),
    ("okx", _okx(posSide="net", side=""), "unknown side posSide='net' side=''"),
    ("bybit", _bybit(v="0"), "size 0.0 is not a positive finite number"),
    ("bybit", _bybit(v="-2"), "size -2.0 is not a positive finite number"),
    ("bybit", _bybit(v="NaN"), "size nan is not a positive finite number"),
    ("bybit", _bybit(p="0"), "price 0.0 is not a positive finite number"),
    ("bybit", _bybit(p="-Infinity"), "price -inf is not a positive finite number"),
    ("bybit", _bybit(S="Long"), "unknown position side 'Long'"),
    ("bybit", _bybit(S=""), "unknown position side ''"),
]


def _parse(feed: str, frame: str) -> Parsed:
    if feed == "usdm":
        return parse_usdm(frame, 0)
    if feed == "coinm":
        return parse_coinm(frame, 0, _COINM)
    if feed == "bybit":
        return parse_bybit(frame, 0, _BYBIT)
    return parse_liquidations(frame, 0, _OKX)


@pytest.mark.parametrize(("feed", "frame"), UNDECODABLE)
def test_undecodable_frames_raise_frame_error(feed: str, frame: str) -> None:
    with pytest.raises(FrameError):
        _parse(feed, frame)


@pytest.mark.parametrize(("feed", "frame", "reason"), REJECTED)
def test_invalid_values_are_rejected_with_a_reason(feed: str, frame: str, reason: str) -> None:
    parsed = _parse(feed, frame)
    assert parsed.records == []
    assert parsed.rejected is not None
    assert [r.reason for r in parsed.rejected] == [reason]
    assert not parsed.rejected[0].unknown_instrument


def test_unknown_fields_are_ignored() -> None:
    frame = _binance(ps="BTCUSDT", st=1, brand_new={"nested": [1, 2]})
    assert len(parse_usdm(frame, 0).records) == 1
    assert len(parse_liquidations(_okx(bkLoss="0", ccy="", extra="x"), 0, _OKX).records) == 1
    assert len(parse_bybit(_bybit(i="x", brand_new={"n": [1]}), 0, _BYBIT).records) == 1
