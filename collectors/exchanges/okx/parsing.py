"""Decode OKX v5 `liquidation-orders` frames and instrument lists into liquidation records.

One push can carry several instruments (`data[]`) and each several liquidations (`details[]`).
`sz` counts CONTRACTS: a linear contract is `ctVal * ctMult` units of the base coin, an inverse
contract is `ctVal * ctMult` USD. The position side is `posSide`; in net (one-way) mode
`posSide` is "net" and the ORDER side tells it: a forced sell closes a long.
"""

from __future__ import annotations

import msgspec

from collectors.assets import USD_QUOTES, split_multiplier
from collectors.parsing import (
    UNDECODABLE,
    FrameError,
    Parsed,
    is_positive_finite,
)
from collectors.record import Liquidation, Side

EXCHANGE = "okx"
CHANNEL = "liquidation-orders"
INST_TYPES = ("SWAP", "FUTURES")

_MARKETS = {"SWAP": "swap", "FUTURES": "futures"}
_POSITION_SIDES = {"long": Side.LONG, "short": Side.SHORT}
_NET_ORDER_SIDES = {"sell": Side.LONG, "buy": Side.SHORT}


class OkxInstrument(msgspec.Struct, frozen=True, gc=False):
    """What it takes to turn a contract count into base units and USD."""

    inst_id: str
    inst_type: str
    base: str  # unified asset name
    multiplier: float  # units of `base` per unit of the listed coin (1 unless "1000X")
    inverse: bool  # True: one contract is `contract_value` USD; False: `contract_value` coins
    contract_value: float  # ctVal * ctMult


class _Detail(msgspec.Struct, gc=False):
    price: float = msgspec.field(name="bkPx")
    size: float = msgspec.field(name="sz")
    ts_ms: int = msgspec.field(name="ts")
    side: str = ""
    pos_side: str = msgspec.field(name="posSide", default="")


class _Entry(msgspec.Struct, gc=False):
    inst_id: str = msgspec.field(name="instId")
    details: list[_Detail]
    inst_type: str = msgspec.field(name="instType", default="")


class _Arg(msgspec.Struct, gc=False):
    channel: str = ""
    inst_type: str = msgspec.field(name="instType", default="")


class _Frame(msgspec.Struct, gc=False):
    event: str | None = None
    code: str | int | None = None
    msg: str = ""
    arg: _Arg | None = None
    data: list[_Entry] | None = None


# strict=False: OKX sends every number, `ts` included, as a JSON string.
_DECODER = msgspec.json.Decoder(_Frame, strict=False)


def subscribe_message(inst_types: tuple[str, ...] = INST_TYPES) -> str:
    """Return the subscribe request for every instrument of the given types."""
    args = [{"channel": CHANNEL, "instType": inst_type} for inst_type in inst_types]
    return msgspec.json.encode({"op": "subscribe", "args": args}).decode()


class RequestRejected(FrameError):
    """An `error` event: OKX refused a request of ours (on this connection, the subscribe)."""


def _control(frame: _Frame) -> Parsed:
    event = frame.event
    if event == "error":
        raise RequestRejected(f"error event {frame.code}: {frame.msg}")
    if event == "notice":
        # 64008: "The connection will soon be closed for a service upgrade. Please reconnect."
        return Parsed([], control=f"notice {frame.code}: {frame.msg}", reconnect=True)
    if event in ("subscribe", "unsubscribe", "channel-conn-count"):
        inst_type = frame.arg.inst_type if frame.arg is not None else ""
        return Parsed([], control=f"{event} {inst_type}".strip())
    raise FrameError(f"unexpected event {event!r}")


