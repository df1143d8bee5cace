"""The live stream: hello, snapshots, numbered tape deltas, resume, filters, slow clients."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from bot.web import WebConfig
from bot.web.schema import event_id
from collectors.record import Liquidation, Side
from tests.support.waiting import eventually
from tests.support.web import EVENTS, NOW, Rig, liq, running

FAST = WebConfig(snapshot_interval_s=0.2)


def fresh(count: int, *, base: str = "BTC", start: int = 0) -> list[Liquidation]:
    """New events, one second apart from 5 s ago, 1,000 USD and up."""
    return [
        liq("bybit", base, Side.LONG if i % 2 else Side.SHORT, 1_000.0 + i, 5 - (start + i) / 1000)
        for i in range(count)
    ]


class Reader:
    """Collect what a stream sends, by type."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(msgspec.json.decode(message.data))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def events(self) -> list[dict[str, Any]]:
        return [e for m in self.of("tape") for e in m["events"]]

    async def close(self) -> None:
        await self.ws.close()
        await self.task


async def connect(rig: Rig, query: str = "") -> Reader:
    reader = Reader(await rig.http.ws_connect(rig.url("/api/v1/stream" + query)))
    await eventually(lambda: bool(reader.of("hello")))
    return reader


async def test_hello_then_a_snapshot_equal_to_the_api(tmp_path: Path) -> None:
    async with running(tmp_path, FAST) as rig:
        reader = await connect(rig)
        await eventually(lambda: len(reader.of("snapshot")) >= 2)
        windows = await rig.get_json("/api/v1/windows")
        hour = await rig.get_json("/api/v1/top?window=1h")
        health = await rig.get_json("/api/v1/health")
        await reader.close()
    [hello] = reader.of("hello")
    assert hello == {
        "type": "hello",
        "protocol": 1,
        "epoch": rig.dashboard.hub.epoch,
        "seq": len(EVENTS),
        "resumed": False,
        "windows": ["3m", "15m", "1h", "4h", "24h"],
    }
    assert reader.messages[0] == hello
    snapshot = reader.of("snapshot")[-1]
    assert isinstance(windows, dict)
    assert isinstance(health, dict)
    assert snapshot["as_of_ms"] == NOW
    assert snapshot["windows"] == windows["windows"]
    assert list(snapshot["top"]) == ["3m", "15m", "1h", "4h", "24h"]
    assert snapshot["top"]["1h"] == hour
    assert [e["notional_usd"] for e in snapshot["largest"]] == [
        1_000_000.0, 300_000.0, 150_000.0, 50_000.0, 20_000.0, 2_500.0, 800.0
    ]  # fmt: skip
    assert snapshot["largest"][0]["id"] == event_id(EVENTS[5])
    assert snapshot["health"] == health["feeds"]
    assert reader.of("tape") == []  # nothing new since the hello


async def test_tape_deltas_are_numbered_and_batched(tmp_path: Path) -> None:
    async with running(tmp_path, FAST) as rig:
        reader = await connect(rig)
        burst = fresh(50)
        for record in burst:  # one burst: one delta
            rig.ingest(record)
        await eventually(lambda: len(reader.events()) == 50)
        rig.ingest(burst[0])  # a re-delivery is not news
        later = fresh(1, start=50)[0]
        rig.ingest(later)
        await eventually(lambda: len(reader.events()) == 51)
        await reader.close()
    tapes = reader.of("tape")
    assert [(t["seq"], t["reset"], len(t["events"])) for t in tapes] == [
        (58, False, 50),
        (59, False, 1),
    ]
    first = tapes[0]["events"][0]
    assert first == {
        "id": event_id(burst[0]),
        "exchange": "bybit",
        "market": "linear",
        "symbol": "BTCUSDT",
        "base": "BTC",
        "side": "short",
        "price": 100.0,
        "qty": 10.0,
        "notional_usd": 1_000.0,
        "ts_ms": burst[0].ts_ms,
        "seq": 9,
    }
    assert [e["seq"] for e in reader.events()] == list(range(9, 60))
    assert reader.events()[-1]["id"] == event_id(later)


async def test_a_reconnecting_page_resumes_without_loss_or_repeat(tmp_path: Path) -> None:
    async with running(tmp_path, FAST) as rig:
        events = fresh(30)
        first = await connect(rig)
        for record in events[:10]:
            rig.ingest(record)
        await eventually(lambda: len(first.events()) == 10)
        await first.close()
        last_seq = first.events()[-1]["seq"]
        epoch = first.of("hello")[0]["epoch"]
        for record in events[10:20]:  # while the page is away
            rig.ingest(record)
        second = await connect(rig, f"?since={last_seq}&epoch={epoch}")
        for record in events[20:]:
            rig.ingest(record)
        await eventually(lambda: len(second.events()) == 20)
        await second.close()
    assert second.of("hello")[0]["resumed"] is True
    ids = [e["id"] for e in first.events() + second.events()]
    assert ids == [event_id(r) for r in events]
    assert [e["seq"] for e in second.events()] == list(range(last_seq + 1, last_seq + 21))


