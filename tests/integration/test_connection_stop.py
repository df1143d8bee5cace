"""Closing a socket the exchange keeps sending on: at a stop and at a planned rotation.

websockets reads the exchange's answer to our close frame only behind the frames sent before it.
A socket no longer read stops being read from the network once its buffer is full, so without
reading on while closing, the answer never arrives and the close waits its full timeout. These
tests set that timeout to a minute: the old close fails them by their own 10 s limits.
"""

from __future__ import annotations

import asyncio
import contextlib

from websockets.exceptions import ConnectionClosed

from collectors.connection import ConnectionPolicy, FeedRunner
from collectors.exchanges.binance import BinanceUsdmFeed
from tests.support.frames import binance_force_order
from tests.support.sinks import CollectingSink
from tests.support.ws_server import Peer, Script, ScriptedServer

SLOW_CLOSE = 60.0  # what a close that is never answered would wait


def flood(asset: str) -> Script:
    """A script sending liquidations of `asset`, in bursts of 200 up to 200 times a second (the
    client's buffers fill within a second once it stops reading), until the client closes."""

    async def script(peer: Peer) -> None:
        ts = 1_800_000_000_000
        with contextlib.suppress(ConnectionClosed):
            while True:
                for _ in range(200):  # each a distinct event (the same one twice counts once)
                    ts += 1
                    await peer.send(binance_force_order(f"{asset}USDT", "SELL", "1", "100", ts))
                await asyncio.sleep(0.005)  # the client (in this process) gets its turn

    return script


async def test_a_stop_while_the_exchange_keeps_sending_completes_the_closing_handshake() -> None:
    async with ScriptedServer(flood("BTC")) as server:
        sink = CollectingSink()
        policy = ConnectionPolicy(close_timeout_s=SLOW_CLOSE)
        runner = FeedRunner(BinanceUsdmFeed(server.url(), policy), sink)
        task = asyncio.create_task(runner.run())
        try:
            await sink.wait_records(2_000)
            task.cancel()
            async with asyncio.timeout(10):
                await asyncio.wait([task])
                [peer] = server.peers
                await peer.closed.wait()
        finally:
            task.cancel()  # again, when the close is still waiting: the socket is dropped
            await asyncio.wait([task])
        assert task.cancelled()
        assert peer.ws.close_code == 1000  # our close frame arrived; the socket was not dropped
        assert runner.stats.connected is False
        assert sink.states[-1].reason == "stopped"


async def test_a_rotation_on_a_busy_socket_goes_on_to_the_new_one_at_once() -> None:
    async with ScriptedServer(flood("BTC"), flood("ETH")) as server:
        sink = CollectingSink()
        policy = ConnectionPolicy(close_timeout_s=SLOW_CLOSE, max_age_s=0.5, rotation_overlap_s=0.1)
        runner = FeedRunner(BinanceUsdmFeed(server.url(), policy), sink)
        task = asyncio.create_task(runner.run())
        try:
            # The new socket is read once the old one is closed (its frames wait meanwhile).
            await sink.wait_until(lambda: any(r.base == "ETH" for r in sink.records))
            old = server.peers[0]
            async with asyncio.timeout(10):
                await old.closed.wait()
            assert old.ws.close_code == 1000
            assert runner.stats.reconnects == 0  # a rotation, not a reconnect
        finally:
            task.cancel()
            await asyncio.wait([task])
