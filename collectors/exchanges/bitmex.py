"""The BitMEX `liquidation` table: every liquidation order, valued by its contract type.

Each orderID counts once, at first sight (`partial` on subscribe or `insert`), with its
`leavesQty` then; `update` and `delete` follow the same order and add nothing. `side` is the
ORDER's: Sell closes a long. The table carries no time: the receive time is the event time (in
a replay, the capture line's). Inverse: leavesQty is USD; linear: base = leavesQty /
`underlyingToPositionMultiplier`; quanto: USD = leavesQty x multiplier / 1e8 x price x the XBT
price, taken from XBTUSD in the instrument list (no XBT price yet: the event is skipped).
"""

from __future__ import annotations

import math

import msgspec

from collectors.assets import unified_asset
from collectors.connection import ConnectionPolicy
from collectors.feed import Feed
from collectors.metadata import MetadataDocument
from collectors.parsing import UNDECODABLE, FirstSight, FrameError, Parsed, decode_error
from collectors.record import Coverage, Liquidation, Side

EXCHANGE = "bitmex"
XBT_REFERENCE = "XBTUSD"
SUBSCRIBE = '{"op":"subscribe","args":["liquidation"]}'
NO_XBT_PRICE = "quanto skipped: no XBT price known yet"

_ORDER_SIDE_TO_POSITION = {"Sell": Side.LONG, "Buy": Side.SHORT}
_INF = math.inf


class BitmexInstrument(msgspec.Struct, frozen=True, gc=False):
    """A contract: its asset, its type and the numbers that turn contracts into value."""

    base: str
    kind: str  # "inverse", "linear" or "quanto"
    multiplier: float = 0.0  # quanto: satoshis per contract per USD of price
    per_base: float = 0.0  # linear: contracts per unit of base (underlyingToPositionMultiplier)


class _Row(msgspec.Struct, gc=False):
    orderID: str
    symbol: str = ""
    side: str = ""
    price: float | None = None
    leavesQty: float | None = None


class _Frame(msgspec.Struct, gc=False):
    table: str | None = None
    action: str | None = None
    data: list[_Row] | None = None
    info: str | None = None
    success: bool | None = None
    subscribe: str | None = None
    error: str | None = None
    status: int | None = None


_DECODER = msgspec.json.Decoder(_Frame)


class _RawInstrument(msgspec.Struct, gc=False):
    symbol: str
    underlying: str = ""
    isInverse: bool = False
    isQuanto: bool = False
    multiplier: float | None = None
    underlyingToPositionMultiplier: float | None = None
    markPrice: float | None = None
    lastPrice: float | None = None


_INSTRUMENTS_DECODER = msgspec.json.Decoder(list[_RawInstrument])


def parse_instruments(body: str | bytes) -> tuple[dict[str, BitmexInstrument], float | None]:
    """Read `GET /api/v1/instrument/active` into the contracts and the XBT price, if listed."""
    try:
        rows = _INSTRUMENTS_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise decode_error(exc) from exc
    instruments: dict[str, BitmexInstrument] = {}
    xbt_price: float | None = None
    for row in rows:
        base = unified_asset(row.underlying)
        if row.symbol == XBT_REFERENCE:
            xbt_price = row.markPrice or row.lastPrice
        if row.isInverse:
            instruments[row.symbol] = BitmexInstrument(base, "inverse")
        elif row.isQuanto and row.multiplier:
            instruments[row.symbol] = BitmexInstrument(base, "quanto", multiplier=row.multiplier)
        elif not row.isQuanto and row.underlyingToPositionMultiplier:
            per_base = row.underlyingToPositionMultiplier
            instruments[row.symbol] = BitmexInstrument(base, "linear", per_base=per_base)
    if not instruments:
        raise FrameError("instrument/active lists no usable contract")
    return instruments, xbt_price


def _control(frame: _Frame) -> str:
    if frame.error is not None:
        raise FrameError(f"request failed: {frame.status} {frame.error}")
    if frame.success is not None:
        return f"subscribed {frame.subscribe}"
    if frame.info is not None:
        return "welcome"
    raise FrameError("neither the liquidation table nor a reply")


