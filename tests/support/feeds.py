"""Build every feed with its metadata installed from the fixtures, so valid frames make records."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from collectors.connection import FeedRunner
from collectors.exchanges.binance import BinanceCoinmFeed, BinanceUsdmFeed
from collectors.exchanges.bitfinex import BitfinexFeed
from collectors.exchanges.bitmex import BitmexFeed
from collectors.exchanges.bybit.feed import BybitFeed
from collectors.exchanges.deribit import DeribitFeed
from collectors.exchanges.kraken import KrakenFuturesFeed
from collectors.exchanges.okx.feed import OkxFeed
from collectors.feed import Feed
from tests.support.bybit import inverse_page, linear_page, pages
from tests.support.exchanges import BYBIT_INVERSE_FRAMES, coinm_exchange_info
from tests.support.fixtures import lines, text

FEED_IDS = ("binance-usdm", "binance-coinm", "okx", "bybit-linear", "bybit-inverse")
# Issue 15's venues that count each order, trade or position id once: fuzzed by their own tests
# (tests/unit/test_fuzz_venues_b.py), since a repeated event is not a duplicate record there.
ONCE_FEED_IDS = ("deribit", "bitmex", "bitfinex", "kraken-futures")

# Recorded frames that each yield records, and how many (OKX's CNPY frame is left out: that
# instrument is not in the instruments fixture).
_OKX = lines("okx_liquidation_orders.jsonl")
VALID_FRAMES: dict[str, list[str]] = {
    "binance-usdm": lines("binance_usdm_forceorder.jsonl"),
    "binance-coinm": lines("binance_coinm_forceorder.jsonl"),
    "okx": [frame for frame in _OKX if "CNPY-USDT-SWAP" not in frame],
    "bybit-linear": lines("bybit_all_liquidation.jsonl"),
    "bybit-inverse": BYBIT_INVERSE_FRAMES,
    "deribit": lines("deribit_trades.jsonl"),
    "bitmex": lines("bitmex_liquidation.jsonl")[:1],
    "bitfinex": lines("bitfinex_liq_global.jsonl")[2:3],
    "kraken-futures": lines("kraken_futures_trade.jsonl")[3:5],
}
# Acks, pongs and notices each feed takes as control frames.
CONTROL_FRAMES: dict[str, list[str]] = {
    "binance-usdm": lines("binance_ws_control.jsonl"),
    "binance-coinm": lines("binance_ws_control.jsonl"),
    "okx": [*lines("okx_ws_control.jsonl")[:2], "pong"],
    "bybit-linear": lines("bybit_ws_control.jsonl"),
    "bybit-inverse": lines("bybit_ws_control.jsonl"),
    "deribit": lines("deribit_ws_control.jsonl"),
    "bitmex": [
        "pong",
        '{"info":"Welcome to the BitMEX Realtime API.","version":"2.0.0"}',
        '{"success":true,"subscribe":"liquidation","request":{"op":"subscribe","args":["liquidation"]}}',
        lines("bitmex_liquidation.jsonl")[1],  # an update adds nothing
    ],
    "bitfinex": [*lines("bitfinex_liq_global.jsonl")[:2], lines("bitfinex_liq_global.jsonl")[3]],
    "kraken-futures": [
        *lines("kraken_futures_trade.jsonl")[:3],
        lines("kraken_futures_trade.jsonl")[5],  # an ordinary fill
    ],
}
# Error replies to a request: bad frames (the recorded OKX one; the others in the documented shape).
ERROR_FRAMES: dict[str, list[str]] = {
    "binance-usdm": ['{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":1}'],
    "binance-coinm": ['{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":1}'],
    "okx": lines("okx_ws_control.jsonl")[2:],
    "bybit-linear": [
        '{"success":false,"ret_msg":"error:handler not found","conn_id":"c","req_id":"0.1","op":"subscribe"}'
    ],
    "bybit-inverse": [
        '{"success":false,"ret_msg":"error:handler not found","conn_id":"c","req_id":"0.1","op":"subscribe"}'
    ],
    "deribit": ['{"jsonrpc":"2.0","id":3,"error":{"code":11050,"message":"bad_request"}}'],
    "bitmex": ['{"status":400,"error":"Unknown table: liquidations","meta":{},"request":{}}'],
    "bitfinex": ['{"event":"error","msg":"subscribe: dup","code":10301}'],
    "kraken-futures": ['{"event":"error","message":"Invalid product id"}'],
}
# A frame that yields only an event of an instrument without metadata.
UNKNOWN_INSTRUMENT_FRAMES: dict[str, str] = {
    "binance-coinm": VALID_FRAMES["binance-coinm"][0].replace("BTCUSD_200925", "XYZUSD_PERP"),
    "okx": next(frame for frame in _OKX if "CNPY-USDT-SWAP" in frame),
    "bybit-linear": VALID_FRAMES["bybit-linear"][0].replace("ROSEUSDT", "XYZUSDT"),
    "bybit-inverse": BYBIT_INVERSE_FRAMES[0].replace("BTCUSD", "XYZUSD"),
    "deribit": VALID_FRAMES["deribit"][0].replace("BTC-PERPETUAL", "XYZ-PERPETUAL"),
    "bitmex": VALID_FRAMES["bitmex"][0].replace("XBTUSD", "XYZUSD"),
}


def build_feed(feed_id: str, url: str = "ws://127.0.0.1:9/unused") -> Feed:
    """Return the feed with this id, its metadata installed from the fixtures."""
    rest = "http://127.0.0.1:9"  # never fetched: the metadata is installed here
    if feed_id == "binance-usdm":
        return BinanceUsdmFeed(url)
    if feed_id == "binance-coinm":
        coinm = BinanceCoinmFeed(url, rest)
        coinm.apply_exchange_info(coinm_exchange_info())
        return coinm
    if feed_id == "okx":
        okx = OkxFeed(url, rest)
        okx.apply_instruments(text("okx_instruments_swap.json"))
        return okx
    if feed_id in ONCE_FEED_IDS:
        return _build_once_feed(feed_id, url, rest)
    category = feed_id.removeprefix("bybit-")
    bybit = BybitFeed(category, url, rest)
    bybit.apply_instruments(pages(linear_page() if category == "linear" else inverse_page()))
    return bybit


def _build_once_feed(feed_id: str, url: str, rest: str) -> Feed:
    if feed_id == "deribit":
        deribit = DeribitFeed(url, rest)
        deribit.apply_instruments(text("deribit_instruments.json"))
        return deribit
    if feed_id == "bitmex":
        bitmex = BitmexFeed(url, rest)
        bitmex.apply_instruments(text("bitmex_instruments.json"))
        return bitmex
    if feed_id == "bitfinex":
        return BitfinexFeed(url)
    kraken = KrakenFuturesFeed(url, rest)
    kraken.apply_instruments(text("kraken_instruments.json"))
    return kraken


@contextlib.asynccontextmanager
async def running(runner: FeedRunner) -> AsyncIterator[FeedRunner]:
    """Run a feed's real connection loop for the duration of the block."""
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
