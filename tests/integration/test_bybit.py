"""Bybit against local servers: chunked and sharded subscriptions, retries, listings, pings."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from collectors.backoff import Backoff
from collectors.connection import FeedRunner
from collectors.exchanges.bybit.feed import BybitFeed, bybit_policy
from collectors.exchanges.bybit.parsing import parse_liquidations
from collectors.exchanges.bybit.subscriptions import topic_of
from collectors.metadata_cache import SqliteMetadataCache
from collectors.record import Side
from collectors.service import CollectorService
from tests.support.bybit import LINEAR_ROWS, linear_page, page, pages, replies, row, topics_of
from tests.support.feeds import running
from tests.support.fixtures import lines
from tests.support.rest_server import RestStub
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually
from tests.support.ws_server import Peer, ScriptedServer, frames_then

FRAMES = lines("bybit_all_liquidation.jsonl")
RECORDED = len(FRAMES) + 1  # the last frame carries two liquidations
SYMBOLS = [r[0] for r in LINEAR_ROWS]
TOPICS = [topic_of(s) for s in SYMBOLS]
FAST = Backoff(initial_s=0.05, max_s=0.2, healthy_after_s=0.5)
INSTRUMENTS = "/v5/market/instruments-info"


_FEED_OPTIONS = ("topics_per_frame", "args_chars_per_connection", "retry_s")


def linear_feed(url: str, **changes: Any) -> BybitFeed:
    """A linear feed valued with the synthetic instruments, with quick timings for tests.

    `changes` are BybitFeed options (_FEED_OPTIONS) or ConnectionPolicy fields.
    """
    options = {k: changes.pop(k) for k in list(changes) if k in _FEED_OPTIONS}
    policy = replace(bybit_policy(), send_interval_s=0.01, backoff=FAST, **changes)
    feed = BybitFeed("linear", url, "http://unused", policy, **options)
    feed.apply_instruments(pages(linear_page()))
    return feed


def subscribed(peer: Peer) -> list[list[str]]:
    """Return the args of every subscribe frame a peer received, in order."""
    return [topics for message in peer.received if (topics := topics_of(message))]


async def all_subscribed(peer: Peer, topics: list[str]) -> None:
    """Wait until a peer has been asked for every one of these topics."""
    await eventually(lambda: {t for args in subscribed(peer) for t in args} >= set(topics))


def expected(frames: list[str]) -> list[tuple[str, int, float]]:
    feed = linear_feed("ws://unused")
    records = [r for f in frames for r in parse_liquidations(f, 0, feed.instruments).records]
    return [(r.symbol, r.ts_ms, r.notional_usd) for r in records]


async def test_chunked_subscription_on_connect_and_again_after_a_drop() -> None:
    async def first(peer: Peer) -> None:
        await all_subscribed(peer, TOPICS)
        await peer.send_all(FRAMES[:3])
        await (await peer.ws.ping())  # the client has read them
        peer.abort()

    async def second(peer: Peer) -> None:
        await all_subscribed(peer, TOPICS)
        await peer.send_all(FRAMES[3:])
        await peer.hold()

    async with ScriptedServer(first, second, auto_reply=replies()) as server:
        sink = CollectingSink()
        runner = FeedRunner(linear_feed(server.url("/v5/public/linear"), topics_per_frame=2), sink)
        async with running(runner):
            await sink.wait_records(RECORDED)
            peers = await server.wait_connections(2)
            await eventually(lambda: runner.stats.control_frames >= 10)
    assert [(r.symbol, r.ts_ms, r.notional_usd) for r in sink.records] == expected(FRAMES)
    assert {(r.exchange, r.market) for r in sink.records} == {("bybit", "linear")}
    for peer in peers:
        assert peer.path == "/v5/public/linear"
        # Nine symbols, two per frame: five frames, every topic once, in listing order.
        assert subscribed(peer) == [TOPICS[i : i + 2] for i in range(0, len(TOPICS), 2)]
        assert all(t.startswith("allLiquidation.") for args in subscribed(peer) for t in args)
        requests = [json.loads(m) for m in peer.received if topics_of(m)]
        assert len({r["req_id"] for r in requests}) == len(requests)
        gaps = [b - a for a, b in itertools.pairwise(peer.received_at)]
        assert min(gaps) >= 0.01  # paced, not a burst
    assert runner.stats.reconnects == 1
    assert runner.stats.bad_frames == 0
    assert runner.stats.control_frames == 10  # the acks of five frames, twice
    assert [s.up for s in sink.states] == [False, True, False, True, False]


async def test_a_rejected_chunk_is_retried_without_the_named_topic_on_the_same_socket() -> None:
    refused: list[list[str]] = []

    def reject(topics: list[str]) -> str | None:
        if topic_of("MARSCOINUSDT") in topics and not refused:
            refused.append(topics)
            return "Invalid symbol :[allLiquidation.MARSCOINUSDT]"
        return None

    async def script(peer: Peer) -> None:
        # The retried chunk (ROSE and ICP again) comes back on this socket; then data for ICP.
        await eventually(lambda: len(subscribed(peer)) == 4)
        await peer.send_all(FRAMES[1:2])
        await peer.hold()

    async with ScriptedServer(script, auto_reply=replies(reject)) as server:
        sink = CollectingSink()
        feed = linear_feed(server.url(), topics_per_frame=3, retry_s=0.1)
        runner = FeedRunner(feed, sink)
        async with running(runner):
            [record] = await sink.wait_records(1)
            [peer] = server.peers
    chunks = subscribed(peer)
    assert chunks[:3] == [TOPICS[0:3], TOPICS[3:6], TOPICS[6:9]]
    assert refused == [TOPICS[0:3]]
    assert chunks[3] == [topic_of("ROSEUSDT"), topic_of("ICPUSDT")]  # the rest of that chunk
    sent = [at for m, at in zip(peer.received, peer.received_at, strict=True) if topics_of(m)]
    assert sent[3] - sent[0] >= 0.1  # after the retry delay, not in a tight loop
    assert (record.symbol, record.side) == ("ICPUSDT", Side.LONG)
    assert runner.stats.bad_frames == 1  # the rejection, logged and counted
    assert runner.stats.reconnects == 0
    assert feed.subscriptions.given_up == 1


async def test_topics_are_sharded_over_connections_by_the_args_limit() -> None:
    budget = 2 + 3 * max(len(t) + 3 for t in TOPICS)  # room for three of the longest topics

    async def script(peer: Peer) -> None:
        await eventually(lambda: bool(subscribed(peer)))
        if topic_of("BTCUSDT") in subscribed(peer)[0]:
            await peer.send(FRAMES[4])
        await peer.hold()

    async with ScriptedServer(script, auto_reply=replies()) as server:
        sink = CollectingSink()
        feed = linear_feed(server.url(), args_chars_per_connection=budget)
        runner = FeedRunner(feed, sink)
        async with running(runner):
            peers = await server.wait_connections(3)
            await sink.wait_records(2)
            await sink.wait_until(lambda: runner.stats.connected)
    per_connection = sorted(([t for args in subscribed(p) for t in args] for p in peers), key=len)
    assert sorted(t for topics in per_connection for t in topics) == sorted(TOPICS)
    assert all(
        len(json.dumps(topics, separators=(",", ":"))) <= budget for topics in per_connection
    )
    assert feed.outbox is not None
    assert feed.outbox.connections == len(peers) == 3
    assert [r.symbol for r in sink.records] == ["BTCUSDT", "BTCUSDT"]
    assert [s.up for s in sink.states] == [False, True, False]  # up once, down when stopped


async def test_a_new_listing_is_picked_up_by_the_refresh_and_subscribed_on_the_live_socket(
    tmp_path: Path,
) -> None:
    new_frame = FRAMES[1].replace("ICPUSDT", "NEWUSDT")
    listed_rows = [row(*r) for r in LINEAR_ROWS]

    async def script(peer: Peer) -> None:
        await all_subscribed(peer, [*TOPICS, topic_of("NEWUSDT")])
        await peer.send(new_frame)
        await peer.hold()

    async with (
        RestStub() as rest,
        ScriptedServer(script, auto_reply=replies()) as server,
        httpx.AsyncClient(timeout=5) as http,
        SqliteMetadataCache(tmp_path / "bot.db") as cache,
    ):
        # Two pages by cursor; the listing shows up on the second one later.
        rest.set(
            INSTRUMENTS, page("linear", listed_rows[:5], "p2"), query="category=linear&limit=1000"
        )
        second_page = "category=linear&cursor=p2&limit=1000"
        rest.set(INSTRUMENTS, page("linear", listed_rows[5:]), query=second_page)
        policy = replace(bybit_policy(), send_interval_s=0.01, backoff=FAST)
        feed = BybitFeed("linear", server.url(), rest.url(), policy)
        sink = CollectingSink()
        service = CollectorService([feed], sink, http=http, cache=cache, metadata_refresh_s=0.3)
        task = asyncio.create_task(service.run())
        try:
            [peer] = await server.wait_connections(1)
            await all_subscribed(peer, TOPICS)
            new_row = row("NEWUSDT", "LinearPerpetual", "NEW", "USDT")
            rest.set(INSTRUMENTS, page("linear", [*listed_rows[5:], new_row]), query=second_page)
            [record] = await sink.wait_records(1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert (record.symbol, record.base, record.side) == ("NEWUSDT", "NEW", Side.LONG)
    assert len(server.peers) == 1  # no reconnect: the live socket subscribed it
    assert subscribed(peer)[-1] == [topic_of("NEWUSDT")]
    assert rest.requests[f"{INSTRUMENTS}?{second_page}"] >= 2
    assert service.runners["bybit-linear"].stats.reconnects == 0


async def test_a_json_ping_goes_out_every_interval_and_its_pong_keeps_the_socket() -> None:
    async with ScriptedServer(frames_then([]), auto_reply=replies()) as server:
        runner = FeedRunner(
            linear_feed(server.url(), app_ping_every_s=0.1, idle_timeout_s=1.0), CollectingSink()
        )
        async with running(runner):
            [peer] = await server.wait_connections(1)
            await eventually(lambda: len(pings(peer)) >= 5)
    assert all(json.loads(p) == {"req_id": "ping", "op": "ping"} for p in pings(peer))
    at = [t for m, t in zip(peer.received, peer.received_at, strict=True) if m in pings(peer)]
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(at))
    assert runner.stats.reconnects == 0  # pongs are frames: the watchdog stays quiet
    assert runner.stats.control_frames >= 4 + 1  # pongs and the subscribe ack


def pings(peer: Peer) -> list[str]:
    return [m for m in peer.received if '"op":"ping"' in m]


async def test_the_watchdog_reconnects_when_pongs_stop() -> None:
    async with ScriptedServer(frames_then([]), auto_reply=replies(pong=False)) as server:
        sink = CollectingSink()
        runner = FeedRunner(
            linear_feed(server.url(), app_ping_every_s=0.1, idle_timeout_s=0.3), sink
        )
        async with running(runner):
            peers = await server.wait_connections(2)
            await all_subscribed(peers[1], TOPICS)
    assert len(pings(peers[0])) >= 2
    down = [s for s in sink.states if not s.up and s.reason.startswith("watchdog")]
    assert down
    assert down[0].reason.startswith("watchdog: no frame for 0.3")
    assert runner.stats.reconnects >= 1