def _not_rows(frame: str | bytes, decoded: _Frame | None) -> Parsed:
    """Describe a frame that holds no new orders: a pong, a reply, an update or a delete."""
    if decoded is None:  # "pong" is the one frame that is not JSON
        return Parsed([], control="pong")
    if decoded.table is None or decoded.data is None:
        return Parsed([], control=_control(decoded))
    if decoded.table != "liquidation":
        raise FrameError(f"unexpected table {decoded.table!r}")
    return Parsed([], control=f"{decoded.action} of {len(decoded.data)} orders")


class BitmexFeed(Feed):
    """The `liquidation` table of every symbol, valued with `instrument/active`."""

    feed_id = "bitmex"
    exchange = EXCHANGE
    coverage = Coverage.COMPLETE  # every liquidation order, even one filled at once
    capture_source = "bitmex-instruments"

    def __init__(
        self, url: str, rest_url: str, policy: ConnectionPolicy | None = None, quiet_s: float = 5.0
    ) -> None:
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        # BitMEX: after 5 s without a message send "ping" and expect "pong" within 5 s.
        self.policy = policy or ConnectionPolicy(
            app_ping="ping", app_ping_after_idle_s=quiet_s, idle_timeout_s=2 * quiet_s
        )
        self.instruments: dict[str, BitmexInstrument] = {}
        self.xbt_price: float | None = None
        self._seen = FirstSight()

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the subscribe frame of the whole table."""
        return [SUBSCRIBE]

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the active instruments document."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=self.capture_source,
                url=f"{self.rest_url}/api/v1/instrument/active",
                params={},
                apply=self.apply_instruments,
            )
        ]

    def apply_instruments(self, body: str) -> str:
        """Install an instrument list and its XBT price; raise FrameError if it is unusable."""
        self.instruments, xbt_price = parse_instruments(body)
        if xbt_price is not None:
            self.xbt_price = xbt_price
        return f"{len(self.instruments)} instruments, XBT price {self.xbt_price}"

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame; the orders seen first here become records stamped `recv_ms`.

        A `partial` or `insert` is read here without further calls (a call costs a tenth of a
        frame's decode)."""
        try:
            decoded = _DECODER.decode(frame)
        except UNDECODABLE as exc:
            if frame in ("pong", b"pong"):
                return _not_rows(frame, None)
            raise FrameError(str(exc)) from exc
        rows = decoded.data
        if (
            rows is None
            or decoded.table != "liquidation"
            or decoded.action not in ("partial", "insert")
        ):
            return _not_rows(frame, decoded)
        records: list[Liquidation] = []
        parsed = Parsed(records)
        instruments, xbt_price, first = self.instruments, self.xbt_price, self._seen.first
        for row in rows:
            symbol = row.symbol
            instrument = instruments.get(symbol)
            side = _ORDER_SIDE_TO_POSITION.get(row.side)
            price, contracts = row.price, row.leavesQty
            if instrument is None:
                # Not marked as seen: the frame is parsed again once the instruments are refetched.
                parsed.reject("no contract type for this symbol", symbol, unknown_instrument=True)
            elif side is None:
                parsed.reject(f"unknown order side {row.side!r}", symbol)
            elif price is None or contracts is None or not (price > 0.0 and contracts > 0.0):
                parsed.reject(f"price {price!r} or leavesQty {contracts!r} unusable", symbol)
            elif not first(row.orderID):
                continue  # a reconnect's partial lists the open orders again
            else:
                kind = instrument.kind
                if kind == "inverse":
                    qty, usd = contracts / price, contracts
                elif kind == "linear":
                    qty = contracts / instrument.per_base
                    usd = qty * price
                elif xbt_price is None:
                    parsed.reject(NO_XBT_PRICE, symbol)
                    continue
                else:  # quanto: satoshis per contract per USD of price, valued at the XBT price
                    usd = contracts * instrument.multiplier / 1e8 * price * xbt_price
                    qty = usd / price
                # the table has no time: the receive time is the event time
                record = Liquidation(
                    EXCHANGE, kind, symbol, instrument.base, side, price, qty, usd, recv_ms, recv_ms
                )
                # Parsed.add's range checks, inline; add itself rejects with the reason.
                if 0.0 < price < _INF and 0.0 < qty < _INF and 0.0 < usd < _INF:
                    records.append(record)
                else:
                    parsed.add(record)
        if not records and parsed.rejected is None:
            parsed.control = f"{decoded.action} of {len(rows)} orders seen before"
        return parsed
