"""Decode Bitget UTA `liquidation` frames into liquidation records.

Wire format (venues notes, Bitget): one topic per product line, no symbol; at most the largest
liquidation per side per symbol per second is pushed (sampled). `side` buy means a LONG was
liquidated. UNVERIFIED: `amount` is taken as the quote (USD) notional, so qty = amount / price;
one REST poller reads it as base. `tests/live/test_bitget_amount.py` says how to settle it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import msgspec

from collectors.assets import split_multiplier
from collectors.parsing import UNDECODABLE, FrameError, Parsed, is_positive_finite
from collectors.record import Liquidation, Side

EXCHANGE = "bitget"
INST_TYPES = ("usdt-futures", "usdc-futures", "coin-futures")
_SIDE_TO_POSITION = {"buy": Side.LONG, "sell": Side.SHORT}
_INF = math.inf
# Symbol suffixes quoted in USD: BTCUSDT, BTCPERP (USDC), BTCUSD (coin-margined).
_QUOTES = ("USDT", "USDC", "PERP", "USD")


class _Row(msgspec.Struct, gc=False):
    symbol: str = ""
    side: str = ""
    price: float | None = None
    amount: float | None = None
    ts: int | None = None


class _Arg(msgspec.Struct, gc=False):
    inst_type: str = msgspec.field(name="instType", default="")
    topic: str = ""


class _Frame(msgspec.Struct, gc=False):
    data: list[_Row] | None = None
    arg: _Arg | None = None
    action: str = ""
    event: str = ""
    code: int | str | None = None
    msg: str = ""


# strict=False: prices, amounts and times are JSON strings.
_DECODER = msgspec.json.Decoder(_Frame, strict=False)


@lru_cache(maxsize=8192)
def asset_of(symbol: str) -> tuple[str, float] | None:
    """Return (asset, multiplier) of a Bitget symbol, or None if it is not quoted in USD."""
    pair = symbol.split("_", maxsplit=1)[0]  # dated coin-margined futures: BTCUSD_251226
    for quote in _QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return split_multiplier(pair[: -len(quote)])
    return None


def _rejection(row: _Row, side: Side | None) -> str:
    """Return why a row that did not become a record was rejected (the first reason)."""
    price, usd = row.price, row.amount
    if side is None:
        return f"unknown side {row.side!r}"
    if price is None or not is_positive_finite(price):
        return f"price {price!r} unusable"
    if usd is None or not is_positive_finite(usd):
        return f"amount {usd!r} unusable"
    if row.ts is None:
        return "no ts"
    return "not quoted in USD"  # the one check left: the symbol's asset


def parse_frame(frame: str | bytes, recv_ms: int) -> Parsed:
    """Parse one frame; the text `pong` and subscribe replies are control frames.

    The rows are read here without further calls (a call costs a tenth of a small frame's
    decode); a row that does not make a record is explained by `_rejection`.
    """
    if frame in ("pong", b"pong"):
        return Parsed([], control="pong")
    try:
        decoded = _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc
    if decoded.event == "error":
        raise FrameError(f"error {decoded.code}: {decoded.msg}")
    rows = decoded.data
    if rows is None:
        return Parsed([], control=f"{decoded.event or 'frame'} {decoded.msg}".strip())
    arg = decoded.arg
    market = arg.inst_type if arg is not None else ""
    records: list[Liquidation] = []
    parsed = Parsed(records)
    for row in rows:
        symbol = row.symbol
        side = _SIDE_TO_POSITION.get(row.side)
        asset = asset_of(symbol)
        price, usd, ts = row.price, row.amount, row.ts
        if (
            side is None
            or price is None
            or usd is None
            or ts is None
            or asset is None
            or not (0.0 < price < _INF and 0.0 < usd < _INF)
        ):
            parsed.reject(_rejection(row, side), symbol)
            continue
        base, factor = asset
        unit, qty = price / factor, usd / price * factor  # UNVERIFIED: amount taken as USD
        record = Liquidation(EXCHANGE, market, symbol, base, side, unit, qty, usd, ts, recv_ms)
        # Parsed.add's range checks (usd checked above), inline; add itself rejects with why.
        if 0.0 < unit < _INF and 0.0 < qty < _INF:
            records.append(record)
        else:
            parsed.add(record)
    return parsed
