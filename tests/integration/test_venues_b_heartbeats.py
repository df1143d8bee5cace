"""Each heartbeat of Deribit, BitMEX, Bitfinex and Kraken Futures through the shared loop."""

from __future__ import annotations

import json

from collectors.backoff import Backoff
from collectors.connection import ConnectionPolicy, FeedRunner
from collectors.exchanges.bitfinex import BitfinexFeed
from collectors.exchanges.bitmex import BitmexFeed
from collectors.exchanges.deribit import DeribitFeed
from collectors.exchanges.kraken import PING, KrakenFuturesFeed
from tests.support.feeds import running
from tests.support.fixtures import lines, text
from tests.support.sinks import CollectingSink
from tests.support.ws_server import ScriptedServer, frames_then

FAST = Backoff(initial_s=0.05, max_s=0.2, healthy_after_s=0.5)
TEST_REQUEST = lines("deribit_ws_control.jsonl")[3]
BITFINEX = lines("bitfinex_liq_global.jsonl")


async def test_bitmex_pings_after_quiet_and_the_pongs_keep_the_socket() -> None:
    async with ScriptedServer(frames_then([], after="liquidation")) as server:
        feed = BitmexFeed(server.url(), "http://unused", quiet_s=0.1)
        runner = FeedRunner(feed, CollectingSink())
        async with running(runner):
            [peer] = await server.wait_connections(1)
            for _ in range(3):
                await peer.expect(lambda m: m == "ping")
                peer.received.remove("ping")
        assert len(server.peers) == 1
        assert runner.stats.reconnects == 0
        assert runner.stats.control_frames >= 2  # the pongs


async def test_bitmex_unanswered_pings_reconnect() -> None:
    policy = ConnectionPolicy(
        app_ping="ping", app_ping_after_idle_s=0.1, idle_timeout_s=0.3, backoff=FAST
    )
    async with ScriptedServer(
        frames_then([], after="liquidation"), answer_text_ping=False
    ) as server:
        sink = CollectingSink()
        runner = FeedRunner(BitmexFeed(server.url(), "http://unused", policy), sink)
        async with running(runner):
            peers = await server.wait_connections(2)
        assert "ping" in peers[0].received
        assert any(s.reason.startswith("watchdog: no frame") for s in sink.states if not s.up)


async def test_deribit_answers_a_test_request_with_public_test() -> None:
    async with ScriptedServer(frames_then([TEST_REQUEST], after="public/subscribe")) as server:
        feed = DeribitFeed(server.url(), "http://unused")
        feed.apply_instruments(text("deribit_instruments.json"))
        runner = FeedRunner(feed, CollectingSink())
        async with running(runner):
            [peer] = await server.wait_connections(1)
            answer = await peer.expect(lambda m: "public/test" in m)
        sent = [json.loads(m)["method"] for m in peer.received]
        assert sent[:2] == ["public/set_heartbeat", "public/subscribe"]
        assert json.loads(peer.received[0])["params"] == {"interval": 30}
        assert json.loads(answer)["method"] == "public/test"
        assert runner.stats.reconnects == 0


async def test_bitfinex_heartbeats_keep_the_socket_and_silence_reconnects() -> None:
    policy = ConnectionPolicy(idle_timeout_s=0.5, backoff=FAST)
    first = frames_then([BITFINEX[1], BITFINEX[3], BITFINEX[2]], after="liq:global")
    async with ScriptedServer(first, frames_then([BITFINEX[1]], after="liq:global")) as server:
        sink = CollectingSink()
        runner = FeedRunner(BitfinexFeed(server.url(), policy), sink)
        async with running(runner):
            await sink.wait_records(2)
            await server.wait_connections(2)  # the first server went silent after its frames
        assert runner.stats.control_frames >= 2  # subscribed, hb
        assert [r.symbol for r in sink.records] == ["tBTCF0:USTF0", "tETHF0:USTF0"]
        assert any(s.reason.startswith("watchdog: no frame") for s in sink.states if not s.up)


async def test_kraken_pings_every_interval_and_subscribes_every_product() -> None:
    async with ScriptedServer(frames_then([], after="subscribe")) as server:
        feed = KrakenFuturesFeed(server.url(), "http://unused", ping_s=0.1)
        feed.apply_instruments(text("kraken_instruments.json"))
        runner = FeedRunner(feed, CollectingSink())
        async with running(runner):
            [peer] = await server.wait_connections(1)
            for _ in range(2):
                await peer.expect(lambda m: m == PING)
                peer.received.remove(PING)
        subscribe = json.loads(peer.received[0])
        assert subscribe == {
            "event": "subscribe",
            "feed": "trade",
            "product_ids": ["FI_XBTUSD_260327", "PF_XBTUSD", "PI_XBTUSD"],
        }
