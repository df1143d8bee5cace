"""The shared connection loop against a local WebSocket server: drops, stalls, garbage, rotation."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from collectors.backoff import Backoff
from collectors.connection import YIELD_EVERY_FRAMES, ConnectionPolicy, FeedRunner
from collectors.exchanges.binance import BinanceUsdmFeed, parse_usdm
from collectors.exchanges.okx.feed import OkxFeed
from collectors.outbox import Outbox
from collectors.record import FeedStateChange, Liquidation
from tests.support.feeds import running
from tests.support.fixtures import lines, text
from tests.support.frames import binance_force_order
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually
from tests.support.ws_server import Peer, ScriptedServer, frames_then

USDM = lines("binance_usdm_forceorder.jsonl")
OKX = lines("okx_liquidation_orders.jsonl")
OKX_VALUED = [f for i, f in enumerate(OKX) if i != 3]  # CNPY is not in the instruments fixture
FAST = Backoff(initial_s=0.05, max_s=0.2, healthy_after_s=0.5)


def okx_feed(url: str, policy: ConnectionPolicy | None = None) -> OkxFeed:
    feed = OkxFeed(url, "http://unused", policy=policy or ConnectionPolicy(backoff=FAST))
    feed.apply_instruments(text("okx_instruments_swap.json"))
    return feed


def expected_usdm(frames: list[str]) -> list[tuple[str, int]]:
    return [(r.symbol, r.ts_ms) for f in frames for r in parse_usdm(f, 0).records]


async def _flushed(peer: Peer) -> None:
    """Return once the client has read everything sent so far (its pong follows them)."""
    await (await peer.ws.ping())


async def test_reconnect_after_a_drop_resubscribes_and_loses_nothing_after_it() -> None:
    async def first(peer: Peer) -> None:
        await peer.send_all(USDM[:5])
        await _flushed(peer)
        peer.abort()

    async with ScriptedServer(first, frames_then(USDM[5:])) as server:
        url = server.url("/market/ws/!forceOrder@arr")
        sink = CollectingSink()
        runner = FeedRunner(BinanceUsdmFeed(url, ConnectionPolicy()), sink)
        async with running(runner):
            await sink.wait_records(len(USDM))
            peers = await server.wait_connections(2)
        assert [(r.symbol, r.ts_ms) for r in sink.records] == expected_usdm(USDM)
        assert [p.path for p in peers] == ["/market/ws/!forceOrder@arr"] * 2
        assert runner.stats.reconnects == 1
        assert runner.stats.events == len(USDM)
        assert [s.up for s in sink.states] == [False, True, False, True, False]
        assert sink.states[2].reason.startswith("connection lost")


async def test_first_retry_comes_within_a_second() -> None:
    opened: list[float] = []

    async def drop(peer: Peer) -> None:
        opened.append(time.monotonic())
        peer.abort()

    async def hold(peer: Peer) -> None:
        opened.append(time.monotonic())
        await peer.hold()

    async with ScriptedServer(drop, hold) as server:
        runner = FeedRunner(BinanceUsdmFeed(server.url(), ConnectionPolicy()), CollectingSink())
        async with running(runner):
            await server.wait_connections(2)
    assert 0.5 <= opened[1] - opened[0] < 1.5  # Backoff().delay(0) lies in [0.5, 1.0]


async def test_okx_subscribes_on_every_connect_and_reads_every_frame() -> None:
    async def first(peer: Peer) -> None:
        await peer.expect(lambda m: '"op":"subscribe"' in m)
        await peer.send(lines("okx_ws_control.jsonl")[0])  # the subscribe ack
        await peer.send_all(OKX[:3])
        await _flushed(peer)
        peer.abort()

    async with ScriptedServer(first, frames_then(OKX[3:], after='"op":"subscribe"')) as server:
        sink = CollectingSink()
        feed = okx_feed(server.url())
        runner = FeedRunner(feed, sink)
        async with running(runner):
            await sink.wait_records(len(OKX_VALUED))
            peers = await server.wait_connections(2)
        subscribe = feed.subscribe_messages()[0]
        assert [p.received[0] for p in peers] == [subscribe, subscribe]
        assert len(sink.records) == len(OKX_VALUED)
        assert runner.stats.control_frames == 1
        assert runner.stats.unknown_instrument_events == 1  # CNPY-USDT-SWAP, no metadata manager


async def test_okx_text_ping_keeps_a_quiet_connection_alive() -> None:
    policy = ConnectionPolicy(
        app_ping="ping", app_ping_after_idle_s=0.1, idle_timeout_s=1.0, backoff=FAST
    )
    async with ScriptedServer(frames_then([], after="subscribe")) as server:
        runner = FeedRunner(okx_feed(server.url(), policy), CollectingSink())
        async with running(runner):
            [peer] = await server.wait_connections(1)
            for _ in range(4):
                await peer.expect(lambda m: m == "ping")
                peer.received.remove("ping")
        assert len(server.peers) == 1
        assert runner.stats.reconnects == 0
        assert runner.stats.control_frames >= 3  # the pongs


async def test_watchdog_reconnects_a_silent_okx_socket() -> None:
    policy = ConnectionPolicy(
        app_ping="ping", app_ping_after_idle_s=0.1, idle_timeout_s=0.3, backoff=FAST
    )
    async with ScriptedServer(
        frames_then(OKX[:1], after="subscribe"),
        frames_then(OKX[1:2], after="subscribe"),
        answer_text_ping=False,  # the server stalls: pings go unanswered
    ) as server:
        sink = CollectingSink()
        runner = FeedRunner(okx_feed(server.url(), policy), sink)
        async with running(runner):
            await sink.wait_records(2)
            peers = await server.wait_connections(2)
        assert "ping" in peers[0].received
        assert runner.stats.reconnects >= 1
        down = [s for s in sink.states if not s.up and s.reason.startswith("watchdog")]
        assert down
        assert down[0].reason.startswith("watchdog: no frame for 0.3")


async def test_binance_data_silence_reconnects_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    policy = ConnectionPolicy(data_silence_s=0.3, backoff=FAST)
    async with ScriptedServer(frames_then(USDM[:1]), frames_then(USDM[1:2])) as server:
        sink = CollectingSink()
        runner = FeedRunner(BinanceUsdmFeed(server.url(), policy), sink)
        with caplog.at_level(logging.WARNING, logger="collectors.connection"):
            async with running(runner):
                await sink.wait_records(2)
                await server.wait_connections(2)
        assert any("no liquidation for" in r.getMessage() for r in caplog.records)
        assert any("check the URL" in r.getMessage() for r in caplog.records)


async def test_garbage_is_counted_and_skipped_without_reconnecting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    garbage = ["not json", "{}", '{"e":"forceOrder","o":{"s":"X"}}', "\x00\xff", USDM[0][:40]]
    frames = [garbage[0], USDM[0], *garbage[1:], USDM[1]]
    async with ScriptedServer(frames_then(frames)) as server:
        sink = CollectingSink()
        runner = FeedRunner(BinanceUsdmFeed(server.url(), ConnectionPolicy(backoff=FAST)), sink)
        with caplog.at_level(logging.WARNING, logger="collectors.processor"):
            async with running(runner):
                await eventually(lambda: runner.stats.frames == len(frames))
        assert [(r.symbol, r.ts_ms) for r in sink.records] == expected_usdm(USDM[:2])
        assert runner.stats.bad_frames == len(garbage)
        assert runner.stats.reconnects == 0
        assert len(server.peers) == 1
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == len(garbage)
        assert warnings[0] == (
            "binance-usdm: bad frame skipped (JSON is malformed: invalid character (byte 4)): "
            "not json"
        )
        assert warnings[3].endswith("): \\x00ÿ")  # control characters escaped: one log line


async def test_oversized_frame_reconnects_then_delivers_the_next_frame() -> None:
    policy = ConnectionPolicy(max_frame_bytes=4096, backoff=FAST)
    huge = '{"e":"forceOrder","pad":"' + "x" * 10_000 + '"}'
    async with ScriptedServer(frames_then([huge]), frames_then(USDM[:1])) as server:
        sink = CollectingSink()
        runner = FeedRunner(BinanceUsdmFeed(server.url(), policy), sink)
        async with running(runner):
            await sink.wait_records(1)
        assert runner.stats.reconnects == 1
        assert "1009" in sink.states[2].reason


async def test_planned_rotation_opens_the_new_socket_first_and_drops_duplicates() -> None:
    policy = ConnectionPolicy(max_age_s=0.3, rotation_overlap_s=0.1, backoff=FAST)
    opened: dict[int, float] = {}
    closed: dict[int, float] = {}

    async def same_frames(peer: Peer) -> None:
        opened[peer.index] = time.monotonic()
        await peer.send_all(USDM)
        await peer.hold()
        closed[peer.index] = time.monotonic()

    async with ScriptedServer(same_frames) as server:
        sink = CollectingSink()
        runner = FeedRunner(BinanceUsdmFeed(server.url(), policy), sink)
        async with running(runner):
            await eventually(lambda: runner.stats.rotations >= 2 and 1 in closed, timeout=5)
        assert opened[1] < closed[0]  # make before break
        assert opened[2] < closed[1]
        assert len(sink.records) == len(USDM)  # every later copy was a duplicate
        assert runner.stats.duplicates >= len(USDM)
        assert runner.stats.reconnects == 0
        assert [s.up for s in sink.states] == [False, True, False]  # never went down


async def test_okx_upgrade_notice_rotates() -> None:
    notice = lines("okx_ws_control.jsonl")[1]
    async with ScriptedServer(
        frames_then([notice], after="subscribe"), frames_then(OKX[:1], after="subscribe")
    ) as server:
        sink = CollectingSink()
        runner = FeedRunner(okx_feed(server.url()), sink)
        async with running(runner):
            await sink.wait_records(1)
            await server.wait_connections(2)
        assert runner.stats.rotations == 1
        assert runner.stats.reconnects == 0


async def test_refused_connections_back_off_without_a_tight_loop() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = ConnectionPolicy(backoff=Backoff(initial_s=0.1, max_s=0.4))
    sink = CollectingSink()
    runner = FeedRunner(BinanceUsdmFeed(f"ws://127.0.0.1:{port}/ws", policy), sink)
    started = time.monotonic()
    async with running(runner):
        with pytest.raises(TimeoutError):  # a tight loop would pass 50 tries at once
            await eventually(lambda: runner.stats.connect_failures > 50, timeout=1.5)
    elapsed = time.monotonic() - started
    # Delays are at least 0.05, 0.1, 0.2, 0.2, ...: at most 9 tries in 1.5 s, at least 4.
    assert 4 <= runner.stats.connect_failures <= 9, (runner.stats.connect_failures, elapsed)
    assert "connect failed" in runner.stats.last_error
    assert [s.up for s in sink.states] == [False]


async def test_backoff_grows_for_short_lived_connections_and_resets_after_a_healthy_one() -> None:
    policy = ConnectionPolicy(backoff=Backoff(initial_s=0.2, max_s=1.6, healthy_after_s=0.5))
    events: list[tuple[str, int, float]] = []

    async def short(peer: Peer) -> None:
        events.append(("open", peer.index, time.monotonic()))
        if peer.index == 3:
            await asyncio.sleep(0.7)  # a healthy connection: longer than healthy_after_s
        await peer.ws.close()
        events.append(("close", peer.index, time.monotonic()))

    async with ScriptedServer(short) as server:
        runner = FeedRunner(BinanceUsdmFeed(server.url(), policy), CollectingSink())
        async with running(runner):
            await server.wait_connections(5, timeout=10)
    gaps = {}
    for kind, index, at in events:
        if kind == "close":
            reopen = [t for k, i, t in events if k == "open" and i == index + 1]
            if reopen:
                gaps[index] = reopen[0] - at
    assert gaps[0] >= 0.1  # delay(0) in [0.1, 0.2]
    assert gaps[1] >= 0.2  # delay(1) in [0.2, 0.4]
    assert gaps[2] >= 0.4  # delay(2) in [0.4, 0.8]
    assert gaps[3] < 0.6  # reset: delay(0) again, where delay(3) would be >= 0.8


class _OutboxFeed(BinanceUsdmFeed):
    """USDⓈ-M frames, plus subscribe frames per connection and an outbox (like Bybit's)."""

    def __init__(self, url: str, policy: ConnectionPolicy, connections: int = 1) -> None:
        super().__init__(url, policy)
        self.outbox = Outbox()
        self.outbox.want_connections(connections)

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        return [f"subscribe {connection} a", f"subscribe {connection} b"]


async def test_outbox_frames_go_out_on_the_open_socket_paced_and_are_dropped_on_reconnect() -> None:
    policy = ConnectionPolicy(send_interval_s=0.05, backoff=FAST)
    async with ScriptedServer(frames_then([])) as server:
        feed = _OutboxFeed(server.url(), policy)
        outbox = feed.outbox
        assert outbox is not None
        runner = FeedRunner(feed, CollectingSink())
        async with running(runner):
            [first] = await server.wait_connections(1)
            await first.expect(lambda m: m == "subscribe 0 b")
            outbox.put(0, ["late 1", "late 2"])
            outbox.put(0, ["delayed"], delay_s=0.2)
            outbox.put(0, ["stale"], delay_s=60)
            await first.expect(lambda m: m == "delayed")
            first.abort()
            [_, second] = await server.wait_connections(2)
            await second.expect(lambda m: m == "subscribe 0 b")
            outbox.put(0, ["after reconnect"])
            await second.expect(lambda m: m == "after reconnect")
        assert first.received == ["subscribe 0 a", "subscribe 0 b", "late 1", "late 2", "delayed"]
        assert second.received == ["subscribe 0 a", "subscribe 0 b", "after reconnect"]
        assert outbox.pending(0) == 0  # "stale" was dropped: the resubscribe covers it
    # The feed sleeps the full interval between sends; the stand-in stamps each frame when its
    # task reads it, in the same loop, so a frame read late shortens the gap after it by that
    # much (3.2 ms seen with both cores busy). Unpaced, the gap is about 0.
    at, jitter_s = first.received_at, 0.01
    assert at[1] - at[0] >= 0.05 - jitter_s  # subscribe frames are paced
    assert at[3] - at[2] >= 0.05 - jitter_s  # and so are outbox frames
    assert at[4] - at[3] >= 0.1  # "delayed" waited for its time


class _PeersWhenUp(CollectingSink):
    """Also note how many connections the server had accepted when the feed went up."""

    def __init__(self, server: ScriptedServer) -> None:
        super().__init__()
        self.server = server
        self.peers_when_up: list[int] = []

    def on_feed_state(self, change: FeedStateChange) -> None:
        if change.up:
            self.peers_when_up.append(len(self.server.peers))
        super().on_feed_state(change)


async def test_a_feed_can_ask_for_more_connections_and_is_up_only_when_all_are() -> None:
    policy = ConnectionPolicy(backoff=FAST)
    async with ScriptedServer(frames_then([])) as server:
        feed = _OutboxFeed(server.url(), policy, connections=2)
        outbox = feed.outbox
        assert outbox is not None
        sink = _PeersWhenUp(server)
        runner = FeedRunner(feed, sink)
        async with running(runner):
            peers = await server.wait_connections(2)
            for peer in peers:
                await peer.expect(lambda m: m.endswith(" b"))
            await sink.wait_until(lambda: runner.stats.connected)
            assert sink.peers_when_up == [2]  # up once both connections are, not after the first
            by_connection = {p.received[0].split()[1]: p for p in peers}
            assert set(by_connection) == {"0", "1"}
            outbox.put(1, ["for connection 1"])
            await by_connection["1"].expect(lambda m: m == "for connection 1")

            by_connection["1"].abort()
            await server.wait_connections(3)
            await sink.wait_until(lambda: len(sink.states) == 4)  # down, then up again

            outbox.want_connections(3)
            fourth = (await server.wait_connections(4))[3]
            await fourth.expect(lambda m: m == "subscribe 2 b")
        assert "for connection 1" not in by_connection["0"].received
        assert [s.up for s in sink.states] == [False, True, False, True, False]
        assert sink.states[1].reason in ("connection 0: connected", "connection 1: connected")
        assert sink.states[2].reason.startswith("connection 1: connection lost")
        assert runner.stats.reconnects == 1


async def test_interval_pings_go_out_whatever_the_traffic() -> None:
    policy = ConnectionPolicy(app_ping="hb", app_ping_every_s=0.1, backoff=FAST)

    async def busy(peer: Peer) -> None:
        while not peer.closed.is_set():  # a frame every 20 ms: never idle
            await peer.send(USDM[0])
            await asyncio.sleep(0.02)

    async with ScriptedServer(busy) as server:
        runner = FeedRunner(BinanceUsdmFeed(server.url(), policy), CollectingSink())
        async with running(runner):
            [peer] = await server.wait_connections(1)
            await eventually(lambda: peer.received.count("hb") >= 3)
        gaps = [b - a for a, b in zip(peer.received_at, peer.received_at[1:], strict=False)]
    assert all(gap >= 0.09 for gap in gaps)
    assert runner.stats.frames > 10


async def test_a_burst_of_buffered_frames_lets_other_tasks_run_while_it_drains() -> None:
    frames = [
        binance_force_order("BTCUSDT", "SELL", "0.01", "80000", 1_800_000_000_000 + i)
        for i in range(2_000)
    ]

    async def burst(peer: Peer) -> None:
        await peer.send_all(frames)
        await peer.hold()

    loop = asyncio.get_running_loop()
    ran_after: list[int] = []  # how many events were in when a callback asked for at the first ran
    sink = CollectingSink()

    class Asking(CollectingSink):
        def on_liquidation(self, record: Liquidation) -> None:
            sink.on_liquidation(record)
            if len(sink.records) == 1:  # an alert send, say, asks for the loop at once
                loop.call_soon(lambda: ran_after.append(len(sink.records)))

    async with ScriptedServer(burst) as server:
        runner = FeedRunner(BinanceUsdmFeed(server.url(), ConnectionPolicy()), Asking())
        async with running(runner):
            await sink.wait_records(len(frames))
    assert len(sink.records) == len(frames)
    # It ran within one yield's worth of frames, not after most of the buffer had drained
    # (1,789 of the 2,000 without the yield).
    assert len(ran_after) == 1
    assert ran_after[0] <= 2 * YIELD_EVERY_FRAMES <= 100
