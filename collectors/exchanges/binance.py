"""Decode Binance USDⓈ-M and COIN-M `forceOrder` frames into liquidation records.

Wire format (see the exchanges notes, sections 1 and 2): one event per frame, either bare
(`{"e":"forceOrder","E":..,"o":{..}}`) or wrapped by a combined stream (`{"stream":..,"data":..}`).
`o.S` is the side of the forced ORDER: SELL closes a long, BUY closes a short. Quantity is the
accumulated filled `z`, price the average fill `ap`, event time the trade time `o.T`.
"""

from __future__ import annotations

import msgspec

from collectors.assets import binance_usdm_base, split_multiplier
from collectors.connection import ConnectionPolicy
from collectors.feed import Feed
from collectors.metadata import MetadataDocument
from collectors.parsing import (
    UNDECODABLE,
    FrameError,
    Parsed,
    is_positive_finite,
)
from collectors.record import Coverage, Liquidation, Side

EXCHANGE = "binance"

_ORDER_SIDE_TO_POSITION = {"SELL": Side.LONG, "BUY": Side.SHORT}


class _Order(msgspec.Struct, gc=False):
    symbol: str = msgspec.field(name="s")
    side: str = msgspec.field(name="S")
    price: float = msgspec.field(name="p")
    trade_ms: int = msgspec.field(name="T")
    avg_price: float | None = msgspec.field(name="ap", default=None)
    filled: float | None = msgspec.field(name="z", default=None)
    quantity: float | None = msgspec.field(name="q", default=None)


class _Event(msgspec.Struct, gc=False):
    order: _Order = msgspec.field(name="o")
    event_type: str = msgspec.field(name="e", default="forceOrder")


class _Error(msgspec.Struct, gc=False):
    code: int | str | None = None
    msg: str = ""


class _Frame(msgspec.Struct, gc=False):
    # bare event
    order: _Order | None = msgspec.field(name="o", default=None)
    event_type: str | None = msgspec.field(name="e", default=None)
    # combined-stream envelope
    stream: str | None = None
    data: _Event | list[_Event] | None = None
    # replies to SUBSCRIBE / LIST_SUBSCRIPTIONS requests, and request errors
    id: int | str | None = None
    error: _Error | None = None


# strict=False: Binance sends numbers as JSON strings ("0.014"); lax mode parses them into floats.
_DECODER = msgspec.json.Decoder(_Frame | list[_Event], strict=False)


def _checked(event: _Event) -> _Order:
    if event.event_type != "forceOrder":
        raise FrameError(f"unexpected event type {event.event_type!r}")
    return event.order


def _orders(frame: str | bytes) -> list[_Order] | str:
    """Decode a frame into its forced orders, or a control description."""
    try:
        decoded = _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc
    if isinstance(decoded, list):
        return [_checked(event) for event in decoded]
    if decoded.order is not None:
        if decoded.event_type not in (None, "forceOrder"):
            raise FrameError(f"unexpected event type {decoded.event_type!r}")
        return [decoded.order]
    if decoded.data is not None:
        data = decoded.data
        return [_checked(e) for e in data] if isinstance(data, list) else [_checked(data)]
    if decoded.error is not None:
        raise FrameError(f"request error {decoded.error.code}: {decoded.error.msg}")
    if decoded.id is not None:
        return f"reply to request {decoded.id}"
    raise FrameError("neither an event nor a reply")


def _fill(order: _Order) -> tuple[float, float] | str:
    """Return (filled quantity, average price) or the reason they are unusable."""
    qty = order.filled if order.filled is not None else order.quantity
    if qty is None:
        return "no quantity (z or q)"
    if not is_positive_finite(qty):
        return f"quantity {qty!r} is not a positive finite number"
    price = order.avg_price
    if price is None or price == 0.0:
        price = order.price  # `ap` is "0" or absent: fall back to the order price
    if not is_positive_finite(price):
        return f"price {price!r} is not a positive finite number"
    return qty, price


def parse_usdm(frame: str | bytes, recv_ms: int) -> Parsed:
    """Parse a USDⓈ-M frame: quantities are in base units, prices in USDT or USDC."""
    orders = _orders(frame)
    if isinstance(orders, str):
        return Parsed([], control=orders)
    parsed = Parsed([])
    for order in orders:
        side = _ORDER_SIDE_TO_POSITION.get(order.side)
        fill = _fill(order)
        asset = binance_usdm_base(order.symbol)
        if side is None:
            parsed.reject(f"unknown order side {order.side!r}", order.symbol)
        elif isinstance(fill, str):
            parsed.reject(fill, order.symbol)
        elif asset is None:
            parsed.reject("not quoted in a USD stablecoin", order.symbol)
        else:
            qty, price = fill
            base, multiplier = asset
            parsed.add(
                Liquidation(
                    exchange=EXCHANGE,
                    market="usdm",
                    symbol=order.symbol,
                    base=base,
                    side=side,
                    price=price / multiplier,
                    qty_base=qty * multiplier,
                    notional_usd=qty * price,
                    ts_ms=order.trade_ms,
                    recv_ms=recv_ms,
                )
            )
    return parsed


