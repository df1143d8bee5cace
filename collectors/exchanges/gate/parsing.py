"""Decode Gate futures `futures.public_liquidates` frames and contract lists into records.

Wire format (venues notes, Gate): `result` is one row (live, 2026-08) or a list of rows (the doc;
every liquidation of the 1 s window since 2026-08-20). A row's `size` is signed contracts of the
liquidation ORDER: size < 0 means a LONG was liquidated. The REST `liq_orders` endpoint uses the
opposite sign (the user's position): nothing here is shared with it. USDT settle: one contract is
`quanto_multiplier` of the base coin; BTC settle (inverse): one contract is 1 USD.
"""

from __future__ import annotations

import msgspec

from collectors.assets import split_multiplier
from collectors.parsing import UNDECODABLE, FrameError, Parsed, is_positive_finite
from collectors.record import Liquidation, Side

EXCHANGE = "gate"
SETTLES = ("usdt", "btc")
CHANNEL = "futures.public_liquidates"
# A row `time` at or above this is in milliseconds (since 2026-08-20), below it in seconds.
_MS_THRESHOLD = 1_000_000_000_000
_INF = float("inf")
_LONG, _SHORT = Side.LONG, Side.SHORT


class GateContract(msgspec.Struct, frozen=True, gc=False):
    """A Gate contract: its asset, how many coins one listed unit is, and its contract size."""

    base: str
    multiplier: float  # coins per unit of the listed asset (1000 for a "1000X" asset)
    quanto_multiplier: float  # base units per contract (USDT settle); 0 for BTC settle


class _Row(msgspec.Struct, gc=False):
    # All optional: an ack's `result` ({"status":"success"}) decodes to an empty row.
    contract: str = ""
    size: float | None = None
    price: float | None = None
    time_ms: int | None = None
    time: float | None = None


class _Error(msgspec.Struct, gc=False):
    code: int | str | None = None
    message: str = ""


class _Frame(msgspec.Struct, gc=False):
    channel: str = ""
    event: str = ""
    time_ms: int | None = None
    result: list[_Row] | _Row | None = None
    error: _Error | None = None


# strict=False: with `X-Gate-Size-Decimal: 1` sizes and prices are JSON strings.
_DECODER = msgspec.json.Decoder(_Frame, strict=False)


def row_time_ms(row: _Row, envelope_ms: int | None) -> int | None:
    """Return the row's time: `time_ms`, else `time` (ms or s), else the envelope's `time_ms`."""
    if row.time_ms is not None:
        return row.time_ms
    if row.time is not None and is_positive_finite(row.time):
        seconds = row.time < _MS_THRESHOLD
        return int(row.time * 1000) if seconds else int(row.time)
    return envelope_ms


def _not_an_update(decoded: _Frame) -> Parsed:
    """Describe a frame that is no liquidation update; raise FrameError for an error."""
    if decoded.error is not None:
        raise FrameError(f"error {decoded.error.code}: {decoded.error.message}")
    if decoded.channel != CHANNEL or decoded.event != "update":
        return Parsed([], control=f"{decoded.channel or 'frame'} {decoded.event or ''}".strip())
    raise FrameError("update without a result")


def _unusable(row: _Row) -> str | None:
    """Return why a row's size or price cannot make a record, or None if both are usable."""
    size, price = row.size, row.price
    if size is None or not is_positive_finite(abs(size)):
        return f"size {size!r} unusable"
    if price is None or not is_positive_finite(price):
        return f"price {price!r} unusable"
    return None


def parse_frame(
    frame: str | bytes, recv_ms: int, settle: str, contracts: dict[str, GateContract]
) -> Parsed:
    """Parse one frame of the `settle` socket; a contract missing from the list is unknown.

    The work is inline (no helper call per frame or row): this runs for every event.
    """
    try:
        update = _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc
    result = update.result
    if (
        update.event != "update"
        or update.channel != CHANNEL
        or update.error is not None
        or result is None
    ):
        return _not_an_update(update)
    records: list[Liquidation] = []
    parsed = Parsed(records)
    inverse = settle == "btc"
    for row in result if isinstance(result, list) else (result,):
        name, contract = row.contract, contracts.get(row.contract)
        ts_ms = row.time_ms if row.time_ms is not None else row_time_ms(row, update.time_ms)
        size, price = row.size, row.price
        if contract is None:
            parsed.reject("no contract in the contract list", name, unknown_instrument=bool(name))
        elif ts_ms is None:
            parsed.reject("no time", name)
        elif (
            size is None
            or price is None
            or not (0.0 < (contracts_n := size if size > 0 else -size) < _INF)
            or not 0.0 < price < _INF
        ):
            parsed.reject(_unusable(row) or "size or price unusable", name)
        else:
            if inverse:  # one contract is 1 USD
                usd = contracts_n
                qty = usd / price
            else:
                qty = contracts_n * contract.quanto_multiplier
                usd = qty * price
            factor, side = contract.multiplier, _LONG if size < 0 else _SHORT
            unit, amount = price / factor, qty * factor
            # Positional: the fields' order of Liquidation (exchange, market, symbol, base,
            # side, price, qty_base, notional_usd, ts_ms, recv_ms); cheaper than keywords.
            record = Liquidation(
                EXCHANGE, settle, name, contract.base, side, unit, amount, usd, ts_ms, recv_ms
            )
            # Parsed.add's range checks, inline; add itself rejects with the reason.
            if 0.0 < unit < _INF and 0.0 < amount < _INF and 0.0 < usd < _INF:
                records.append(record)
            else:
                parsed.add(record)
    return parsed


class _ContractRow(msgspec.Struct, gc=False):
    name: str
    quanto_multiplier: float | None = None
    in_delisting: bool = False


_CONTRACTS_DECODER = msgspec.json.Decoder(list[_ContractRow], strict=False)


def parse_contracts(body: str | bytes, settle: str) -> dict[str, GateContract]:
    """Read `GET /api/v4/futures/{settle}/contracts`; raise FrameError if unusable."""
    try:
        rows = _CONTRACTS_DECODER.decode(body)
    except UNDECODABLE as exc:
        raise FrameError(f"contracts: {exc}") from exc
    contracts: dict[str, GateContract] = {}
    quote = "_" + settle.upper() if settle == "usdt" else "_USD"
    for row in rows:
        if not row.name.endswith(quote):
            continue  # a contract we cannot value in USD: never guess its size
        base, multiplier = split_multiplier(row.name[: -len(quote)])
        if settle == "btc":
            contracts[row.name] = GateContract(base, multiplier, 0.0)
        elif row.quanto_multiplier is not None and is_positive_finite(row.quanto_multiplier):
            contracts[row.name] = GateContract(base, multiplier, row.quanto_multiplier)
    if not contracts:
        raise FrameError(f"contracts: no usable {settle} contract")
    return contracts
