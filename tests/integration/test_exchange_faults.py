"""Exchange faults from local servers, every feed: after each, resubscribed and next frame in."""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import replace
from typing import Any

import pytest

from collectors.backoff import Backoff
from collectors.connection import ConnectionPolicy, FeedRunner
from collectors.exchanges.bybit.feed import BybitFeed
from collectors.exchanges.okx.feed import OkxFeed
from collectors.feed import Feed
from tests.support import bybit
from tests.support.feeds import (
    CONTROL_FRAMES,
    ERROR_FRAMES,
    FEED_IDS,
    VALID_FRAMES,
    build_feed,
    running,
)
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually
from tests.support.ws_server import Peer, ScriptedServer

FAST = Backoff(initial_s=0.02, max_s=0.1, healthy_after_s=0.5)
PATHS = {
    "binance-usdm": "/market/ws/!forceOrder@arr",
    "binance-coinm": "/ws/!forceOrder@arr",
    "okx": "/ws/v5/public",
    "bybit-linear": "/v5/public/linear",
    "bybit-inverse": "/v5/public/inverse",
    "gate-usdt": "/v4/ws/usdt",
    "gate-btc": "/v4/ws/btc",
    "htx-linear": "/linear-swap-notification",
    "htx-swap": "/swap-notification",
    "htx-futures": "/notification",
    "bitget": "/v3/ws/public",
}
# Feeds that subscribe with one frame and get one ack (their first recorded control frame).
ONE_ACK = ("gate-usdt", "gate-btc", "htx-linear", "htx-swap", "htx-futures", "bitget")
# Acknowledgements the stand-in sends per connection: OKX one per instrument type, Bybit one per
# subscribe frame (all topics of a category fit one), Binance none (its URL subscribes).
ACKS = {
    "binance-usdm": 0,
    "binance-coinm": 0,
    "okx": 2,
    "bybit-linear": 1,
    "bybit-inverse": 1,
    **dict.fromkeys(ONE_ACK, 1),
}

every_feed = pytest.mark.parametrize("feed_id", FEED_IDS)


# --- the exchange side --------------------------------------------------------------------------


def liquidation(feed_id: str, n: int) -> tuple[str, int]:
    """Return the n-th distinct frame of a feed (one liquidation each) and its event time in ms.

    A recorded frame with its event time moved on by n ms: a repeated frame would be dropped as
    a duplicate, and the times tell exactly which frames arrived.
    """
    message = json.loads(VALID_FRAMES[feed_id][0])
    ts: int
    if feed_id.startswith("binance"):
        message["o"]["T"] += n
        ts = message["o"]["T"]
    elif feed_id.startswith("gate-"):
        row = message["result"][0]
        if "time_ms" in row:
            row["time_ms"] += n
            ts = row["time_ms"]
        else:  # the pre-2026-08-20 row time, in seconds
            row["time"] += n
            ts = row["time"] * 1000
    elif feed_id.startswith("htx-"):
        message["data"][0]["created_at"] += n
        ts = message["data"][0]["created_at"]
    elif feed_id == "bitget":
        ts = int(message["data"][0]["ts"]) + n
        message["data"][0]["ts"] = str(ts)
    elif feed_id == "okx":
        detail = message["data"][0]["details"][0]
        ts = int(detail["ts"]) + n
        detail["ts"] = str(ts)
    else:
        message["data"][0]["T"] += n
        ts = message["data"][0]["T"]
    return json.dumps(message, separators=(",", ":")), ts


def is_subscribe(message: str) -> bool:
    """Return True for a subscribe request (OKX, Bybit, Bitget; Gate's event; HTX's op sub)."""
    return any(key in message for key in ('"op":"subscribe"', '"event":"subscribe"', '"op":"sub"'))


async def subscribed(peer: Peer, feed_id: str) -> str | None:
    """Wait for the feed's subscribe request and acknowledge it as the exchange does; return it.

    Binance subscribes by the URL's path: nothing to wait for.
    """
    if feed_id.startswith("binance"):
        return None
    request = await peer.expect(is_subscribe)
    if feed_id in ONE_ACK:
        acks = [CONTROL_FRAMES[feed_id][0]]
    elif feed_id == "okx":
        ack = CONTROL_FRAMES["okx"][0]  # the recorded SWAP ack; FUTURES is acked alike
        acks = [ack, ack.replace('"SWAP"', '"FUTURES"')]
    else:
        reply = bybit.replies()(request)
        assert reply is not None
        acks = [reply]
    assert len(acks) == ACKS[feed_id]
    await peer.send_all(acks)
    return request


