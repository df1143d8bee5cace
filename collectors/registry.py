"""Build the configured feeds by id: the one place that knows every exchange unit."""

from __future__ import annotations

from collections.abc import Callable

from collectors.endpoints import FEED_IDS, Endpoints
from collectors.exchanges.binance import BinanceCoinmFeed, BinanceUsdmFeed
from collectors.exchanges.bitfinex import BitfinexFeed
from collectors.exchanges.bitget.feed import BitgetFeed
from collectors.exchanges.bitmex import BitmexFeed
from collectors.exchanges.bybit.feed import BybitFeed
from collectors.exchanges.deribit import DeribitFeed
from collectors.exchanges.gate.feed import GateFeed
from collectors.exchanges.htx.feed import HtxFeed
from collectors.exchanges.kraken import KrakenFuturesFeed
from collectors.exchanges.okx.feed import OkxFeed
from collectors.feed import Feed

# Feed id -> how to build it from the endpoints; a new venue adds its feeds here and in FEED_IDS.
_BUILDERS: dict[str, Callable[[Endpoints], Feed]] = {
    "binance-usdm": lambda e: BinanceUsdmFeed(e.binance_usdm_ws),
    "binance-coinm": lambda e: BinanceCoinmFeed(e.binance_coinm_ws, e.binance_coinm_rest),
    "okx": lambda e: OkxFeed(e.okx_ws, e.okx_rest),
    "bybit-linear": lambda e: BybitFeed("linear", e.bybit_linear_ws, e.bybit_rest),
    "bybit-inverse": lambda e: BybitFeed("inverse", e.bybit_inverse_ws, e.bybit_rest),
    "gate-usdt": lambda e: GateFeed("usdt", e.gate_usdt_ws, e.gate_rest),
    "gate-btc": lambda e: GateFeed("btc", e.gate_btc_ws, e.gate_rest),
    "htx-linear": lambda e: HtxFeed("linear", e.htx_linear_ws, e.htx_rest),
    "htx-swap": lambda e: HtxFeed("swap", e.htx_swap_ws, e.htx_rest),
    "htx-futures": lambda e: HtxFeed("futures", e.htx_futures_ws, e.htx_rest),
    "bitget": lambda e: BitgetFeed(e.bitget_ws),
    "deribit": lambda e: DeribitFeed(e.deribit_ws, e.deribit_rest),
    "bitmex": lambda e: BitmexFeed(e.bitmex_ws, e.bitmex_rest),
    "bitfinex": lambda e: BitfinexFeed(e.bitfinex_ws),
    "kraken-futures": lambda e: KrakenFuturesFeed(e.kraken_futures_ws, e.kraken_futures_rest),
}


def build_feed(feed_id: str, endpoints: Endpoints) -> Feed:
    """Return the feed with this id; raise ValueError for an unknown id."""
    builder = _BUILDERS.get(feed_id)
    if builder is None:
        raise ValueError(f"unknown feed {feed_id!r}; known feeds: {', '.join(FEED_IDS)}")
    return builder(endpoints)


def build_feeds(feed_ids: tuple[str, ...] | list[str], endpoints: Endpoints) -> list[Feed]:
    """Return the feeds for these ids, in order."""
    return [build_feed(feed_id, endpoints) for feed_id in feed_ids]
