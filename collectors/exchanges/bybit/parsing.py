"""Decode Bybit v5 `allLiquidation.{symbol}` frames and instrument lists into liquidation records.

Wire format (see the exchanges notes, section 4): one topic per symbol, no all-symbols form, on
the linear and the inverse public sockets. A push batches every liquidation of its symbol since
the previous one (`data` is an array). `S` is the POSITION side: `Buy` means a LONG was
liquidated, the opposite letter from Binance's order side. `p` is the bankruptcy price. Linear
`v` is in base coin; inverse `v` counts contracts of 1 USD each. The deprecated
`liquidation.{symbol}` topic (one event per second, `data` an object) is never subscribed.

The symbol list comes from `GET /v5/market/instruments-info` (paginated by cursor, status
`Trading`).
"""

from __future__ import annotations

import math

import msgspec

from collectors.assets import USD_QUOTES, split_multiplier_affix
from collectors.parsing import (
    UNDECODABLE,
    FrameError,
    Parsed,
)
from collectors.record import Liquidation, Side

EXCHANGE = "bybit"
TOPIC_PREFIX = "allLiquidation."
CAPTURE_SOURCE = "bybit-instruments"

# `S` is the position side; Bybit: "When you receive a Buy update, this means that a long position
# has been liquidated".
_POSITION_SIDES = {"Buy": Side.LONG, "Sell": Side.SHORT}

_CONTRACT_TYPES = {
    "linear": ("LinearPerpetual", "LinearFutures"),
    "inverse": ("InversePerpetual", "InverseFutures"),
}
CATEGORIES = tuple(_CONTRACT_TYPES)
# instruments-info has no contract size. An inverse contract is 1 USD (Bybit's contract pages for
# BTCUSD and the quarterlies, as cited by the crypto-contract-value crate; aggr divides `v` by the
# price); a linear contract is 1 base coin.
_INVERSE_CONTRACT_USD = 1.0
_INF = math.inf


class BybitInstrument(msgspec.Struct, frozen=True, gc=False):
    """What it takes to value one Bybit contract: its asset and how `v` converts."""

    symbol: str
    base: str  # unified asset name
    multiplier: float  # coins per unit of the listed coin (1000 for "1000PEPE" and "SHIB1000")
    inverse: bool  # True: `v` counts 1-USD contracts; False: `v` is in the listed coin


class _Entry(msgspec.Struct, gc=False):
    ts_ms: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    side: str = msgspec.field(name="S")
    size: float = msgspec.field(name="v")
    price: float = msgspec.field(name="p")


class _ObjectData(msgspec.Struct, gc=False):
    """A `data` object instead of an array: the deprecated `liquidation.{symbol}` shape."""


class BybitFrame(msgspec.Struct, gc=False):
    """One decoded frame: a push (`topic`, `data`) or a reply to a request (`op`)."""

    topic: str | None = None
    data: list[_Entry] | _ObjectData | None = None
    op: str | None = None
    success: bool | None = None
    ret_msg: str = ""
    req_id: str = ""


# strict=False: Bybit sends `v` and `p` as JSON strings ("0.006"); lax mode reads them as floats.
_DECODER = msgspec.json.Decoder(BybitFrame, strict=False)


def decode_frame(frame: str | bytes) -> BybitFrame:
    """Decode one text frame; raise FrameError if it is not JSON of the expected shape."""
    try:
        return _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc


def _reply(frame: BybitFrame) -> Parsed:
    op = frame.op
    if op == "pong":  # the shape of other Bybit channels' pong: {"op":"pong","args":[...]}
        return Parsed([], control="pong")
    if op not in ("subscribe", "unsubscribe", "ping"):
        raise FrameError(f"unexpected op {op!r}")
    if frame.success is None:
        raise FrameError(f"{op} reply without `success`")
    if not frame.success:
        raise FrameError(f"{op} {frame.req_id or '(no req_id)'} failed: {frame.ret_msg}")
    if op == "ping":
        return Parsed([], control="pong")
    return Parsed([], control=f"{op} {frame.req_id}".strip())


