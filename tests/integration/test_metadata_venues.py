"""Metadata for the new venues over the REST stand-in, Bybit's null cursor, and degraded feeds."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from bot.render.status import format_status_line
from collectors.endpoints import FEED_IDS
from collectors.exchanges.bybit.feed import BybitFeed
from collectors.exchanges.bybit.parsing import next_page_params, parse_instruments
from collectors.exchanges.gate.feed import GateFeed
from collectors.exchanges.htx.feed import HtxFeed
from collectors.feed import Feed
from collectors.metadata_cache import SqliteMetadataCache
from collectors.registry import build_feeds
from collectors.service import CollectorService
from tests.support import bybit
from tests.support.exchanges import exchanges
from tests.support.fixtures import lines, text
from tests.support.rest_server import RestStub
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually
from tests.support.ws_server import ScriptedServer, frames_then

BYBIT_INSTRUMENTS = "/v5/market/instruments-info"


def _null_cursor_page() -> str:
    body = json.loads(bybit.linear_page())
    body["result"]["nextPageCursor"] = None
    return json.dumps(body)


def test_a_null_cursor_ends_paging_and_the_page_is_read() -> None:
    page = _null_cursor_page()
    assert next_page_params(page) is None
    instruments, skipped = parse_instruments(bybit.pages(page), "linear")
    assert (len(instruments), skipped) == (9, 0)


@contextlib.asynccontextmanager
async def serving(feed: Feed, db: Path, sink: CollectingSink) -> AsyncIterator[CollectorService]:
    async with httpx.AsyncClient(timeout=5) as http, SqliteMetadataCache(db) as cache:
        service = CollectorService([feed], sink, http=http, cache=cache, metadata_refresh_s=3600)
        task = asyncio.create_task(service.run())
        try:
            yield service
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_bybit_with_a_null_cursor_values_its_events(tmp_path: Path) -> None:
    frames = lines("bybit_all_liquidation.jsonl")
    script = frames_then(frames, after="allLiquidation.SHIB1000USDT")
    async with RestStub() as rest, ScriptedServer(script) as server:
        rest.set(BYBIT_INSTRUMENTS, _null_cursor_page())
        sink = CollectingSink()
        feed = BybitFeed("linear", server.url(), rest.url())
        async with serving(feed, tmp_path / "bot.db", sink) as service:
            records = await sink.wait_records(6)
            stats = service.runners["bybit-linear"].stats
    assert len(records) == 6
    assert (stats.unknown_instrument_events, stats.degraded) == (0, "")


async def test_an_unreadable_body_keeps_the_last_good_tables_and_degrades_the_feed(
    tmp_path: Path,
) -> None:
    async with RestStub() as rest, ScriptedServer(frames_then([])) as server:
        rest.set(BYBIT_INSTRUMENTS, bybit.linear_page())
        feed = BybitFeed("linear", server.url(), rest.url())
        async with serving(feed, tmp_path / "bot.db", CollectingSink()) as service:
            manager = service.metadata["bybit-linear"]
            stats = service.runners["bybit-linear"].stats
            await eventually(lambda: len(feed.instruments) == 9)
            rest.set(BYBIT_INSTRUMENTS, '{"retCode":0,"result":{"list":"oops"}}')
            assert await manager.refresh() is False
            degraded = stats.degraded
            line = format_status_line(stats, 0)
            kept = len(feed.instruments)
            rest.set(BYBIT_INSTRUMENTS, bybit.linear_page())
            assert await manager.refresh() is True
            healed = stats.degraded
        async with SqliteMetadataCache(tmp_path / "bot.db") as cache:
            cached = await cache.load("bybit-instruments/linear")
    assert kept == 9
    assert degraded == (
        "bybit-instruments/linear: instruments-info: Expected `array`, got `str` - at `$.result.list`"
    )
    assert f"DEGRADED (unreadable metadata, last good kept: {degraded})" in line
    assert healed == ""
    assert cached is not None
    assert cached[0] == bybit.pages(bybit.linear_page())


async def test_gate_and_htx_fetch_contract_sizes_from_rest_and_value_events(
    tmp_path: Path,
) -> None:
    gate_frame = lines("gate_public_liquidates.jsonl")[0]
    htx_frame = lines("htx_coinm_liquidation_orders.jsonl")[0]
    async with (
        RestStub() as rest,
        ScriptedServer(frames_then([gate_frame], after="subscribe")) as gate_ws,
        ScriptedServer(frames_then([htx_frame], after='"op":"sub"')) as htx_ws,
    ):
        rest.set("/api/v4/futures/usdt/contracts", text("gate_contracts_usdt.json"))
        rest.set("/swap-api/v1/swap_contract_info", text("htx_contracts_swap.json"))
        sink = CollectingSink()
        async with serving(GateFeed("usdt", gate_ws.url(), rest.url()), tmp_path / "g.db", sink):
            gate = await sink.wait_records(2)
        sink = CollectingSink()
        async with serving(HtxFeed("swap", htx_ws.url(), rest.url()), tmp_path / "h.db", sink):
            [htx] = await sink.wait_records(1)
    assert [r.qty_base for r in gate] == [124.5 * 0.0001, 10.5 * 0.0001]
    assert (htx.notional_usd, htx.qty_base) == (3000.0, 0.05)
    assert rest.requests["/api/v4/futures/usdt/contracts"] == 1
    assert rest.requests["/swap-api/v1/swap_contract_info"] == 1


async def test_every_feed_runs_offline_against_the_stand_ins(tmp_path: Path) -> None:
    async with exchanges() as ex:
        settings = ex.settings(tmp_path / "bot.db", exchanges=FEED_IDS)
        sink = CollectingSink()
        async with (
            httpx.AsyncClient(timeout=5) as http,
            SqliteMetadataCache(settings.database_path) as cache,
        ):
            service = CollectorService(
                build_feeds(settings.exchanges, settings.endpoints()), sink, http=http, cache=cache
            )
            task = asyncio.create_task(service.run())
            try:
                await eventually(lambda: all(s.connected for s in service.stats()), timeout=10)
                await eventually(
                    lambda: all(m.status.last_success_ms for m in service.metadata.values()),
                    timeout=10,
                )
                degraded = [s.degraded for s in service.stats()]
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert [s.feed_id for s in service.stats()] == list(FEED_IDS)
    assert degraded == [""] * len(FEED_IDS)
