"""The Deribit feed: trades of every future that carry a `liquidation` mark.

JSON-RPC over WebSocket. `trades.future.any.100ms` covers every future and perpetual; a trade
with `liquidation` "T" liquidated its taker (direction sell -> a long), "M" its maker (the
opposite side) and "MT" both: one long and one short event, each of the full amount. `amount`
is USD on inverse ("reversed") instruments and base units on linear ones, told apart by
`instrument_type` from `public/get_instruments`. `public/set_heartbeat` makes the server send
`test_request`s, each answered with `public/test` or the server closes the socket.
"""

from __future__ import annotations

import msgspec

from collectors.assets import unified_asset
from collectors.connection import ConnectionPolicy
from collectors.feed import Feed
from collectors.metadata import MetadataDocument
from collectors.outbox import Outbox
from collectors.parsing import UNDECODABLE, FirstSight, FrameError, Parsed, decode_error
from collectors.record import Coverage, Liquidation, Side

EXCHANGE = "deribit"
CHANNEL = "trades.future.any.100ms"

# (mark, taker direction) -> the positions liquidated: the taker's first, then the maker's.
_POSITIONS = {
    ("T", "sell"): (Side.LONG,),
    ("T", "buy"): (Side.SHORT,),
    ("M", "sell"): (Side.SHORT,),
    ("M", "buy"): (Side.LONG,),
    ("MT", "sell"): (Side.LONG, Side.SHORT),
    ("MT", "buy"): (Side.SHORT, Side.LONG),
}


class DeribitInstrument(msgspec.Struct, frozen=True, gc=False):
    """A future: its asset and whether `amount` counts USD (inverse) or base units."""

    base: str
    inverse: bool


class _Trade(msgspec.Struct, gc=False):
    trade_id: str | int
    instrument_name: str
    direction: str
    price: float
    amount: float
    timestamp: int
    liquidation: str | None = None


class _Params(msgspec.Struct, gc=False):
    channel: str | None = None
    data: list[_Trade] | None = None
    type: str | None = None  # heartbeat: "heartbeat" or "test_request"


class _Error(msgspec.Struct, gc=False):
    code: int | None = None
    message: str = ""


class _Frame(msgspec.Struct, gc=False):
    method: str | None = None
    params: _Params | None = None
    id: int | str | None = None
    error: _Error | None = None


_DECODER = msgspec.json.Decoder(_Frame)


class _RawInstrument(msgspec.Struct, gc=False):
    instrument_name: str
    base_currency: str
    instrument_type: str | None = None  # "reversed" or "linear"
    kind: str = "future"


class _Instruments(msgspec.Struct, gc=False):
    result: list[_RawInstrument]


_INSTRUMENTS_DECODER = msgspec.json.Decoder(_Instruments)


def parse_instruments(body: str | bytes) -> dict[str, DeribitInstrument]:
    """Read a `public/get_instruments` response; raise FrameError if unusable."""
    try:
        decoded = _INSTRUMENTS_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise decode_error(exc) from exc
    instruments = {
        row.instrument_name: DeribitInstrument(
            unified_asset(row.base_currency), row.instrument_type == "reversed"
        )
        for row in decoded.result
        if row.instrument_type in ("reversed", "linear")
    }
    if not instruments:
        raise FrameError("get_instruments lists no reversed or linear instrument")
    return instruments


def message(request_id: int, method: str, params: dict[str, object]) -> str:
    """Return one JSON-RPC request frame."""
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return msgspec.json.encode(body).decode()


TEST_REPLY = message(9, "public/test", {})


def _control(frame: _Frame) -> str:
    if frame.error is not None:
        raise FrameError(f"request {frame.id} failed: {frame.error.code} {frame.error.message}")
    if frame.method == "heartbeat":
        kind = frame.params.type if frame.params is not None else None
        return f"heartbeat {kind}"
    if frame.id is not None:
        return f"reply to request {frame.id}"
    raise FrameError(f"neither trades nor a reply (method {frame.method!r})")


