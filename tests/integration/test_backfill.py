"""After an OKX outage the gap is fetched from OKX's history and merged exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from bot.app.runtime import Runtime
from collectors.endpoints import FEED_IDS, Endpoints
from collectors.exchanges.okx.feed import OkxFeed
from collectors.exchanges.okx.history import OkxHistory, family_of
from collectors.record import HistorySource, Side
from collectors.registry import build_feeds
from collectors.service import CollectorService
from tests.support.exchanges import exchanges
from tests.support.fixtures import text
from tests.support.frames import now_ms, okx_history, okx_push
from tests.support.rest_server import RestStub
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually
from tests.support.ws_server import Peer

HISTORY = "/api/v5/public/liquidation-orders"
QUERY = "instFamily=BTC-USDT&instType=SWAP&limit=100&state=filled"


async def test_an_outage_is_backfilled_once_and_marked(tmp_path: Path) -> None:
    start = now_ms()
    live_before = ("2", "80000", "long", "sell", start - 1_000)  # 0.02 BTC = $1,600
    in_gap = [
        ("5", "79000", "long", "sell", start + 100),
        ("1", "79500", "short", "buy", start + 200),
    ]
    released = asyncio.Event()

    async def first(peer: Peer) -> None:
        await peer.expect(lambda m: "subscribe" in m)
        await peer.send(okx_push("BTC-USDT-SWAP", live_before))
        await released.wait()
        peer.abort()  # the outage

    async def second(peer: Peer) -> None:
        await peer.expect(lambda m: "subscribe" in m)
        await peer.hold()

    async with exchanges(okx=[first, second]) as ex:
        # OKX's history holds the gap's events and the one already seen live.
        ex.rest.set(HISTORY, okx_history("BTC-USDT-SWAP", live_before, *in_gap), query=QUERY)
        settings = ex.settings(tmp_path / "bot.db", exchanges=("okx",))
        async with Runtime(settings, min_backfill_gap_ms=100) as runtime:
            runtime.aggregation.coverage.min_listed_gap_ms = 100  # this outage lasts about 1 s
            task = asyncio.create_task(runtime.run())
            await eventually(lambda: runtime.queries.latest(5) != ())
            released.set()
            await eventually(lambda: runtime.aggregation.backfill.stats.runs == 1)
            await runtime.aggregation.backfill.wait_backfills()
            market = runtime.queries.market()
            coverage = runtime.queries.coverage(start - 60_000, now_ms())
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    with sqlite3.connect(tmp_path / "bot.db") as db:
        stored = int(db.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0])
    assert ex.rest.requests[f"{HISTORY}?{QUERY}"] == 1
    assert runtime.aggregation.backfill.stats.events == 2  # the live one was already counted
    [three_minutes, *_] = market
    assert three_minutes.totals.long_count == 2
    assert three_minutes.totals.short_count == 1
    assert three_minutes.totals.long_usd == 1_600.0 + 3_950.0
    assert three_minutes.totals.short_usd == 795.0
    [okx] = coverage
    assert [g.backfilled for g in okx.gaps] == [False, True]  # before the first connect; outage
    assert stored == 3
    assert {r.side for r in runtime.queries.latest(3)} == {Side.LONG, Side.SHORT}


async def test_a_failed_history_request_leaves_the_gap_a_gap(tmp_path: Path) -> None:
    start = now_ms()
    released = asyncio.Event()

    async def first(peer: Peer) -> None:
        await peer.expect(lambda m: "subscribe" in m)
        await peer.send(okx_push("BTC-USDT-SWAP", ("2", "80000", "long", "sell", start)))
        await released.wait()
        peer.abort()

    async def second(peer: Peer) -> None:
        await peer.expect(lambda m: "subscribe" in m)
        await peer.hold()

    async with exchanges(okx=[first, second]) as ex:
        ex.rest.set(HISTORY, '{"code":"50011","msg":"Too Many Requests","data":[]}', query=QUERY)
        settings = ex.settings(tmp_path / "bot.db", exchanges=("okx",))
        async with Runtime(settings, min_backfill_gap_ms=100) as runtime:
            task = asyncio.create_task(runtime.run())
            await eventually(lambda: runtime.queries.latest(5) != ())
            released.set()
            await eventually(lambda: runtime.aggregation.backfill.stats.errors == 1)
            coverage = runtime.queries.coverage(start - 60_000, now_ms())
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert (
        runtime.aggregation.backfill.stats.last_error == "BTC-USDT: error 50011: Too Many Requests"
    )
    [okx] = coverage
    assert not any(g.backfilled for g in okx.gaps)


async def test_history_pages_back_with_after_until_the_gap_start() -> None:
    now = now_ms()
    page_one = [("1", "80000", "long", "sell", now - i * 1_000) for i in range(100)]
    page_two = [("1", "80000", "short", "buy", now - 100_000 - i * 1_000) for i in range(30)]
    oldest_first_page = now - 99_000
    feed = OkxFeed("ws://unused", "")
    feed.apply_instruments(text("okx_instruments_swap.json"))
    async with RestStub() as rest, httpx.AsyncClient(timeout=5) as http:
        feed.rest_url = rest.url()
        rest.set(HISTORY, okx_history("BTC-USDT-SWAP", *page_one), query=QUERY)
        rest.set(HISTORY, okx_history("BTC-USDT-SWAP", *page_two),
                 query=f"after={oldest_first_page}&{QUERY}")  # fmt: skip
        result = await OkxHistory(feed, http, requests_per_second=50).fetch(
            now - 200_000, now, ["BTC-USDT-SWAP", "BTC-USDT-SWAP"]
        )
        short = await OkxHistory(feed, http, requests_per_second=50, max_pages=1).fetch(
            now - 200_000, now, ["BTC-USDT-SWAP"]
        )
    assert result.requests == 2
    assert len(result.records) == 130
    assert result.errors == []
    assert result.covered_from_ms == now - 200_000
    # With one page allowed, the history reached back only to the first page's oldest event.
    assert short.covered_from_ms == oldest_first_page
    assert len(short.records) == 100


async def test_the_okx_feed_offers_its_history_and_the_service_hands_it_out() -> None:
    now = now_ms()
    async with RestStub() as rest, httpx.AsyncClient(timeout=5) as http:
        feeds = build_feeds(FEED_IDS, Endpoints(okx_rest=rest.url()))
        service = CollectorService(feeds, CollectingSink(), http=http, cache=None)
        sources = service.history_sources()
        assert list(sources) == ["okx"]  # the other feeds keep no history to ask
        [okx] = [feed for feed in feeds if isinstance(feed, OkxFeed)]
        okx.apply_instruments(text("okx_instruments_swap.json"))
        rest.set(HISTORY, okx_history("BTC-USDT-SWAP", ("1", "80000", "long", "sell", now)),
                 query=QUERY)  # fmt: skip
        source: HistorySource = sources["okx"]
        result = await source.fetch(now - 1_000, now, ["BTC-USDT-SWAP"])
    assert result.errors == []
    assert [(r.symbol, r.side, r.qty_base, r.ts_ms) for r in result.records] == [
        ("BTC-USDT-SWAP", Side.LONG, 0.01, now)
    ]
    without_http = CollectorService(feeds, CollectingSink(), http=None, cache=None)
    assert without_http.history_sources() == {}


def test_family_of() -> None:
    assert family_of("BTC-USDT-SWAP") == ("SWAP", "BTC-USDT")
    assert family_of("BTC-USD-261225") == ("FUTURES", "BTC-USD")
    assert family_of("BTC-USDT") is None