async def flushed(peer: Peer) -> None:
    """Return once the client has read everything sent so far (its pong follows them)."""
    await (await peer.ws.ping())


# --- the client side ----------------------------------------------------------------------------


def fast_feed(feed_id: str, url: str, **changes: Any) -> Feed:
    """Return the feed with its own connection policy, but quick backoff and `changes`."""
    feed = build_feed(feed_id, url)
    feed.policy = replace(feed.policy, **{"backoff": FAST, **changes})
    return feed


def assert_subscribed_on_every_connect(feed: Feed, peers: list[Peer]) -> None:
    """Check that each connection asked for the whole subscription first, and only once."""
    assert [p.path for p in peers] == [PATHS[feed.feed_id]] * len(peers)
    if isinstance(feed, OkxFeed):
        [request] = feed.subscribe_messages()
        for peer in peers:
            assert [m for m in peer.received if is_subscribe(m)] == [request]
            assert peer.received[0] == request
    elif isinstance(feed, BybitFeed):
        req_ids = set()
        for peer in peers:
            [request] = [m for m in peer.received if is_subscribe(m)]
            assert peer.received[0] == request
            assert bybit.topics_of(request) == feed.subscriptions.topics(0)
            req_ids.add(json.loads(request)["req_id"])
        assert len(req_ids) == len(peers)  # a fresh request each time, not a replay
    elif feed.feed_id in ONE_ACK:
        for peer in peers:
            [request] = [m for m in peer.received if is_subscribe(m)]
            assert peer.received[0] == request
    else:
        assert all(p.received == [] for p in peers)  # the path is the subscription


def ups(sink: CollectingSink) -> list[bool]:
    """Return the feed's up/down transitions in order."""
    return [s.up for s in sink.states]


# --- 1. a server that drops the connection every K frames ---------------------------------------

K = 3
DROPS = 5


@every_feed
async def test_a_server_dropping_every_k_frames_loses_and_repeats_nothing(feed_id: str) -> None:
    sent = [liquidation(feed_id, n) for n in range(K * DROPS + 1)]

    async def drop_after_k(peer: Peer) -> None:
        await subscribed(peer, feed_id)
        if peer.index < DROPS:
            await peer.send_all([frame for frame, _ in sent[K * peer.index : K * (peer.index + 1)]])
            await flushed(peer)
            peer.abort()  # no closing handshake
        else:
            await peer.send(sent[-1][0])
            await peer.hold()

    async with ScriptedServer(drop_after_k) as server:
        sink = CollectingSink()
        feed = fast_feed(feed_id, server.url(PATHS[feed_id]))
        runner = FeedRunner(feed, sink)
        async with running(runner):
            await sink.wait_records(len(sent))
            peers = await server.wait_connections(DROPS + 1)
    stats = runner.stats
    assert [r.ts_ms for r in sink.records] == [ts for _, ts in sent]  # in order, each once
    assert len(peers) == DROPS + 1
    assert_subscribed_on_every_connect(feed, peers)
    assert stats.reconnects == DROPS
    assert stats.events == len(sent)
    assert stats.duplicates == 0
    assert stats.frames == len(sent) + ACKS[feed_id] * (DROPS + 1)
    assert stats.control_frames == ACKS[feed_id] * (DROPS + 1)
    assert stats.bad_frames == 0
    assert stats.connect_failures == 0
    assert ups(sink) == [False, *[True, False] * (DROPS + 1)]
    downs = [s.reason for s in sink.states[2:-1:2]]
    assert len(downs) == DROPS
    assert all(reason.startswith("connection lost: no close frame") for reason in downs), downs


# --- 2. a server that goes silent ---------------------------------------------------------------

SILENCE_S = 0.5