def parse_liquidations(
    frame: str | bytes, recv_ms: int, instruments: dict[str, OkxInstrument]
) -> Parsed:
    """Parse one text frame (not the bare "pong") into records."""
    try:
        decoded = _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc
    if decoded.event is not None:
        return _control(decoded)
    if decoded.data is None:
        raise FrameError("neither an event nor data")
    if decoded.arg is not None and decoded.arg.channel not in ("", CHANNEL):
        raise FrameError(f"unexpected channel {decoded.arg.channel!r}")
    parsed = Parsed([])
    for entry in decoded.data:
        inst_id = entry.inst_id
        instrument = instruments.get(inst_id)
        for detail in entry.details:
            side = _POSITION_SIDES.get(detail.pos_side)
            if side is None and detail.pos_side in ("net", ""):
                side = _NET_ORDER_SIDES.get(detail.side)
            if instrument is None:
                parsed.reject("no instrument metadata (ctVal)", inst_id, unknown_instrument=True)
            elif side is None:
                parsed.reject(
                    f"unknown side posSide={detail.pos_side!r} side={detail.side!r}", inst_id
                )
            elif not is_positive_finite(detail.size):
                parsed.reject(f"size {detail.size!r} is not a positive finite number", inst_id)
            elif not is_positive_finite(detail.price):
                parsed.reject(f"price {detail.price!r} is not a positive finite number", inst_id)
            else:
                contracts = detail.size * instrument.contract_value
                if instrument.inverse:
                    notional = contracts
                    qty = contracts / detail.price
                else:
                    qty = contracts
                    notional = contracts * detail.price
                parsed.add(
                    Liquidation(
                        exchange=EXCHANGE,
                        market=_MARKETS[instrument.inst_type],
                        symbol=inst_id,
                        base=instrument.base,
                        side=side,
                        price=detail.price / instrument.multiplier,
                        qty_base=qty * instrument.multiplier,
                        notional_usd=notional,
                        ts_ms=detail.ts_ms,
                        recv_ms=recv_ms,
                    )
                )
    return parsed


class _InstrumentRow(msgspec.Struct, gc=False):
    inst_id: str = msgspec.field(name="instId")
    inst_type: str = msgspec.field(name="instType")
    ct_type: str = msgspec.field(name="ctType", default="")
    ct_val: str = msgspec.field(name="ctVal", default="")
    ct_mult: str = msgspec.field(name="ctMult", default="1")
    ct_val_ccy: str = msgspec.field(name="ctValCcy", default="")


class _InstrumentsBody(msgspec.Struct, gc=False):
    code: str | int
    data: list[_InstrumentRow]
    msg: str = ""


_INSTRUMENTS_DECODER = msgspec.json.Decoder(_InstrumentsBody)


def _positive(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if is_positive_finite(value) else None


def _instrument(row: _InstrumentRow) -> OkxInstrument | None:
    if row.inst_type not in _MARKETS:
        return None
    parts = row.inst_id.split("-")
    if len(parts) < 3:
        return None
    coin, quote = parts[0], parts[1]
    ct_val = _positive(row.ct_val)
    ct_mult = _positive(row.ct_mult)
    if ct_val is None or ct_mult is None:
        return None
    base, multiplier = split_multiplier(coin)
    if row.ct_type == "linear" and row.ct_val_ccy == coin and quote in USD_QUOTES:
        inverse = False
    elif row.ct_type == "inverse" and row.ct_val_ccy in USD_QUOTES:
        inverse = True
    else:
        return None  # a contract we cannot value in USD: never guess its size
    return OkxInstrument(row.inst_id, row.inst_type, base, multiplier, inverse, ct_val * ct_mult)


def parse_instruments(body: str | bytes) -> tuple[dict[str, OkxInstrument], int]:
    """Read `GET /api/v5/public/instruments` into (instId -> instrument, rows skipped).

    Rows of other types, or without a usable ctVal/ctType/ctValCcy, are skipped. A missing
    `ctMult` counts as 1 (its neutral value); a present but invalid one skips the row.
    """
    try:
        decoded = _INSTRUMENTS_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise FrameError(f"instruments: {exc}") from exc
    if str(decoded.code) != "0":
        raise FrameError(f"instruments: error {decoded.code}: {decoded.msg}")
    instruments: dict[str, OkxInstrument] = {}
    skipped = 0
    for row in decoded.data:
        instrument = _instrument(row)
        if instrument is None:
            skipped += 1
        else:
            instruments[instrument.inst_id] = instrument
    return instruments, skipped