def frame_records(
    frame: BybitFrame, recv_ms: int, instruments: dict[str, BybitInstrument]
) -> Parsed:
    """Turn a decoded frame into records (or a control description); raise FrameError if bad."""
    if frame.op is not None:
        return _reply(frame)
    topic = frame.topic
    if topic is None:
        raise FrameError("neither a push nor a reply")
    if not topic.startswith(TOPIC_PREFIX):
        if topic.startswith("liquidation."):
            raise FrameError(f"deprecated topic {topic!r}: not subscribed, not parsed")
        raise FrameError(f"unexpected topic {topic!r}")
    data = frame.data
    if not isinstance(data, list):
        raise FrameError(f"{topic}: `data` is not an array")
    records: list[Liquidation] = []
    parsed = Parsed(records)
    for entry in data:
        symbol, size, price = entry.symbol, entry.size, entry.price
        instrument = instruments.get(symbol)
        side = _POSITION_SIDES.get(entry.side)
        if instrument is None:
            parsed.reject("no instrument metadata", symbol, unknown_instrument=True)
        elif side is None:
            parsed.reject(f"unknown position side {entry.side!r}", symbol)
        elif not 0.0 < size < _INF:
            parsed.reject(f"size {size!r} is not a positive finite number", symbol)
        elif not 0.0 < price < _INF:
            parsed.reject(f"price {price!r} is not a positive finite number", symbol)
        else:
            multiplier = instrument.multiplier
            if instrument.inverse:
                notional = size * _INVERSE_CONTRACT_USD
                qty = notional / price
            else:
                qty = size
                notional = size * price
            unit, amount, base = price / multiplier, qty * multiplier, instrument.base
            market = "inverse" if instrument.inverse else "linear"
            # Positional (the fields' order of Liquidation): cheaper than keywords.
            record = Liquidation(
                EXCHANGE, market, symbol, base, side, unit, amount, notional, entry.ts_ms, recv_ms
            )
            # Parsed.add's range checks, inline; add itself rejects with the reason.
            if 0.0 < unit < _INF and 0.0 < amount < _INF and 0.0 < notional < _INF:
                records.append(record)
            else:
                parsed.add(record)
    return parsed


def parse_liquidations(
    frame: str | bytes, recv_ms: int, instruments: dict[str, BybitInstrument]
) -> Parsed:
    """Parse one frame of either socket; a failed reply or a foreign topic raises FrameError."""
    return frame_records(decode_frame(frame), recv_ms, instruments)


# --- instruments-info ---------------------------------------------------------------------------


class _InstrumentRow(msgspec.Struct, gc=False):
    symbol: str
    contract_type: str = msgspec.field(name="contractType", default="")
    status: str = ""
    base_coin: str = msgspec.field(name="baseCoin", default="")
    quote_coin: str = msgspec.field(name="quoteCoin", default="")


class _InstrumentsResult(msgspec.Struct, gc=False):
    category: str = ""
    rows: list[_InstrumentRow] = msgspec.field(name="list", default_factory=list)
    # Published fixtures carry `"nextPageCursor": null` on the last page: that ends paging too.
    next_page_cursor: str | None = msgspec.field(name="nextPageCursor", default="")


class _InstrumentsPage(msgspec.Struct, gc=False):
    ret_code: int = msgspec.field(name="retCode")
    ret_msg: str = msgspec.field(name="retMsg", default="")
    result: _InstrumentsResult | None = None


_PAGE_DECODER = msgspec.json.Decoder(_InstrumentsPage)
_PAGES_DECODER = msgspec.json.Decoder(list[_InstrumentsPage])


def _checked(page: _InstrumentsPage) -> _InstrumentsResult:
    if page.ret_code != 0:
        raise FrameError(f"instruments-info: error {page.ret_code}: {page.ret_msg}")
    if page.result is None:
        raise FrameError("instruments-info: no `result`")
    return page.result


def next_page_params(body: str) -> dict[str, str] | None:
    """Return the query parameters of the page after this one, or None after the last page."""
    try:
        result = _checked(_PAGE_DECODER.decode(body))
    except msgspec.DecodeError as exc:
        raise FrameError(f"instruments-info: {exc}") from exc
    if not result.next_page_cursor or not result.rows:
        return None
    return {"cursor": result.next_page_cursor}


def _instrument(row: _InstrumentRow, category: str) -> BybitInstrument | None:
    if row.status != "Trading" or row.contract_type not in _CONTRACT_TYPES[category]:
        return None
    if not row.base_coin:
        return None
    inverse = category == "inverse"
    if inverse and row.quote_coin != "USD":
        return None  # a contract we cannot value in USD: never guess its size
    if not inverse and row.quote_coin not in USD_QUOTES:
        return None
    base, multiplier = split_multiplier_affix(row.base_coin)
    return BybitInstrument(row.symbol, base, multiplier, inverse)


def parse_instruments(body: str | bytes, category: str) -> tuple[dict[str, BybitInstrument], int]:
    """Read the pages of `instruments-info` (a JSON array of page bodies) for one category.

    Return (symbol -> instrument, rows skipped): rows not `Trading`, of another contract type or
    not quoted in USD are skipped. Raise FrameError for an error page, a page of another
    category, or a listing without a single usable instrument.
    """
    try:
        pages = _PAGES_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise FrameError(f"instruments-info pages: {exc}") from exc
    instruments: dict[str, BybitInstrument] = {}
    skipped = 0
    for page in pages:
        result = _checked(page)
        if result.category not in ("", category):
            raise FrameError(f"instruments-info for {result.category!r}, not {category!r}")
        for row in result.rows:
            instrument = _instrument(row, category)
            if instrument is None:
                skipped += 1
            else:
                instruments[instrument.symbol] = instrument
    if not instruments:
        raise FrameError(f"instruments-info lists no trading {category} contract valued in USD")
    return instruments, skipped
