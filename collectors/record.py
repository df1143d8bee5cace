"""The values collectors hand to aggregation: the one normalized liquidation record shared by
every exchange, a feed's up/down transitions, and a gap's history fetched over REST."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec


class Side(enum.StrEnum):
    """The POSITION that was force-closed (not the side of the closing order)."""

    LONG = "long"
    SHORT = "short"


class Coverage(enum.StrEnum):
    """How much of an exchange's liquidations a feed reports."""

    THROTTLED = "throttled"  # at most one event per symbol per interval: totals are a lower bound
    PARTIAL = "partial"  # documented as not the total, sampling undocumented (OKX)
    COMPLETE = "complete"  # every liquidation (Bybit allLiquidation)
    UNKNOWN = "unknown"  # the exchange does not say how much it pushes (HTX)


class Liquidation(msgspec.Struct, frozen=True, gc=False):
    """One forced liquidation, normalized across exchanges.

    `price` is per unit of `base`, `qty_base` is in `base` units and `notional_usd` is
    `qty_base * price` (or the fixed USD face value for inverse contracts). Stablecoin quotes
    (USDT, USDC) are counted as USD.
    """

    exchange: str  # "binance", "okx", "bybit"
    market: str  # "usdm", "coinm", "swap", "futures", "linear", "inverse"
    symbol: str  # raw instrument id as the exchange spells it
    base: str  # unified asset name: BTCUSDT, BTC-USD-SWAP, BTCUSD_PERP are all "BTC"
    side: Side
    price: float
    qty_base: float
    notional_usd: float
    ts_ms: int  # exchange event time
    recv_ms: int  # local receive time

    def identity(self) -> tuple[str, str, str, int, str, float, float]:
        """Return the natural key: equal for the same event delivered twice."""
        return (
            self.exchange,
            self.market,
            self.symbol,
            self.ts_ms,
            self.side.value,
            self.qty_base,
            self.price,
        )


@dataclass(frozen=True, slots=True)
class FeedStateChange:
    """A feed went up or down at `ts_ms`."""

    feed_id: str
    up: bool
    ts_ms: int
    reason: str


@dataclass(slots=True)
class HistoryBatch:
    """The records an exchange's REST history returned for a gap, and how far it reached."""

    records: list[Liquidation] = field(default_factory=list)
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    covered_from_ms: int = 0  # history was read back to here for every instrument asked


class HistorySource(Protocol):
    """A feed's REST history, for filling the gap an outage left (OKX keeps about a day)."""

    async def fetch(self, start_ms: int, end_ms: int, symbols: Iterable[str]) -> HistoryBatch:
        """Return the liquidations with start_ms <= ts <= end_ms of these instruments."""
        ...
