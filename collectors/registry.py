"""Build the configured feeds by id."""

from __future__ import annotations

from dataclasses import dataclass

from collectors.exchanges.binance import BinanceCoinmFeed, BinanceUsdmFeed
from collectors.exchanges.bybit.feed import BybitFeed
from collectors.exchanges.okx.feed import OkxFeed
from collectors.feed import Feed

FEED_IDS = ("binance-usdm", "binance-coinm", "okx", "bybit-linear", "bybit-inverse")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where each feed connects; every one is overridable (tests point them at local servers)."""

    binance_usdm_ws: str = "wss://fstream.binance.com/market/ws/!forceOrder@arr"
    binance_coinm_ws: str = "wss://dstream.binance.com/ws/!forceOrder@arr"
    binance_coinm_rest: str = "https://dapi.binance.com"
    okx_ws: str = "wss://ws.okx.com:8443/ws/v5/public"
    okx_rest: str = "https://www.okx.com"
    bybit_linear_ws: str = "wss://stream.bybit.com/v5/public/linear"
    bybit_inverse_ws: str = "wss://stream.bybit.com/v5/public/inverse"
    bybit_rest: str = "https://api.bybit.com"


def build_feed(feed_id: str, endpoints: Endpoints) -> Feed:
    """Return the feed with this id; raise ValueError for an unknown id."""
    if feed_id == "binance-usdm":
        return BinanceUsdmFeed(endpoints.binance_usdm_ws)
    if feed_id == "binance-coinm":
        return BinanceCoinmFeed(endpoints.binance_coinm_ws, endpoints.binance_coinm_rest)
    if feed_id == "okx":
        return OkxFeed(endpoints.okx_ws, endpoints.okx_rest)
    if feed_id == "bybit-linear":
        return BybitFeed("linear", endpoints.bybit_linear_ws, endpoints.bybit_rest)
    if feed_id == "bybit-inverse":
        return BybitFeed("inverse", endpoints.bybit_inverse_ws, endpoints.bybit_rest)
    raise ValueError(f"unknown feed {feed_id!r}; known feeds: {', '.join(FEED_IDS)}")


def build_feeds(feed_ids: tuple[str, ...] | list[str], endpoints: Endpoints) -> list[Feed]:
    """Return the feeds for these ids, in order."""
    return [build_feed(feed_id, endpoints) for feed_id in feed_ids]
