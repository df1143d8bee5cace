"""Define the one normalized liquidation record shared by every exchange."""

from __future__ import annotations

import enum

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
