"""Decode HTX `public.$contract_code.liquidation_orders` frames and contract lists into records.

Wire format (venues notes, HTX): frames arrive gzip-compressed; the connection loop inflates them
before they get here. `direction` is the liquidation ORDER's: sell means a LONG was liquidated.
USDT-M (linear): `amount` is base, `trade_turnover` the USD notional. Coin-M swaps and futures:
`volume` contracts of `contract_size` USD each (from the contract list). Time `created_at` (ms).
The server pings (`{"op":"ping","ts":..}`); the answer echoes `ts` exactly, string or number.
"""

from __future__ import annotations

import msgspec

from collectors.assets import split_multiplier
from collectors.parsing import UNDECODABLE, FrameError, Parsed, is_positive_finite
from collectors.record import Liquidation, Side

EXCHANGE = "htx"
MARKETS = ("linear", "swap", "futures")
_DIRECTION_TO_POSITION = {"sell": Side.LONG, "buy": Side.SHORT}


class _Row(msgspec.Struct, gc=False):
    contract_code: str = ""
    symbol: str = ""
    direction: str = ""
    volume: float | None = None
    price: float | None = None
    created_at: int | None = None
    amount: float | None = None
    trade_turnover: float | None = None


class _Frame(msgspec.Struct, gc=False):
    op: str = ""
    topic: str = ""
    ts: int | str | None = None
    data: list[_Row] | None = None
    err_code: int | str | None = msgspec.field(name="err-code", default=None)
    err_msg: str = msgspec.field(name="err-msg", default="")


_DECODER = msgspec.json.Decoder(_Frame, strict=False)
_ENCODER = msgspec.json.Encoder()


def pong(ts: int | str | None) -> str:
    """Return the answer to a ping: its `ts` echoed as it came (a string stays a string)."""
    return _ENCODER.encode({"op": "pong", "ts": ts}).decode()


def _control(decoded: _Frame) -> Parsed:
    if decoded.op == "ping":
        return Parsed([], control="ping", reply=pong(decoded.ts))
    if decoded.err_code not in (None, 0, "0"):
        raise FrameError(f"{decoded.op} error {decoded.err_code}: {decoded.err_msg}")
    return Parsed([], control=f"{decoded.op or 'frame'} {decoded.topic}".strip())


def _linear(row: _Row, price: float) -> tuple[float, float] | str:
    qty, usd = row.amount, row.trade_turnover
    if qty is None or not is_positive_finite(qty):
        return f"amount {qty!r} unusable"
    if usd is None or not is_positive_finite(usd):
        return f"trade_turnover {usd!r} unusable"
    return qty, usd


def _coin_margined(row: _Row, price: float, contract_size: float) -> tuple[float, float] | str:
    volume = row.volume
    if volume is None or not is_positive_finite(volume):
        return f"volume {volume!r} unusable"
    usd = volume * contract_size
    return usd / price, usd


def _build(
    row: _Row, market: str, contract_sizes: dict[str, float], recv_ms: int
) -> Liquidation | str:
    """Return the record of one row, an empty string for an unknown contract, or a reason."""
    side = _DIRECTION_TO_POSITION.get(row.direction)
    price = row.price
    if side is None:
        return f"unknown direction {row.direction!r}"
    if price is None or not is_positive_finite(price):
        return f"price {price!r} unusable"
    if row.created_at is None:
        return "no created_at"
    if market == "linear":
        amounts = _linear(row, price)
    else:
        size = contract_sizes.get(row.contract_code)
        if size is None and market == "futures":
            size = contract_sizes.get(row.symbol)  # a new quarter: its symbol's contract size
        if size is None:
            return ""
        amounts = _coin_margined(row, price, size)
    if isinstance(amounts, str):
        return amounts
    qty, usd = amounts
    base, factor = split_multiplier(row.symbol or row.contract_code.split("-")[0])
    return Liquidation(
        exchange=EXCHANGE,
        market=market,
        symbol=row.contract_code,
        base=base,
        side=side,
        price=price / factor,
        qty_base=qty * factor,
        notional_usd=usd,
        ts_ms=row.created_at,
        recv_ms=recv_ms,
    )


def parse_frame(
    frame: str | bytes, recv_ms: int, market: str, contract_sizes: dict[str, float]
) -> Parsed:
    """Parse one inflated frame of a `market` socket (coin-M needs the contract sizes)."""
    try:
        decoded = _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc
    if decoded.op != "notify":
        return _control(decoded)
    if decoded.data is None:
        raise FrameError("notify without data")
    parsed = Parsed([])
    for row in decoded.data:
        built = _build(row, market, contract_sizes, recv_ms)
        if isinstance(built, Liquidation):
            parsed.add(built)
        elif built:
            parsed.reject(built, row.contract_code)
        else:
            reason = "no contract_size in the contract list"
            parsed.reject(reason, row.contract_code, unknown_instrument=bool(row.contract_code))
    return parsed


class _ContractRow(msgspec.Struct, gc=False):
    contract_code: str
    symbol: str = ""
    contract_size: float | None = None


class _ContractInfo(msgspec.Struct, gc=False):
    status: str = ""
    data: list[_ContractRow] | None = None
    err_msg: str = msgspec.field(name="err_msg", default="")


_CONTRACTS_DECODER = msgspec.json.Decoder(_ContractInfo, strict=False)


def parse_contract_info(body: str | bytes) -> dict[str, float]:
    """Read a `*_contract_info` body into contract (and symbol) -> contract_size.

    Coin-M futures topics are keyed by symbol (`public.BTC.liquidation_orders`), so every
    symbol maps to its contract size too. Raise FrameError if the body is unusable.
    """
    try:
        info = _CONTRACTS_DECODER.decode(body)
    except UNDECODABLE as exc:
        raise FrameError(f"contract_info: {exc}") from exc
    if info.status != "ok" or not info.data:
        raise FrameError(f"contract_info: status {info.status!r} {info.err_msg}".strip())
    sizes: dict[str, float] = {}
    for row in info.data:
        size = row.contract_size
        if size is not None and is_positive_finite(size):
            sizes[row.contract_code] = size
            if row.symbol:
                sizes.setdefault(row.symbol, size)
    if not sizes:
        raise FrameError("contract_info: no contract with a positive contract_size")
    return sizes