def scaled_watchdog(policy: ConnectionPolicy) -> dict[str, Any]:
    """Return the feed's own keepalive and watchdog, scaled so that it fires after SILENCE_S."""
    return {
        "idle_timeout_s": SILENCE_S if policy.idle_timeout_s is not None else None,
        "data_silence_s": SILENCE_S if policy.data_silence_s is not None else None,
        "app_ping_after_idle_s": SILENCE_S / 2,
        "app_ping_every_s": SILENCE_S / 4 if policy.app_ping_every_s is not None else None,
    }


@every_feed
async def test_a_silent_server_is_left_by_the_watchdog_within_its_timeout(feed_id: str) -> None:
    frame, ts = liquidation(feed_id, 0)
    opened: list[float] = []
    silent_since: list[float] = []

    async def silent_then_live(peer: Peer) -> None:
        opened.append(time.monotonic())
        await subscribed(peer, feed_id)
        if peer.index == 0:
            silent_since.append(time.monotonic())
            await peer.hold()  # not a frame more, pongs to text pings included
        else:
            await peer.send(frame)
            await peer.hold()

    # Both text pings (OKX) and Bybit's JSON pings go unanswered; protocol pings (Binance's
    # only keepalive) are answered by the websockets server, as an exchange does.
    async with ScriptedServer(silent_then_live, answer_text_ping=False) as server:
        sink = CollectingSink()
        feed = build_feed(feed_id, server.url(PATHS[feed_id]))
        feed.policy = replace(feed.policy, backoff=FAST, **scaled_watchdog(feed.policy))
        runner = FeedRunner(feed, sink)
        async with running(runner):
            await sink.wait_records(1)
            peers = await server.wait_connections(2)
            # The live connection goes silent too: read the counters before its watchdog can.
            stats = replace(runner.stats)
            states = list(sink.states)
    assert [r.ts_ms for r in sink.records] == [ts]
    gap = opened[1] - silent_since[0]
    assert SILENCE_S <= gap < 2 * SILENCE_S, gap
    assert_subscribed_on_every_connect(feed, peers)
    ping = feed.policy.app_ping
    if ping is not None:  # the keepalive asked before the watchdog gave up
        assert ping in peers[0].received
    assert stats.reconnects == 1
    assert stats.events == 1
    assert stats.frames == 1 + 2 * ACKS[feed_id]
    assert stats.control_frames == 2 * ACKS[feed_id]
    assert stats.bad_frames == 0
    assert [s.up for s in states] == [False, True, False, True]
    watchdog = "no liquidation" if feed.policy.data_silence_s is not None else "no frame"
    assert states[2].reason.startswith(f"watchdog: {watchdog} for "), states[2].reason


# --- 3. a server that refuses connections for a while -------------------------------------------

REFUSING = Backoff(initial_s=0.02, max_s=0.08)
REFUSALS = 8  # the ceiling is reached at the third retry and holds for the next five
SLACK_S = 0.3


def ceilings(backoff: Backoff, count: int) -> list[float]:
    """Return the ceilings of the first `count` delays: each delay lies in [c/2, c]."""
    return [min(backoff.max_s, backoff.initial_s * backoff.factor**n) for n in range(count)]


@every_feed
async def test_refused_for_a_while_it_retries_at_capped_pace_then_subscribes_and_delivers(
    feed_id: str,
) -> None:
    with socket.socket() as probe:  # a free port, closed: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    frame, ts = liquidation(feed_id, 0)

    async def live(peer: Peer) -> None:
        await subscribed(peer, feed_id)
        await peer.send(frame)
        await peer.hold()

    sink = CollectingSink()
    feed = fast_feed(feed_id, f"ws://127.0.0.1:{port}{PATHS[feed_id]}", backoff=REFUSING)
    runner = FeedRunner(feed, sink)
    started = time.monotonic()
    async with running(runner):
        await eventually(lambda: runner.stats.connect_failures >= REFUSALS, timeout=5)
        refused_for = time.monotonic() - started
        seen = runner.stats.connect_failures
        async with ScriptedServer(live, port=port) as server:
            accepting = time.monotonic()
            failures = runner.stats.connect_failures
            await sink.wait_records(1)
            connected = time.monotonic()
            [peer] = server.peers
            # Read the counters before the server's shutdown (1001) ends this connection.
            stats = replace(runner.stats)
            states = [s.up for s in sink.states]
    # `seen` failures took `seen - 1` delays: at least half their ceilings (no tight loop) and
    # at most the ceilings (capped; uncapped, 8 failures would take at least 1.27 s).
    waited = ceilings(REFUSING, seen)
    assert sum(waited[:-1]) / 2 <= refused_for < sum(waited[:-1]) + SLACK_S, (seen, refused_for)
    # Once the server accepts, the next try comes within one capped delay.
    assert connected - accepting < REFUSING.max_s + SLACK_S
    assert stats.connect_failures == failures  # none once the server was accepting
    assert [r.ts_ms for r in sink.records] == [ts]
    assert_subscribed_on_every_connect(feed, [peer])
    assert stats.reconnects == 0  # failed attempts are not reconnects
    assert stats.events == 1
    assert stats.frames == 1 + ACKS[feed_id]
    assert states == [False, True]


