"""Build every feed with its metadata installed from the fixtures, so valid frames make records."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from collectors import endpoints
from collectors.connection import FeedRunner
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
from tests.support.bybit import inverse_page, linear_page, pages
from tests.support.exchanges import BYBIT_INVERSE_FRAMES, coinm_exchange_info
from tests.support.fixtures import lines, text

_GATE = lines("gate_public_liquidates.jsonl")
_GATE_SHAPES = lines("gate_public_liquidates_shapes.jsonl")
_HTX = lines("htx_liquidation_orders.jsonl")
_HTX_COINM = lines("htx_coinm_liquidation_orders.jsonl")
# Single-row pushes first: the fault tests count one liquidation per frame.
_GATE_BTC_ONE = json.dumps(
    {**json.loads(_GATE_SHAPES[1]), "result": json.loads(_GATE_SHAPES[1])["result"][:1]},
    separators=(",", ":"),
)
_GATE_ERROR = _GATE_SHAPES[4]
_HTX_ERROR = '{"op":"sub","topic":"public.*.liquidation_orders","err-code":2014,"err-msg":"x"}'
_BITGET_ERROR = '{"event":"error","code":30001,"msg":"instType does not exist"}'
# Issue 15's venues that count each order, trade or position id once: fuzzed by their own tests
# (tests/unit/test_fuzz_venues_b.py), since a repeated event is not a duplicate record there.
ONCE_FEED_IDS = ("deribit", "bitmex", "bitfinex", "kraken-futures")
# Every other feed: fuzzed by the shared tests (tests/unit/test_fuzz_parsers.py).
FEED_IDS = tuple(feed for feed in endpoints.FEED_IDS if feed not in ONCE_FEED_IDS)

# Recorded frames that each yield records, and how many (OKX's CNPY frame is left out: that
# instrument is not in the instruments fixture).
_OKX = lines("okx_liquidation_orders.jsonl")
VALID_FRAMES: dict[str, list[str]] = {
    "binance-usdm": lines("binance_usdm_forceorder.jsonl"),
    "binance-coinm": lines("binance_coinm_forceorder.jsonl"),
    "okx": [frame for frame in _OKX if "CNPY-USDT-SWAP" not in frame],
    "bybit-linear": lines("bybit_all_liquidation.jsonl"),
    "bybit-inverse": BYBIT_INVERSE_FRAMES,
    "gate-usdt": [_GATE[1], _GATE[0], _GATE_SHAPES[0]],
    "gate-btc": [_GATE_BTC_ONE, _GATE_SHAPES[1]],
    "htx-linear": _HTX[:1],
    "htx-swap": _HTX_COINM[:1],
    "htx-futures": _HTX_COINM[1:],
    "bitget": lines("bitget_uta_liquidation.jsonl"),
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
    "gate-usdt": _GATE_SHAPES[2:4],
    "gate-btc": _GATE_SHAPES[2:4],
    "htx-linear": _HTX[1:],
    "htx-swap": _HTX[1:],
    "htx-futures": _HTX[1:],
    "bitget": [
        '{"event":"subscribe","arg":{"instType":"usdt-futures","topic":"liquidation"}}',
        "pong",
    ],
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
    "gate-usdt": [_GATE_ERROR],
    "gate-btc": [_GATE_ERROR],
    "htx-linear": [_HTX_ERROR],
    "htx-swap": [_HTX_ERROR],
    "htx-futures": [_HTX_ERROR],
    "bitget": [_BITGET_ERROR],
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
    "gate-usdt": _GATE[1].replace("BTC_USDT", "XYZ_USDT"),
    "gate-btc": _GATE_BTC_ONE.replace("BTC_USD", "XYZ_USD"),
    "htx-swap": _HTX_COINM[0].replace("BTC-USD", "XYZ-USD").replace('"BTC"', '"XYZ"'),
    "htx-futures": _HTX_COINM[1].replace("BTC", "XYZ"),
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
    other = _build_new_venue(feed_id, url, rest)
    if other is not None:
        return other
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


def _build_new_venue(feed_id: str, url: str, rest: str) -> Feed | None:
    """Return a Gate, HTX or Bitget feed with its metadata installed, or None for another id."""
    if feed_id.startswith("gate-"):
        settle = feed_id.removeprefix("gate-")
        gate = GateFeed(settle, url, rest)
        gate.apply_contracts(text(f"gate_contracts_{settle}.json"))
        return gate
    if feed_id.startswith("htx-"):
        market = feed_id.removeprefix("htx-")
        htx = HtxFeed(market, url, rest)
        htx.apply_contract_info(text(f"htx_contracts_{market}.json"))
        return htx
    if feed_id == "bitget":
        return BitgetFeed(url)
    return None


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
