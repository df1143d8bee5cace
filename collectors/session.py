"""One open socket of a feed: its state, and what is sent on it after the subscribe.

The runner (`collectors.connection`) reads the socket and decides when it ends; beside the reader
run the keepalive pings and the sender of the frames the feed queues in its `Outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from collectors.outbox import Outbox


def inflate(frame: str | bytes, max_bytes: int) -> str | bytes:
    """Return a gzip-compressed binary frame as text; leave any other frame as it is.

    A frame that does not inflate, inflates past `max_bytes` or is not UTF-8 stays as received,
    so the parser rejects and counts it like any undecodable frame.
    """
    if isinstance(frame, str):
        return frame
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 32)  # gzip or zlib header
    try:
        data = inflater.decompress(frame, max_bytes)
        if inflater.unconsumed_tail or not inflater.eof:
            return frame
        return data.decode("utf-8")
    except (zlib.error, UnicodeDecodeError):
        return frame


@dataclass(slots=True)
class Session:
    """One open socket of a feed's connection, and when it last heard anything."""

    ws: ClientConnection
    connection: int
    generation: int  # which socket of this connection sends its outbox (the newest)
    opened: float
    last_frame: float
    last_event: float
    rotate: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """Why a session ended, and the socket that takes over after a planned rotation."""

    reason: str
    successor: ClientConnection | None = None


async def close_socket(ws: ClientConnection) -> None:
    """Close the socket, reading (and dropping) what the exchange still sends until it answers.

    Its answer comes behind the frames sent before it. A busy socket that is no longer read
    fills its buffer and is no longer read from the network, so the answer would never be
    read: the close would wait its full timeout (5 s, more than a stop's grace) and drop the
    socket. Nothing is read by anyone else by now (the reader has ended).
    """
    reading = asyncio.create_task(_discard(ws))
    try:
        await ws.close()
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)


async def _discard(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass


async def keepalive(
    session: Session, ping: str, *, every_s: float | None, after_idle_s: float
) -> SessionEnd:
    """Send the application-level ping every `every_s`, or else after `after_idle_s` of quiet."""
    if every_s is not None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await session.ws.send(ping)
            except ConnectionClosed as exc:
                return SessionEnd(f"connection lost while pinging: {exc}")
    loop = asyncio.get_running_loop()
    last_ping = -after_idle_s
    while True:
        now = loop.time()
        quiet_since = max(session.last_frame, last_ping)
        if now - quiet_since >= after_idle_s:
            try:
                await session.ws.send(ping)
            except ConnectionClosed as exc:
                return SessionEnd(f"connection lost while pinging: {exc}")
            last_ping = now
            continue
        await asyncio.sleep(after_idle_s - (now - quiet_since))


async def send_outbox(
    session: Session,
    outbox: Outbox,
    interval_s: float,
    is_current: Callable[[Session], bool],
) -> SessionEnd:
    """Send what the feed queues for this connection while the socket is its newest, paced."""
    connection = session.connection
    while is_current(session):
        frames, next_due = outbox.take_due(connection)
        for index, frame in enumerate(frames):
            if index and interval_s:
                await asyncio.sleep(interval_s)
            try:
                await session.ws.send(frame)
            except ConnectionClosed as exc:
                # The frames not sent are covered by the subscribe after the reconnect.
                return SessionEnd(f"connection lost while sending: {exc}")
        await outbox.wait(connection, next_due)
    # A successor socket has taken over the outbox; this one is only read until the session
    # ends (and cancels this wait on a future that nobody resolves).
    handed_over: asyncio.Future[SessionEnd] = asyncio.get_running_loop().create_future()
    return await handed_over
