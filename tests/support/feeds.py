"""Build every feed with its metadata installed from the fixtures, so valid frames make records."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from collectors.connection import FeedRunner
from collectors.exchanges.binance import BinanceCoinmFeed, BinanceUsdmFeed
from collectors.exchanges.bybit.feed import BybitFeed
from collectors.exchanges.okx.feed import OkxFeed
from collectors.feed import Feed
from tests.support.bybit import inverse_page, linear_page, pages
from tests.support.exchanges import BYBIT_INVERSE_FRAMES, coinm_exchange_info
from tests.support.fixtures import lines, text

FEED_IDS = ("binance-usdm", "binance-coinm", "okx", "bybit-linear", "bybit-inverse")

# Recorded frames that each yield records, and how many (OKX's CNPY frame is left out: that
# instrument is not in the instruments fixture).
_OKX = lines("okx_liquidation_orders.jsonl")
VALID_FRAMES: dict[str, list[str]] = {
    "binance-usdm": lines("binance_usdm_forceorder.jsonl"),
    "binance-coinm": lines("binance_coinm_forceorder.jsonl"),
    "okx": [frame for frame in _OKX if "CNPY-USDT-SWAP" not in frame],
    "bybit-linear": lines("bybit_all_liquidation.jsonl"),
    "bybit-inverse": BYBIT_INVERSE_FRAMES,
}
# Acks, pongs and notices each feed takes as control frames.
CONTROL_FRAMES: dict[str, list[str]] = {
    "binance-usdm": lines("binance_ws_control.jsonl"),
    "binance-coinm": lines("binance_ws_control.jsonl"),
    "okx": [*lines("okx_ws_control.jsonl")[:2], "pong"],
    "bybit-linear": lines("bybit_ws_control.jsonl"),
    "bybit-inverse": lines("bybit_ws_control.jsonl"),
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
}
# A frame that yields only an event of an instrument without metadata.
UNKNOWN_INSTRUMENT_FRAMES: dict[str, str] = {
    "binance-coinm": VALID_FRAMES["binance-coinm"][0].replace("BTCUSD_200925", "XYZUSD_PERP"),
    "okx": next(frame for frame in _OKX if "CNPY-USDT-SWAP" in frame),
    "bybit-linear": VALID_FRAMES["bybit-linear"][0].replace("ROSEUSDT", "XYZUSDT"),
    "bybit-inverse": BYBIT_INVERSE_FRAMES[0].replace("BTCUSD", "XYZUSD"),
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
    category = feed_id.removeprefix("bybit-")
    bybit = BybitFeed(category, url, rest)
    bybit.apply_instruments(pages(linear_page() if category == "linear" else inverse_page()))
    return bybit


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
