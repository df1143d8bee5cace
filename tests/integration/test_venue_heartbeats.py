"""Gate, HTX and Bitget keepalives and handshakes through the shared connection loop."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace

from collectors.backoff import Backoff
from collectors.connection import FeedRunner
from tests.support.feeds import VALID_FRAMES, build_feed, running
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually
from tests.support.ws_server import Peer, ScriptedServer

FAST = Backoff(initial_s=0.02, max_s=0.1, healthy_after_s=0.5)


class Recorded:
    """A FrameRecorder keeping (source, frame) in order."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def record(self, source: str, recv_ms: int, frame: str) -> None:
        self.lines.append((source, frame))


async def test_htx_inflates_gzip_frames_answers_every_ping_with_its_ts_and_records_text() -> None:
    pings = ['{"op":"ping","ts":1789670081489}', '{"op":"ping","ts":"1789676447110"}']
    push = VALID_FRAMES["htx-linear"][0]

    async def server(peer: Peer) -> None:
        await peer.expect(lambda m: '"op":"sub"' in m)
        for frame in [*pings, push]:
            await peer.ws.send(gzip.compress(frame.encode()))
        await peer.ws.send(b"\x1f\x8b not gzip")  # a broken frame: counted, socket kept
        await peer.ws.send(gzip.compress(b'{"op":"ping","ts":3}'))
        await peer.hold()

    async with ScriptedServer(server) as stand_in:
        sink = CollectingSink()
        recorder = Recorded()
        feed = build_feed("htx-linear", stand_in.url("/linear-swap-notification"))
        feed.policy = replace(feed.policy, backoff=FAST)
        runner = FeedRunner(feed, sink, recorder=recorder)
        async with running(runner):
            [peer] = await stand_in.wait_connections(1)
            await peer.expect(lambda m: m == '{"op":"pong","ts":3}')
            received = list(peer.received)
    assert received == [
        '{"op":"sub","cid":"liquidations","topic":"public.*.liquidation_orders"}',
        '{"op":"pong","ts":1789670081489}',
        '{"op":"pong","ts":"1789676447110"}',
        '{"op":"pong","ts":3}',
    ]
    assert [(r.symbol, r.side.value, r.notional_usd) for r in sink.records] == [
        ("ETH-USDT", "short", 12231.3)
    ]
    assert [frame for _, frame in recorder.lines][:3] == [*pings, push]  # inflated text
    stats = runner.stats
    assert (stats.frames, stats.control_frames, stats.bad_frames, stats.reconnects) == (5, 3, 1, 0)


async def test_gate_sends_the_size_decimal_header_and_subscribes_all() -> None:
    push = VALID_FRAMES["gate-usdt"][1]

    async def server(peer: Peer) -> None:
        await peer.expect(lambda m: '"event":"subscribe"' in m)
        await peer.send(push)
        await peer.hold()

    async with ScriptedServer(server) as stand_in:
        sink = CollectingSink()
        feed = build_feed("gate-usdt", stand_in.url("/v4/ws/usdt"))
        runner = FeedRunner(feed, sink)
        async with running(runner):
            await sink.wait_records(2)
            [peer] = stand_in.peers
            assert peer.ws.request is not None
            header = peer.ws.request.headers.get("X-Gate-Size-Decimal")
    assert header == "1"
    request = json.loads(peer.received[0])
    assert (request["channel"], request["payload"]) == ("futures.public_liquidates", ["!all"])
    assert [r.qty_base for r in sink.records] == [124.5 * 0.0001, 10.5 * 0.0001]


async def test_bitget_pings_with_text_and_takes_the_pong_as_control() -> None:
    async def server(peer: Peer) -> None:
        await peer.expect(lambda m: '"op":"subscribe"' in m)
        await peer.hold()  # the stand-in answers each text ping with "pong"

    async with ScriptedServer(server) as stand_in:
        feed = build_feed("bitget", stand_in.url("/v3/ws/public"))
        feed.policy = replace(feed.policy, app_ping_every_s=0.05, backoff=FAST)
        runner = FeedRunner(feed, CollectingSink())
        async with running(runner):
            await eventually(lambda: runner.stats.control_frames >= 2, timeout=5)
            [peer] = stand_in.peers
            pings = [m for m in peer.received if m == "ping"]
            stats = replace(runner.stats)
    assert len(pings) >= 2
    assert (stats.bad_frames, stats.reconnects) == (0, 0)
