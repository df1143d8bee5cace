"""A local WebSocket server on port 0 that plays a script per connection (exchange stand-in)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

# Maps a client message to the server's automatic answer (None: no answer).
Reply = Callable[[str], str | None]


@dataclass
class Peer:
    """One accepted connection, as seen by the server script."""

    index: int
    ws: ServerConnection
    path: str
    answer_text_ping: bool = True  # reply "pong" to the text "ping" (OKX)
    auto_reply: Reply | None = None  # answer client messages (Bybit acks and pongs)
    received: list[str] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # time.monotonic() of each
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, frame: str) -> None:
        """Send one text frame."""
        await self.ws.send(frame)

    async def send_all(self, frames: list[str]) -> None:
        """Send frames in order."""
        for frame in frames:
            await self.ws.send(frame)

    async def expect(self, predicate: Callable[[str], bool], timeout: float = 5.0) -> str:
        """Wait for a client message matching `predicate` (already received ones count)."""
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for message in self.received[seen:]:
                    if predicate(message):
                        return message
                seen = len(self.received)
                self._arrived.clear()
                await self._arrived.wait()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake."""
        assert self.ws.transport is not None
        self.ws.transport.abort()

    async def hold(self) -> None:
        """Keep the connection open until the client goes away."""
        await self.closed.wait()

    async def _receive(self) -> None:
        try:
            async for message in self.ws:
                text = message if isinstance(message, str) else message.decode()
                self.received.append(text)
                self.received_at.append(time.monotonic())
                self._arrived.set()
                reply = "pong" if text == "ping" and self.answer_text_ping else None
                if self.auto_reply is not None:
                    reply = self.auto_reply(text)
                if reply is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await self.ws.send(reply)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()


Script = Callable[[Peer], Awaitable[None]]


class ScriptedServer:
    """Serve `scripts[i]` to the i-th connection (the last script repeats).

    `port` 0 picks a free one; a given port lets a test start serving where a client has been
    refused so far.
    """

    def __init__(
        self,
        *scripts: Script,
        answer_text_ping: bool = True,
        auto_reply: Reply | None = None,
        port: int = 0,
    ) -> None:
        self._scripts = scripts
        self._port = port
        self._answer_text_ping = answer_text_ping
        self.auto_reply = auto_reply  # read at each accepted connection
        self._server: Server | None = None
        self.peers: list[Peer] = []
        self._connected = asyncio.Condition()

    @property
    def port(self) -> int:
        """Return the bound port."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/ws") -> str:
        """Return the ws:// URL of this server."""
        return f"ws://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(self._handle, "127.0.0.1", self._port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.peers)
        path = ws.request.path if ws.request else ""
        peer = Peer(index, ws, path, self._answer_text_ping, self.auto_reply)
        self.peers.append(peer)
        async with self._connected:
            self._connected.notify_all()
        receiver = asyncio.create_task(peer._receive())
        script = self._scripts[min(index, len(self._scripts) - 1)]
        try:
            await script(peer)
        except ConnectionClosed:
            pass
        finally:
            if not receiver.done():
                with contextlib.suppress(ConnectionClosed):
                    await ws.close()
            await receiver

    async def wait_connections(self, count: int, timeout: float = 10.0) -> list[Peer]:
        """Wait until at least `count` connections have been accepted."""
        async with asyncio.timeout(timeout), self._connected:
            await self._connected.wait_for(lambda: len(self.peers) >= count)
        return self.peers


def frames_then(frames: list[str], then: str = "hold", *, after: str | None = None) -> Script:
    """Return a script: optionally wait for a client message containing `after`, send `frames`,
    then "hold" the connection open, "abort" it, or "close" it cleanly."""

    async def script(peer: Peer) -> None:
        if after is not None:
            await peer.expect(lambda message: after in message)
        await peer.send_all(frames)
        if then == "abort":
            peer.abort()
        elif then == "close":
            await peer.ws.close(1000, "bye")
        else:
            await peer.hold()

    return script


class LiveFeed:
    """A script that sends whatever frames the test pushes, while the connection lasts."""

    def __init__(self) -> None:
        self._frames: asyncio.Queue[str] = asyncio.Queue()
        self.connected = asyncio.Event()

    def push(self, *frames: str) -> None:
        """Queue frames for the open connection (or the next one)."""
        for frame in frames:
            self._frames.put_nowait(frame)

    async def __call__(self, peer: Peer) -> None:
        self.connected.set()
        closed = asyncio.create_task(peer.closed.wait())
        try:
            while True:
                frame = asyncio.create_task(self._frames.get())
                done, _ = await asyncio.wait({frame, closed}, return_when=asyncio.FIRST_COMPLETED)
                if frame not in done:
                    frame.cancel()
                    return  # the client went away
                await peer.send(frame.result())
        finally:
            closed.cancel()
