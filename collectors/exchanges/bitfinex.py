"""The Bitfinex `status` channel, key `liq:global`: every position liquidation, derivatives kept.

Rows are `["pos", POS_ID, MTS, _, SYMBOL, AMOUNT, BASE_PRICE, _, IS_MATCH, IS_MARKET_SOLD, _,
PRICE_ACQUIRED]`. Only IS_MATCH == 0 rows count (the others are the matching side of the same
liquidation), only perpetuals (`tBTCF0:USTF0`: BTC, settled in USDT), each POS_ID once whether
it came in a snapshot or an update. AMOUNT > 0 is a long; BASE_PRICE is the ENTRY price, so the
price is PRICE_ACQUIRED when present. The server sends `[CHAN_ID, "hb"]` every 15 s.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from collectors.assets import unified_asset
from collectors.connection import ConnectionPolicy
from collectors.feed import Feed
from collectors.parsing import UNDECODABLE, FirstSight, FrameError, Parsed
from collectors.record import Coverage, Liquidation, Side

EXCHANGE = "bitfinex"
SUBSCRIBE = '{"event":"subscribe","channel":"status","key":"liq:global"}'
_PERPETUAL = "F0:"
_USD_SETTLED = ":USTF0"  # USDT-margined perpetuals; USDT counts as USD
_INF = math.inf
_LONG, _SHORT = Side.LONG, Side.SHORT  # an enum member's lookup costs 70 ns here

_DECODER = msgspec.json.Decoder()


class _Row(msgspec.Struct, array_like=True, gc=False):
    kind: str
    pos_id: int
    mts: int
    _unused3: Any
    symbol: str
    amount: float
    base_price: float | None
    _unused7: Any
    is_match: int
    _is_market_sold: Any
    _unused10: Any
    price_acquired: float | None


class _Message(msgspec.Struct, array_like=True, gc=False):
    channel: int
    body: list[_Row] | str


# The usual shapes, typed and fast; anything else goes the generic way below.
_FAST_DECODER = msgspec.json.Decoder(_Message | dict[str, Any])


# symbol -> asset of the perpetuals seen so far (a plain dict: cheaper than lru_cache's call).
_ASSETS: dict[str, str] = {}


def perpetual_asset(symbol: str) -> str | None:
    """Return the asset of a USDT perpetual (`tBTCF0:USTF0` is BTC), or None for other symbols."""
    if not (symbol.startswith("t") and symbol.endswith(_USD_SETTLED)):
        return None
    head = symbol[1 : -len(_USD_SETTLED) + 1]  # "BTCF0:"
    if not head.endswith(_PERPETUAL) or len(head) == len(_PERPETUAL):
        return None
    asset = unified_asset(head[: -len(_PERPETUAL)])
    if len(_ASSETS) < 4096:  # bounded: the symbols come from the wire
        _ASSETS[symbol] = asset
    return asset


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _control(decoded: dict[str, Any]) -> str:
    event = decoded.get("event")
    if event == "error":
        raise FrameError(f"request failed: {decoded.get('code')} {decoded.get('msg')}")
    if event in ("info", "subscribed", "pong", "conf"):
        return str(event)
    raise FrameError(f"unexpected event {event!r}")


def _nothing_new(parsed: Parsed, rows: int) -> Parsed:
    if not parsed.records and parsed.rejected is None:
        # Margin pairs, matching sides and positions counted before a reconnect.
        parsed.control = f"no new perpetual liquidation in {rows} rows"
    return parsed


def _parse_generic(frame: str | bytes, recv_ms: int, seen: FirstSight) -> Parsed:
    try:
        decoded = _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc
    if isinstance(decoded, dict):
        return Parsed([], control=_control(decoded))
    if not isinstance(decoded, list) or len(decoded) < 2:
        raise FrameError("neither a channel message nor an event")
    body = decoded[1]
    if body == "hb":
        return Parsed([], control="hb")
    if not isinstance(body, list):
        raise FrameError(f"unexpected channel message {body!r}")
    rows = [body] if body and body[0] == "pos" else body
    parsed = Parsed([])
    for row in rows:
        _add_row(parsed, row, recv_ms, seen)
    return _nothing_new(parsed, len(rows))


def _add_row(parsed: Parsed, row: Any, recv_ms: int, seen: FirstSight) -> None:
    if not isinstance(row, list) or len(row) < 12 or row[0] != "pos":
        parsed.reject("not a position row")
        return
    symbol = row[4] if isinstance(row[4], str) else ""
    if row[8] != 0:
        return  # the matching side of a liquidation, not the liquidated position
    asset = perpetual_asset(symbol)
    if asset is None:
        return  # margin pairs and non-USDT derivatives are out of scope
    amount, mts = _number(row[5]), row[2]
    price = _number(row[11]) or _number(row[6])
    pos_id = row[1]
    if amount is None or amount == 0.0 or price is None or not isinstance(mts, int):
        parsed.reject(f"amount {row[5]!r}, price or time {mts!r} unusable", symbol)
    elif not isinstance(pos_id, int | str) or not seen.first(pos_id):
        return  # a snapshot after a reconnect repeats positions already counted
    else:
        qty = abs(amount)
        parsed.add(
            Liquidation(
                exchange=EXCHANGE,
                market="perpetual",
                symbol=symbol,
                base=asset,
                side=_LONG if amount > 0 else _SHORT,
                price=price,
                qty_base=qty,
                notional_usd=qty * price,
                ts_ms=mts,
                recv_ms=recv_ms,
            )
        )


class BitfinexFeed(Feed):
    """`status` / `liq:global`, the USDT perpetuals' liquidations."""

    feed_id = "bitfinex"
    exchange = EXCHANGE
    coverage = Coverage.UNKNOWN  # undocumented whether every liquidation is published

    def __init__(
        self, url: str, policy: ConnectionPolicy | None = None, hb_s: float = 15.0
    ) -> None:
        self.url = url
        # A heartbeat comes every 15 s: three missed ones mean a dead socket.
        self.policy = policy or ConnectionPolicy(idle_timeout_s=3 * hb_s)
        self._seen = FirstSight()

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the subscribe frame of the global liquidation status."""
        return [SUBSCRIBE]

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame: liquidation rows, a heartbeat or an event.

        The usual frame, one typed row, is handled here without further calls (the frames are
        small and a call costs a fifth of their decode); anything else goes the generic way.
        """
        try:
            fast = _FAST_DECODER.decode(frame)
        except UNDECODABLE:
            return _parse_generic(frame, recv_ms, self._seen)
        if fast.__class__ is not _Message or fast.body.__class__ is str:
            return _parse_generic(frame, recv_ms, self._seen)  # events and heartbeats: rare
        rows: list[_Row] = fast.body  # type: ignore[assignment]
        records: list[Liquidation] = []
        parsed = Parsed(records)
        first = self._seen.first
        for row in rows:
            symbol = row.symbol
            asset = _ASSETS.get(symbol) or perpetual_asset(symbol)
            if row.kind != "pos":
                parsed.reject("not a position row")
            elif row.is_match != 0 or asset is None:
                continue  # the matching side of a liquidation, or not a USDT perpetual
            else:
                amount = row.amount
                price = row.price_acquired or row.base_price
                if amount == 0.0 or price is None:
                    parsed.reject(f"amount {amount!r} or price {price!r} unusable", symbol)
                elif first(row.pos_id):
                    qty = amount if amount > 0.0 else -amount
                    usd = qty * price
                    record = Liquidation(
                        EXCHANGE,
                        "perpetual",
                        symbol,
                        asset,
                        _LONG if amount > 0.0 else _SHORT,
                        price,
                        qty,
                        usd,
                        row.mts,
                        recv_ms,
                    )
                    # Parsed.add's range checks, inline; add itself rejects with the reason.
                    if 0.0 < price < _INF and 0.0 < qty < _INF and 0.0 < usd < _INF:
                        records.append(record)
                    else:
                        parsed.add(record)
        return parsed if records else _nothing_new(parsed, len(rows))