# --- 4. an oversized frame ----------------------------------------------------------------------

MAX_FRAME_BYTES = 4096


@every_feed
async def test_an_oversized_frame_costs_a_reconnect_and_the_next_frame_arrives(
    feed_id: str,
) -> None:
    padded, _ = liquidation(feed_id, 0)
    huge = padded[:-1] + ',"pad":"' + "x" * MAX_FRAME_BYTES + '"}'
    assert len(build_feed(feed_id).parse(huge, 0).records) == 1  # too big, not malformed
    frame, ts = liquidation(feed_id, 1)

    async def huge_then_live(peer: Peer) -> None:
        await subscribed(peer, feed_id)
        await peer.send(huge if peer.index == 0 else frame)
        await peer.hold()

    async with ScriptedServer(huge_then_live) as server:
        sink = CollectingSink()
        feed = fast_feed(feed_id, server.url(PATHS[feed_id]), max_frame_bytes=MAX_FRAME_BYTES)
        runner = FeedRunner(feed, sink)
        async with running(runner):
            await sink.wait_records(1)
            peers = await server.wait_connections(2)
    assert [r.ts_ms for r in sink.records] == [ts]
    assert len(peers) == 2
    assert_subscribed_on_every_connect(feed, peers)
    stats = runner.stats
    assert stats.reconnects == 1
    assert stats.frames == 1 + 2 * ACKS[feed_id]  # the oversized one was never read
    assert stats.bad_frames == 0
    assert ups(sink) == [False, True, False, True, False]
    assert sink.states[2].reason.startswith("connection lost: sent 1009 (message too big)")


# --- 5. an error answer to the subscription -----------------------------------------------------


_ERROR_REASONS = {
    "gate-usdt": "error 2: unknown contract",
    "gate-btc": "error 2: unknown contract",
    "htx-linear": "sub error 2014: x",
    "htx-swap": "sub error 2014: x",
    "htx-futures": "sub error 2014: x",
    "bitget": "error 30001: instType does not exist",
}


def error_answer(feed_id: str, request: str | None) -> tuple[str, str]:
    """Return the feed's recorded or documented error frame, as an answer to `request`, and the
    reason the collector gives for it."""
    error = ERROR_FRAMES[feed_id][0]
    if feed_id.startswith("binance"):
        return error, "request error 2: Invalid request: unknown variant"
    if feed_id in _ERROR_REASONS:
        return error, _ERROR_REASONS[feed_id]
    if feed_id == "okx":
        return error, (
            "error event 60018: Wrong URL or channel:bbo-tbt,instId:ETH-USD-SWAP doesn't exist. "
            "Please use the correct URL, channel and parameters referring to API document."
        )
    assert request is not None
    answer = json.loads(error)
    answer["req_id"] = json.loads(request)["req_id"]  # the refusal of this very request
    return json.dumps(answer, separators=(",", ":")), (
        f"subscribe {answer['req_id']} failed: error:handler not found"
    )


