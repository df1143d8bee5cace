"""Instrument metadata: fetched over REST, cached in SQLite, refetched once for unknown ids."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from collectors.backoff import Backoff
from collectors.connection import ConnectionPolicy
from collectors.exchanges.binance import BinanceCoinmFeed
from collectors.exchanges.bybit.feed import BybitFeed, bybit_policy
from collectors.exchanges.okx.feed import OkxFeed
from collectors.metadata import MetadataDocument, MetadataManager
from collectors.metadata_cache import SqliteMetadataCache
from collectors.parsing import FrameError
from collectors.record import Side
from collectors.service import CollectorService
from tests.support import bybit
from tests.support.fixtures import lines, text
from tests.support.rest_server import RestStub
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually
from tests.support.ws_server import Peer, ScriptedServer, frames_then

FAST = ConnectionPolicy(backoff=Backoff(initial_s=0.05, max_s=0.2))
EXCHANGE_INFO = "/dapi/v1/exchangeInfo"
BYBIT_INSTRUMENTS = "/v5/market/instruments-info"
COINM_DOC = lines("binance_coinm_forceorder.jsonl")[0]  # BTCUSD_200925, 1 contract, SELL


def exchange_info(*extra: str) -> str:
    """The 2021 exchangeInfo fixture, plus 100-USD BTC contracts under the given symbols."""
    info = json.loads(text("binance_coinm_exchangeinfo.json"))
    template = next(s for s in info["symbols"] if s["symbol"] == "BTCUSD_PERP")
    info["symbols"] += [{**template, "symbol": symbol} for symbol in extra]
    return json.dumps(info)


@contextlib.asynccontextmanager
async def collecting(
    service: CollectorService,
) -> AsyncIterator[CollectorService]:
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def coinm_service(
    ws_url: str, rest: RestStub, db: Path, sink: CollectingSink
) -> AsyncIterator[CollectorService]:
    feed = BinanceCoinmFeed(ws_url, rest.url(), policy=FAST)
    async with httpx.AsyncClient(timeout=5) as http, SqliteMetadataCache(db) as cache:
        service = CollectorService([feed], sink, http=http, cache=cache, metadata_refresh_s=3600)
        async with collecting(service):
            yield service


async def test_contract_sizes_are_fetched_cached_and_used_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    async with RestStub() as rest, ScriptedServer(frames_then([COINM_DOC])) as server:
        rest.set(EXCHANGE_INFO, exchange_info("BTCUSD_200925"))
        sink = CollectingSink()
        async with coinm_service(server.url(), rest, db, sink):
            [record] = await sink.wait_records(1)
        assert (record.notional_usd, record.side, record.base) == (100.0, Side.LONG, "BTC")
        assert rest.requests[EXCHANGE_INFO] == 1

        # Restart while the REST endpoint is down: the cached body values the event.
        rest.set(EXCHANGE_INFO, '{"code":-1,"msg":"down"}', status=503)
        sink = CollectingSink()
        async with coinm_service(server.url(), rest, db, sink) as service:
            [record] = await sink.wait_records(1)
            await eventually(lambda: rest.requests[EXCHANGE_INFO] >= 2)
            status = service.metadata["binance-coinm"].status
            await eventually(lambda: status.failures >= 1)
        assert record.notional_usd == 100.0
        assert status.loaded == {"binance-coinm-exchangeinfo": "37 contracts"}
        assert "HTTP 503" in status.last_error


async def test_unknown_symbol_triggers_one_refetch_that_rescues_it(tmp_path: Path) -> None:
    listed = asyncio.Event()

    async def after_listing(peer: Peer) -> None:
        await listed.wait()
        await peer.send(COINM_DOC)
        await peer.hold()

    async with RestStub() as rest, ScriptedServer(after_listing) as server:
        rest.set(EXCHANGE_INFO, exchange_info())
        sink = CollectingSink()
        async with coinm_service(server.url(), rest, tmp_path / "bot.db", sink) as service:
            await eventually(lambda: rest.requests[EXCHANGE_INFO] == 1)
            await server.wait_connections(1)
            # The listing appears on REST after the start-up fetch, before its first event.
            rest.set(EXCHANGE_INFO, exchange_info("BTCUSD_200925"))
            listed.set()
            [record] = await sink.wait_records(1)
            stats = service.runners["binance-coinm"].stats
        assert record.symbol == "BTCUSD_200925"
        assert rest.requests[EXCHANGE_INFO] == 2
        assert stats.unknown_instrument_events == 0


async def test_still_unknown_after_the_refetch_is_skipped_counted_and_not_refetched_again(
    tmp_path: Path,
) -> None:
    second = COINM_DOC.replace("1591154240949", "1591154240999")
    async with RestStub() as rest, ScriptedServer(frames_then([COINM_DOC, second])) as server:
        rest.set(EXCHANGE_INFO, exchange_info())
        sink = CollectingSink()
        async with coinm_service(server.url(), rest, tmp_path / "bot.db", sink) as service:
            stats = service.runners["binance-coinm"].stats
            await eventually(lambda: stats.unknown_instrument_events == 2)
        assert sink.records == []
        assert rest.requests[EXCHANGE_INFO] == 2  # the start-up fetch and ONE refetch


async def test_okx_instruments_for_swap_and_futures(tmp_path: Path) -> None:
    path = "/api/v5/public/instruments"
    futures = json.dumps(
        {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "instId": "BTC-USD-261225",
                    "instType": "FUTURES",
                    "ctType": "inverse",
                    "ctVal": "100",
                    "ctMult": "1",
                    "ctValCcy": "USD",
                }
            ],
        }
    )
    push = json.dumps(
        {
            "arg": {"channel": "liquidation-orders", "instType": "FUTURES"},
            "data": [
                {
                    "instId": "BTC-USD-261225",
                    "instType": "FUTURES",
                    "details": [
                        {"bkPx": "90000", "posSide": "net", "side": "buy", "sz": "3", "ts": "5"}
                    ],
                }
            ],
        }
    )
    frames = [lines("okx_liquidation_orders.jsonl")[5], push]
    async with RestStub() as rest, ScriptedServer(frames_then(frames, after="subscribe")) as ws:
        rest.set(path, text("okx_instruments_swap.json"), query="instType=SWAP")
        rest.set(path, futures, query="instType=FUTURES")
        feed = OkxFeed(ws.url(), rest.url(), policy=FAST)
        sink = CollectingSink()
        async with (
            httpx.AsyncClient(timeout=5) as http,
            SqliteMetadataCache(tmp_path / "bot.db") as cache,
        ):
            service = CollectorService([feed], sink, http=http, cache=cache)
            async with collecting(service):
                records = await sink.wait_records(2)
            cached = await cache.load("okx-instruments/FUTURES")
            assert cached is not None
            assert cached[0] == futures
        assert [(r.market, r.symbol, r.side, r.notional_usd) for r in records] == [
            ("swap", "BTC-USDT-SWAP", Side.LONG, 7067.06235),
            ("futures", "BTC-USD-261225", Side.SHORT, 300.0),
        ]
        assert rest.requests[f"{path}?instType=SWAP"] == 1
        assert rest.requests[f"{path}?instType=FUTURES"] == 1


class _Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def record(self, source: str, recv_ms: int, frame: str) -> None:
        self.lines.append((source, frame))


def _page(item: int, cursor: str) -> str:
    return json.dumps({"items": [item], "next": cursor}, separators=(",", ":"))


def _next_page(body: str) -> dict[str, str] | None:
    cursor = json.loads(body)["next"]
    if cursor == "broken":
        raise FrameError("no cursor field")
    return {"cursor": cursor} if cursor else None


async def test_a_paginated_document_is_fetched_page_by_page_and_installed_as_one(
    tmp_path: Path,
) -> None:
    installed: list[str] = []

    def apply(body: str) -> str:
        installed.append(body)
        return f"{len(json.loads(body))} pages"

    recorder = _Recorder()
    async with (
        RestStub() as rest,
        httpx.AsyncClient(timeout=5) as http,
        SqliteMetadataCache(tmp_path / "bot.db") as cache,
    ):
        rest.set("/items", _page(1, "p2"), query="kind=a")
        rest.set("/items", _page(2, "p3"), query="cursor=p2&kind=a")
        rest.set("/items", _page(3, ""), query="cursor=p3&kind=a")
        document = MetadataDocument(
            "items", "items/a", f"{rest.url()}/items", {"kind": "a"}, apply, _next_page
        )
        manager = MetadataManager("f", [document], http=http, cache=cache, recorder=recorder)
        assert await manager.refresh()
        cached = await cache.load("items/a")
    body = f"[{_page(1, 'p2')},{_page(2, 'p3')},{_page(3, '')}]"
    assert installed == [body]
    assert [page["items"] for page in json.loads(body)] == [[1], [2], [3]]
    assert cached is not None
    assert cached[0] == body
    assert recorder.lines == [("items", body)]
    assert manager.status.loaded == {"items/a": "3 pages"}
    assert sorted(rest.requests.items()) == [
        ("/items?cursor=p2&kind=a", 1),
        ("/items?cursor=p3&kind=a", 1),
        ("/items?kind=a", 1),
    ]


@pytest.mark.parametrize(
    ("pages", "error"),
    [
        # A cursor that comes back would page forever.
        ({"kind=a": _page(1, "p2"), "cursor=p2&kind=a": _page(2, "p2")}, "does not end"),
        # A page that fails over HTTP fails the whole document.
        ({"kind=a": _page(1, "p2"), "cursor=p2&kind=a": ""}, "HTTP 503"),
        # A page whose cursor cannot be read fails it too.
        ({"kind=a": _page(1, "broken")}, "page 1: no cursor field"),
    ],
)
async def test_a_paginated_document_that_does_not_complete_installs_nothing(
    pages: dict[str, str], error: str
) -> None:
    installed: list[str] = []

    def apply(body: str) -> str:
        installed.append(body)
        return "installed"

    async with RestStub() as rest, httpx.AsyncClient(timeout=5) as http:
        for query, body in pages.items():
            rest.set("/items", body, query=query, status=200 if body else 503)
        document = MetadataDocument(
            "items", "items/a", f"{rest.url()}/items", {"kind": "a"}, apply, _next_page
        )
        manager = MetadataManager("f", [document], http=http, cache=None)
        assert not await manager.refresh()
    assert installed == []
    assert error in manager.status.last_error
    assert manager.status.loaded == {}


async def test_bybit_instruments_are_paged_by_cursor_cached_and_used_after_a_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.db"
    rows = [bybit.row(*r) for r in bybit.LINEAR_ROWS]
    # Bybit hands out opaque, already-escaped cursors; they go back exactly as received.
    first = bybit.page("linear", rows[:4], "first%3DROSEUSDT%26last%3DBTCUSDT")
    second = bybit.page("linear", rows[4:8], "first%3DBTCUSDT%26last%3D1000PEPEUSDT")
    third = bybit.page("linear", rows[8:])
    queries = [
        "category=linear&limit=1000",
        "category=linear&cursor=first%3DROSEUSDT%26last%3DBTCUSDT&limit=1000",
        "category=linear&cursor=first%3DBTCUSDT%26last%3D1000PEPEUSDT&limit=1000",
    ]
    frames = lines("bybit_all_liquidation.jsonl")

    @contextlib.asynccontextmanager
    async def bybit_service(ws_url: str, rest: RestStub) -> AsyncIterator[CollectorService]:
        feed = BybitFeed(
            "linear", ws_url, rest.url(), replace(bybit_policy(), backoff=FAST.backoff)
        )
        async with httpx.AsyncClient(timeout=5) as http, SqliteMetadataCache(db) as cache:
            service = CollectorService([feed], sink, http=http, cache=cache)
            async with collecting(service):
                yield service

    script = frames_then(frames, after="allLiquidation.SHIB1000USDT")  # the last topic listed
    async with RestStub() as rest, ScriptedServer(script) as server:
        for query, body in zip(queries, [first, second, third], strict=True):
            rest.set(BYBIT_INSTRUMENTS, body, query=query)
        sink = CollectingSink()
        async with bybit_service(server.url(), rest) as service:
            records = await sink.wait_records(6)
            status = service.metadata["bybit-linear"].status
        assert [rest.requests[f"{BYBIT_INSTRUMENTS}?{q}"] for q in queries] == [1, 1, 1]
        assert status.loaded == {
            "bybit-instruments/linear": "9 instruments, 0 rows skipped, 9 new topics, "
            "1 connection(s)"
        }
        async with SqliteMetadataCache(db) as cache:
            cached = await cache.load("bybit-instruments/linear")
        assert cached is not None
        assert cached[0] == bybit.pages(first, second, third)

        # Restart while REST is down: the cached pages give the symbols to subscribe and value.
        rest.set(BYBIT_INSTRUMENTS, '{"retCode":10006,"retMsg":"Too many visits!"}', status=403)
        for query in queries:
            rest.set(BYBIT_INSTRUMENTS, "", query=query, status=403)
        sink = CollectingSink()
        async with bybit_service(server.url(), rest) as service:
            again = await sink.wait_records(6)
            status = service.metadata["bybit-linear"].status
            await eventually(lambda: status.failures >= 1)
    assert [(r.symbol, r.notional_usd) for r in again] == [
        (r.symbol, r.notional_usd) for r in records
    ]
    assert "HTTP 403" in status.last_error
