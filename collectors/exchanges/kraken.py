"""The Kraken Futures `trade` feed: the trades of type `liquidation` of every listed product.

One subscription names every product of `GET /derivatives/api/v3/instruments`; the
`trade_snapshot` sent on subscribe is history and is ignored. `side` is the taker's: sell is
taken as a long liquidated (what open-source clients do; unverified). PF_ quantities are in base
units; PI_ and FI_ quantities are 1-USD contracts (qty = USD / price). XBT is BTC.
"""

from __future__ import annotations

import re
from functools import lru_cache

import msgspec

from collectors.assets import unified_asset
from collectors.connection import ConnectionPolicy
from collectors.feed import Feed
from collectors.metadata import MetadataDocument
from collectors.outbox import Outbox
from collectors.parsing import UNDECODABLE, FrameError, Parsed, decode_error
from collectors.record import Coverage, Liquidation, Side

EXCHANGE = "kraken"
# Kraken asks for a ping at least every 60 s; the frame is not documented field by field.
PING = '{"event":"ping"}'

_TAKER_TO_POSITION = {"sell": Side.LONG, "buy": Side.SHORT}
# PF_XBTUSD, PI_ETHUSD, FI_XBTUSD_260327: prefix, asset, USD quote, optional expiry.
_PRODUCT = re.compile(r"^(PF|PI|FI)_([A-Z0-9]+?)USD(?:_[0-9]+)?$")


@lru_cache(maxsize=4096)
def product_asset(product_id: str) -> tuple[str, bool] | None:
    """Return (asset, quantity is USD contracts) for a USD product, or None for others."""
    match = _PRODUCT.match(product_id.upper())
    if match is None:
        return None
    return unified_asset(match.group(2)), match.group(1) != "PF"


class _Frame(msgspec.Struct, gc=False):
    feed: str | None = None
    event: str | None = None
    message: str | None = None
    product_id: str = ""
    side: str = ""
    type: str = ""
    time: int = 0
    qty: float = 0.0
    price: float = 0.0


_DECODER = msgspec.json.Decoder(_Frame)


class _RawInstrument(msgspec.Struct, gc=False):
    symbol: str
    tradeable: bool = True


class _Instruments(msgspec.Struct, gc=False):
    instruments: list[_RawInstrument]
    result: str = "success"


_INSTRUMENTS_DECODER = msgspec.json.Decoder(_Instruments)


def parse_instruments(body: str | bytes) -> list[str]:
    """Read the instrument list into the tradeable USD products; raise FrameError if unusable."""
    try:
        decoded = _INSTRUMENTS_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise decode_error(exc) from exc
    if decoded.result != "success":
        raise FrameError(f"instruments result {decoded.result!r}")
    products = sorted(
        row.symbol.upper()
        for row in decoded.instruments
        if row.tradeable and product_asset(row.symbol) is not None
    )
    if not products:
        raise FrameError("instruments lists no tradeable USD product")
    return products


def subscribe_message(products: list[str]) -> str:
    """Return the subscribe frame of these products' trades."""
    body = {"event": "subscribe", "feed": "trade", "product_ids": products}
    return msgspec.json.encode(body).decode()


def parse_trade(frame: str | bytes, recv_ms: int) -> Parsed:
    """Parse one frame: a liquidation trade becomes a record, anything else is control."""
    try:
        decoded = _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc
    if decoded.event is not None:
        if decoded.event in {"error", "alert"}:
            raise FrameError(f"{decoded.event}: {decoded.message}")
        return Parsed([], control=decoded.event)
    if decoded.feed != "trade":
        if decoded.feed is not None:
            return Parsed([], control=decoded.feed)  # trade_snapshot: history, not counted
        raise FrameError("neither a trade nor an event")
    if decoded.type != "liquidation":
        return Parsed([], control=f"trade of type {decoded.type}")
    parsed = Parsed([])
    product = decoded.product_id
    asset = product_asset(product)
    side = _TAKER_TO_POSITION.get(decoded.side)
    price = decoded.price
    if asset is None:
        parsed.reject("not a USD product", product)
    elif side is None:
        parsed.reject(f"unknown side {decoded.side!r}", product)
    elif not price > 0.0:
        parsed.reject(f"price {price!r} is not positive", product)
    else:
        base, usd_contracts = asset
        qty = decoded.qty / price if usd_contracts else decoded.qty
        parsed.add(
            Liquidation(
                exchange=EXCHANGE,
                market="inverse" if usd_contracts else "linear",
                symbol=product,
                base=base,
                side=side,
                price=price,
                qty_base=qty,
                notional_usd=decoded.qty if usd_contracts else decoded.qty * price,
                ts_ms=decoded.time,
                recv_ms=recv_ms,
            )
        )
    return parsed


class KrakenFuturesFeed(Feed):
    """`trade` of every listed product, liquidations only."""

    feed_id = "kraken-futures"
    exchange = EXCHANGE
    coverage = Coverage.UNKNOWN  # undocumented whether every liquidation trade is marked
    capture_source = "kraken-instruments"

    def __init__(
        self, url: str, rest_url: str, policy: ConnectionPolicy | None = None, ping_s: float = 30.0
    ) -> None:
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.policy = policy or ConnectionPolicy(
            app_ping=PING, app_ping_every_s=ping_s, idle_timeout_s=3 * ping_s
        )
        self.products: list[str] = []
        self._subscribed: set[str] | None = None  # None until a connection subscribed
        self.outbox = self._outbox = Outbox()

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the subscribe frame of every known product (none before the list loads)."""
        self._subscribed = set(self.products)
        return [subscribe_message(self.products)] if self.products else []

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the instrument list document."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=self.capture_source,
                url=f"{self.rest_url}/derivatives/api/v3/instruments",
                params={},
                apply=self.apply_instruments,
            )
        ]

    def apply_instruments(self, body: str) -> str:
        """Install the product list; subscribe the open connection to new products."""
        self.products = parse_instruments(body)
        new = [p for p in self.products if p not in (self._subscribed or ())]
        if new and self._subscribed is not None:
            self._subscribed.update(new)
            self._outbox.put(0, [subscribe_message(new)])
        return f"{len(self.products)} products"

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame."""
        return parse_trade(frame, recv_ms)