@every_feed
async def test_an_error_answer_is_counted_and_logged_and_the_socket_stays(
    feed_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    frame, ts = liquidation(feed_id, 0)
    answered: list[tuple[str, str]] = []

    async def refuse(peer: Peer) -> None:
        request = None if feed_id.startswith("binance") else await peer.expect(is_subscribe)
        answered.append(error_answer(feed_id, request))
        await peer.send(answered[0][0])
        await peer.send(frame)
        await peer.hold()

    async with ScriptedServer(refuse) as server:
        sink = CollectingSink()
        feed = fast_feed(feed_id, server.url(PATHS[feed_id]))
        runner = FeedRunner(feed, sink)
        with caplog.at_level(logging.WARNING, logger="collectors.processor"):
            async with running(runner):
                await sink.wait_records(1)
                last_error = runner.stats.last_error  # "stopped" once cancelled
    [(error, reason)] = answered
    assert [r.ts_ms for r in sink.records] == [ts]  # on the same socket
    assert len(server.peers) == 1
    assert_subscribed_on_every_connect(feed, server.peers)
    stats = runner.stats
    assert stats.reconnects == 0
    assert stats.bad_frames == 1
    assert stats.frames == 2
    assert stats.control_frames == 0
    assert stats.events == 1
    assert last_error == f"bad frame: {reason}"
    assert len(error) < 300  # logged whole
    warnings = [r.getMessage() for r in caplog.records if r.name == "collectors.processor"]
    assert warnings == [f"{feed_id}: bad frame skipped ({reason}): {error}"]
    assert ups(sink) == [False, True, False]


async def test_okx_asks_again_after_its_subscription_is_rejected() -> None:
    async def refuse(peer: Peer) -> None:
        request = await peer.expect(is_subscribe)
        await peer.send(error_answer("okx", request)[0])
        await peer.hold()  # pongs are answered: the socket itself is healthy

    async with ScriptedServer(refuse) as server:
        feed = fast_feed(
            "okx", server.url(PATHS["okx"]), app_ping_after_idle_s=0.1, idle_timeout_s=0.5
        )
        runner = FeedRunner(feed, CollectingSink())
        async with running(runner):
            # The subscribe is asked for again on the same socket, after the first retry delay.
            await eventually(
                lambda: sum(is_subscribe(m) for p in server.peers for m in p.received) >= 2,
                timeout=3,
            )
            [peer] = server.peers
            times = [
                t for m, t in zip(peer.received, peer.received_at, strict=True) if is_subscribe(m)
            ]
            assert times[1] - times[0] >= feed.resubscribe_s  # type: ignore[attr-defined]
            assert runner.stats.reconnects == 0
            assert runner.stats.bad_frames == 1


# --- 6. each close code -------------------------------------------------------------------------

# 1006 is never sent: it stands for a connection dropped without a closing handshake.
CLOSE_CODES = [1000, 1001, 1006, 1008, 1011, 1012, 1013, 3000, 4000, 4999]


def down_reason(code: int) -> str:
    """Return how the runner reports the end of a connection the server closed with `code`."""
    if code in (1000, 1001):  # a normal closure ends the read loop without an error
        return f"closed by the server: code {code} 'fault'"
    if code == 1006:
        return "connection lost: no close frame received or sent"
    return f"connection lost: received {code} "


@every_feed
@pytest.mark.parametrize("code", CLOSE_CODES)
async def test_each_close_code_leads_to_a_reconnect_a_resubscribe_and_the_next_frame(
    feed_id: str, code: int
) -> None:
    first, first_ts = liquidation(feed_id, 0)
    second, second_ts = liquidation(feed_id, 1)

    async def close_then_live(peer: Peer) -> None:
        await subscribed(peer, feed_id)
        if peer.index > 0:
            await peer.send(second)
            await peer.hold()
            return
        await peer.send(first)
        if code == 1006:
            await flushed(peer)
            peer.abort()
        else:
            await peer.ws.close(code, "fault")

    async with ScriptedServer(close_then_live) as server:
        sink = CollectingSink()
        feed = fast_feed(feed_id, server.url(PATHS[feed_id]))
        runner = FeedRunner(feed, sink)
        async with running(runner):
            await sink.wait_records(2)
            peers = await server.wait_connections(2)
    assert [r.ts_ms for r in sink.records] == [first_ts, second_ts]
    assert len(peers) == 2
    assert_subscribed_on_every_connect(feed, peers)
    stats = runner.stats
    assert stats.reconnects == 1
    assert stats.events == 2
    assert stats.frames == 2 + 2 * ACKS[feed_id]
    assert stats.bad_frames == 0
    assert stats.connect_failures == 0
    assert ups(sink) == [False, True, False, True, False]
    assert sink.states[2].reason.startswith(down_reason(code)), sink.states[2].reason