class CoinmContract(msgspec.Struct, frozen=True, gc=False):
    """A COIN-M contract: its asset and the USD face value of one contract."""

    base: str  # unified asset name
    contract_size_usd: float
    multiplier: float = 1.0  # coins per unit of the listed asset (1000 for a "1000X" asset)


class _InfoSymbol(msgspec.Struct, gc=False):
    symbol: str
    base_asset: str = msgspec.field(name="baseAsset")
    contract_size: float = msgspec.field(name="contractSize")
    quote_asset: str = msgspec.field(name="quoteAsset", default="USD")


class _ExchangeInfo(msgspec.Struct, gc=False):
    symbols: list[_InfoSymbol]


_INFO_DECODER = msgspec.json.Decoder(_ExchangeInfo, strict=False)


def parse_coinm_exchange_info(body: str | bytes) -> dict[str, CoinmContract]:
    """Read `GET /dapi/v1/exchangeInfo` into symbol -> contract; raise FrameError if unusable."""
    try:
        info = _INFO_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise FrameError(f"exchangeInfo: {exc}") from exc
    contracts: dict[str, CoinmContract] = {}
    for item in info.symbols:
        if item.quote_asset == "USD" and is_positive_finite(item.contract_size):
            base, multiplier = split_multiplier(item.base_asset)
            contracts[item.symbol] = CoinmContract(base, item.contract_size, multiplier)
    if not contracts:
        raise FrameError("exchangeInfo lists no USD contracts with a positive contractSize")
    return contracts


def parse_coinm(frame: str | bytes, recv_ms: int, contracts: dict[str, CoinmContract]) -> Parsed:
    """Parse a COIN-M frame: `z` counts contracts of `contractSize` USD each."""
    orders = _orders(frame)
    if isinstance(orders, str):
        return Parsed([], control=orders)
    parsed = Parsed([])
    for order in orders:
        contract = contracts.get(order.symbol)
        if contract is None:
            parsed.reject("no contractSize for this symbol", order.symbol, unknown_instrument=True)
            continue
        side = _ORDER_SIDE_TO_POSITION.get(order.side)
        fill = _fill(order)
        if side is None:
            parsed.reject(f"unknown order side {order.side!r}", order.symbol)
        elif isinstance(fill, str):
            parsed.reject(fill, order.symbol)
        else:
            contracts_filled, price = fill
            notional = contracts_filled * contract.contract_size_usd
            multiplier = contract.multiplier
            parsed.add(
                Liquidation(
                    exchange=EXCHANGE,
                    market="coinm",
                    symbol=order.symbol,
                    base=contract.base,
                    side=side,
                    price=price / multiplier,
                    qty_base=notional / price * multiplier,
                    notional_usd=notional,
                    ts_ms=order.trade_ms,
                    recv_ms=recv_ms,
                )
            )
    return parsed


# Binance closes every connection after 24 h; rotate ten minutes earlier, new socket first.
_MAX_AGE_S = 23 * 3600 + 50 * 60


class BinanceUsdmFeed(Feed):
    """USDⓈ-M all-market `!forceOrder@arr`, subscribed by the URL's routed /market path."""

    feed_id = "binance-usdm"
    exchange = EXCHANGE
    coverage = Coverage.THROTTLED

    def __init__(self, url: str, policy: ConnectionPolicy | None = None) -> None:
        self.url = url
        # Across ~500 symbols some liquidation comes every few minutes; ten silent minutes
        # means a dead route (the legacy un-routed URL connects and never sends a thing).
        self.policy = policy or ConnectionPolicy(data_silence_s=600.0, max_age_s=_MAX_AGE_S)

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one USDⓈ-M frame."""
        return parse_usdm(frame, recv_ms)


class BinanceCoinmFeed(Feed):
    """COIN-M all-market `!forceOrder@arr`; contract sizes come from `/dapi/v1/exchangeInfo`."""

    feed_id = "binance-coinm"
    exchange = EXCHANGE
    coverage = Coverage.THROTTLED
    capture_source = "binance-coinm-exchangeinfo"

    def __init__(self, url: str, rest_url: str, policy: ConnectionPolicy | None = None) -> None:
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        # COIN-M is quieter than USDⓈ-M: an hour without a liquidation is possible but rare.
        self.policy = policy or ConnectionPolicy(data_silence_s=3600.0, max_age_s=_MAX_AGE_S)
        self.contracts: dict[str, CoinmContract] = {}

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the exchangeInfo document."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=self.capture_source,
                url=f"{self.rest_url}/dapi/v1/exchangeInfo",
                params={},
                apply=self.apply_exchange_info,
            )
        ]

    def apply_exchange_info(self, body: str) -> str:
        """Install an exchangeInfo body; raise FrameError if it is unusable."""
        self.contracts = parse_coinm_exchange_info(body)
        return f"{len(self.contracts)} contracts"

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one COIN-M frame."""
        return parse_coinm(frame, recv_ms, self.contracts)