def parse_trades(
    frame: str | bytes,
    recv_ms: int,
    instruments: dict[str, DeribitInstrument],
    seen: FirstSight,
) -> Parsed:
    """Parse one frame: the liquidation trades of a subscription push, or a control frame."""
    try:
        decoded = _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc
    params = decoded.params
    if decoded.method != "subscription" or params is None or params.data is None:
        return Parsed([], control=_control(decoded))
    parsed = Parsed([])
    for trade in params.data:
        if trade.liquidation is not None:
            _add_trade(parsed, trade, recv_ms, instruments, seen)
    if not parsed.records and parsed.rejected is None:
        # Most pushes hold ordinary trades only, or trades counted before a reconnect.
        parsed.control = f"no new liquidation in {len(params.data)} trades"
    return parsed


def _add_trade(
    parsed: Parsed,
    trade: _Trade,
    recv_ms: int,
    instruments: dict[str, DeribitInstrument],
    seen: FirstSight,
) -> None:
    name = trade.instrument_name
    instrument = instruments.get(name)
    if instrument is None:
        # Not marked as seen: the frame is parsed again once the instruments are refetched.
        parsed.reject("no instrument type for this name", name, unknown_instrument=True)
        return
    if not seen.first(trade.trade_id):
        return  # a reconnect or a rotation delivered this trade again
    sides = _POSITIONS.get((trade.liquidation, trade.direction))  # type: ignore[arg-type]
    if sides is None:
        parsed.reject(
            f"unknown liquidation {trade.liquidation!r} or direction {trade.direction!r}", name
        )
        return
    price = trade.price
    if instrument.inverse:
        usd, qty = trade.amount, trade.amount / price if price else 0.0
    else:
        usd, qty = trade.amount * price, trade.amount
    market = "inverse" if instrument.inverse else "linear"
    for side in sides:
        parsed.add(
            Liquidation(
                exchange=EXCHANGE,
                market=market,
                symbol=name,
                base=instrument.base,
                side=side,
                price=price,
                qty_base=qty,
                notional_usd=usd,
                ts_ms=trade.timestamp,
                recv_ms=recv_ms,
            )
        )


class DeribitFeed(Feed):
    """`trades.future.any.100ms`, liquidation trades only, valued with `get_instruments`."""

    feed_id = "deribit"
    exchange = EXCHANGE
    coverage = Coverage.COMPLETE  # every trade is published; liquidations are marked
    capture_source = "deribit-instruments"

    def __init__(
        self,
        url: str,
        rest_url: str,
        policy: ConnectionPolicy | None = None,
        heartbeat_s: int = 30,
    ) -> None:
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.heartbeat_s = heartbeat_s
        # The server asks for a test every heartbeat interval: two missed ones mean a dead socket.
        self.policy = policy or ConnectionPolicy(idle_timeout_s=2.5 * heartbeat_s)
        self.instruments: dict[str, DeribitInstrument] = {}
        self.outbox = self._outbox = Outbox()
        self._seen = FirstSight()

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Ask for heartbeats, then subscribe to every future's trades."""
        return [
            message(1, "public/set_heartbeat", {"interval": self.heartbeat_s}),
            message(2, "public/subscribe", {"channels": [CHANNEL]}),
        ]

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the one `get_instruments` document of every currency's futures."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=self.capture_source,
                url=f"{self.rest_url}/api/v2/public/get_instruments",
                params={"currency": "any", "kind": "future"},
                apply=self.apply_instruments,
            )
        ]

    def apply_instruments(self, body: str) -> str:
        """Install a `get_instruments` body; raise FrameError if it is unusable."""
        self.instruments = parse_instruments(body)
        inverse = sum(1 for i in self.instruments.values() if i.inverse)
        return f"{len(self.instruments)} instruments ({inverse} inverse)"

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame; answer a `test_request` through the outbox."""
        parsed = parse_trades(frame, recv_ms, self.instruments, self._seen)
        if parsed.control == "heartbeat test_request":
            self._outbox.put(0, [TEST_REPLY])
        return parsed