async def test_a_resume_the_server_cannot_honour_says_so(tmp_path: Path) -> None:
    async with running(tmp_path, WebConfig(replay_events=5)) as rig:
        epoch = rig.dashboard.hub.epoch
        other = await connect(rig, "?since=3&epoch=previous-process")
        too_old = await connect(rig, f"?since=2&epoch={epoch}")  # seq 3 left the ring of 5
        kept = await connect(rig, f"?since=3&epoch={epoch}")
        await eventually(lambda: len(kept.events()) == 5)
        for reader in (other, too_old, kept):
            await reader.close()
    assert [r.of("hello")[0]["resumed"] for r in (other, too_old, kept)] == [False, False, True]
    assert other.events() == too_old.events() == []
    assert [e["seq"] for e in kept.events()] == [4, 5, 6, 7, 8]


async def test_each_page_gets_only_its_filter(tmp_path: Path) -> None:
    async with running(tmp_path, FAST) as rig:
        everything = await connect(rig)
        big_eth = await connect(rig, "?symbol=eth&min_usd=1500")
        shorts = await connect(rig, "?side=short&exchange=okx")
        records = [
            liq("okx", "ETH", Side.SHORT, 2_000.0, 3),
            liq("okx", "ETH", Side.LONG, 1_000.0, 3),
            liq("bybit", "ETH", Side.LONG, 5_000.0, 2),
            liq("okx", "BTC", Side.SHORT, 500.0, 2),
        ]
        for record in records:
            rig.ingest(record)
        await eventually(lambda: len(everything.events()) == 4)
        await eventually(lambda: len(big_eth.events()) == 2 and len(shorts.events()) == 2)
        await big_eth.ws.send_json({"type": "filter", "symbol": "BTC", "min_usd": 0})
        await big_eth.ws.send_str("not json")  # ignored
        await big_eth.ws.send_json({"type": "filter", "min_usd": -1})  # invalid: ignored
        await everything.ws.send_json({"type": "filter", "symbol": "SOL"})
        await eventually(lambda: len(rig.dashboard.hub.clients) == 3)
        await eventually(
            lambda: {c.filter.symbol for c in rig.dashboard.hub.clients} == {"BTC", "SOL", None}
        )
        rig.ingest(liq("binance", "BTC", Side.LONG, 700.0, 1))
        await eventually(lambda: len(big_eth.events()) == 3)
        await eventually(lambda: rig.dashboard.hub.tape.seq == 13)
        for reader in (everything, big_eth, shorts):
            await reader.close()
    assert [e["notional_usd"] for e in big_eth.events()] == [2_000.0, 5_000.0, 700.0]
    assert [e["notional_usd"] for e in shorts.events()] == [2_000.0, 500.0]
    assert [e["notional_usd"] for e in everything.events()] == [2_000.0, 1_000.0, 5_000.0, 500.0]


async def _stalled_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a stream and never read it (a tiny receive buffer fills at once)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(
        b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def test_a_client_that_reads_nothing_stalls_nobody(tmp_path: Path) -> None:
    config = WebConfig(send_timeout_s=1.0, replay_events=200_000, max_buffered_bytes=65_536)
    async with running(tmp_path, config) as rig:
        hub = rig.dashboard.hub
        fast = await connect(rig)
        await eventually(lambda: len(hub.clients) == 1)
        [fast_client] = hub.clients
        _, stalled = await _stalled_stream(rig.dashboard.port or 0)
        await eventually(lambda: len(hub.clients) == 2)
        [slow] = hub.clients - {fast_client}
        published = 0
        # Until the server holds more unsent bytes for the stalled page than it allows (its
        # kernel buffers are full by then): from now on it is skipped.
        assert slow.transport is not None
        while slow.transport.get_write_buffer_size() <= config.max_buffered_bytes:
            assert published < 150_000, "the stalled stream never backed up"
            for record in fresh(2_000, start=published):
                rig.ingest(record)
            published += 2_000
            await eventually(lambda n=published: len(fast.events()) == n)  # type: ignore[misc]
        for record in fresh(2_000, start=published):  # the fast page still gets everything
            rig.ingest(record)
        published += 2_000
        await eventually(lambda: len(fast.events()) == published)
        # The stalled page is dropped after the send timeout; the other stays.
        await eventually(lambda: len(hub.clients) == 1, timeout=10)
        assert hub.clients == {fast_client}
        assert hub.dropped == 1
        stalled.close()
        await fast.close()
    assert [e["seq"] for e in fast.events()] == list(range(9, 9 + published))


async def test_stopping_closes_open_streams_at_once(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        reader = await connect(rig)
        async with asyncio.timeout(5):
            await rig.dashboard.stop()
            await reader.task
    assert reader.ws.closed
    assert reader.ws.close_code == 1001
