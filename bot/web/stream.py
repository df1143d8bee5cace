"""Push the live tape and a once-a-second snapshot to every open page over WebSockets.

Each event gets a sequence number and is encoded once when it arrives; the last
`replay_events` stay in a ring, so a page that reconnects with `?since=SEQ&epoch=E` gets exactly
the events after SEQ. Every message is framed once and the same bytes are written to every
socket that wants them, without waiting: each client is only a cursor into the ring and the
version of the snapshot it has. A client whose socket holds more than `max_buffered_bytes`
unsent is skipped (it gets the newest snapshot, never a queue of old ones, and its tape from
its cursor once it drains); one stuck past `send_timeout_s` is dropped. So a slow client delays
nobody else.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import msgspec
from aiohttp import WSMsgType, web

from bot.web.config import WebConfig
from bot.web.schema import API_VERSION, Filter, Hello, event_of
from collectors.record import Liquidation

log = logging.getLogger(__name__)

MAX_EVENTS_PER_MESSAGE = 1_000
HEARTBEAT_S = 30.0
_SIDES = ("long", "short")


class _Item(msgspec.Struct, gc=False):
    """One kept event; its JSON is encoded when a client first needs it (with no page open, an
    event costs the bot no encoding at all).

    Not tracked by the garbage collector (it holds no container that could lead back to it):
    the tape keeps 20,000 of them, most of what every collection would walk otherwise.
    """

    seq: int
    record: Liquidation
    base: str
    side: str
    exchange: str
    usd: float
    encoder: msgspec.json.Encoder  # the tape's one encoder
    encoded: bytes | None = None

    @property
    def data(self) -> bytes:
        """Return the event's JSON (encoded once)."""
        data = self.encoded
        if data is None:
            data = self.encoded = self.encoder.encode(event_of(self.record, self.seq))
        return data


class TapeFilter(NamedTuple):
    """What a page wants on its tape (None: any)."""

    symbol: str | None = None
    min_usd: float = 0.0
    side: str | None = None
    exchange: str | None = None

    def matches(self, item: _Item) -> bool:
        """Return True if the event passes the filter."""
        return (
            item.usd >= self.min_usd
            and (self.symbol is None or item.base == self.symbol)
            and (self.side is None or item.side == self.side)
            and (self.exchange is None or item.exchange == self.exchange)
        )


EVERYTHING = TapeFilter()


def parse_filter(
    symbol: str | None, min_usd: object, side: str | None, exchange: str | None
) -> TapeFilter:
    """Return a validated filter; raise ValueError with the reason."""
    if symbol is not None and symbol.strip():
        symbol = symbol.strip().upper().lstrip("$")
        if not symbol.isalnum() or len(symbol) > 24:
            raise ValueError(f"symbol must be an asset name such as BTC, not {symbol[:30]!r}")
    else:
        symbol = None
    try:
        floor = float(min_usd) if min_usd not in (None, "") else 0.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("min_usd must be a number of US dollars, e.g. 100000") from None
    if not floor >= 0.0 or floor == float("inf"):
        raise ValueError("min_usd must be a number of US dollars, e.g. 100000")
    side = side.strip().lower() if side and side.strip() else None
    if side is not None and side not in _SIDES:
        raise ValueError("side must be long or short")
    exchange = exchange.strip().lower() if exchange and exchange.strip() else None
    if exchange is not None and (not exchange.isalnum() or len(exchange) > 24):
        raise ValueError("exchange must be an exchange name such as binance")
    return TapeFilter(symbol, floor, side, exchange)


class Tape:
    """The live events, numbered in arrival order; the newest `capacity` are kept."""

    def __init__(self, capacity: int) -> None:
        self.seq = 0
        self._items: deque[_Item] = deque(maxlen=capacity)
        self._encoder = msgspec.json.Encoder()

    def add(self, record: Liquidation) -> int:
        """Number and keep one event (encoded when first sent); return its sequence number."""
        self.seq += 1
        self._items.append(
            _Item(
                self.seq,
                record,
                record.base,
                record.side.value,
                record.exchange,
                record.notional_usd,
                self._encoder,
            )
        )
        return self.seq

    def covers(self, since: int) -> bool:
        """Return True if every event after `since` is still kept."""
        first = self.seq - len(self._items) + 1
        return first - 1 <= since <= self.seq

    def after(self, since: int) -> list[_Item]:
        """Return the kept events after `since`, oldest first (walks from the newest end)."""
        found = []
        for item in reversed(self._items):
            if item.seq <= since:
                break
            found.append(item)
        found.reverse()
        return found


class _Client:
    __slots__ = ("cursor", "filter", "lagging_since", "snapshot_version", "transport", "ws")

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, cursor: int, tape: TapeFilter
    ) -> None:
        self.ws = ws
        self.transport = request.transport
        self.cursor = cursor
        self.filter = tape
        self.snapshot_version = 0
        self.lagging_since: float | None = None


def tape_message(seq: int, events: list[bytes], *, reset: bool = False) -> bytes:
    """Return a tape delta: the events (already JSON), the newest sequence, a reset flag."""
    head = b'{"type":"tape","seq":%d,"reset":%s,"events":[' % (seq, b"true" if reset else b"false")
    return head + b",".join(events) + b"]}"


def text_frame(payload: bytes) -> bytes:
    """Return a whole unmasked WebSocket text frame (RFC 6455 5.2): a server's frame."""
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + payload
    if size < 65_536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class StreamHub:
    """The open streams, the tape they share and the snapshot they all receive."""

    def __init__(
        self,
        config: WebConfig,
        build_snapshot: Callable[[], bytes],
        windows: list[str],
    ) -> None:
        self.config = config
        self.tape = Tape(config.replay_events)
        self.epoch = secrets.token_hex(6)
        self.clients: set[_Client] = set()
        self.refused = 0
        self.dropped = 0  # clients closed for reading nothing past the send timeout
        self._build_snapshot = build_snapshot
        self._windows = windows
        self._snapshot: bytes | None = None  # the framed snapshot
        self._snapshot_version = 0
        self._snapshot_at = float("-inf")
        self._flush: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        # (filter, cursor, newest seq) -> [(frame, cursor after it)]: shared by every client
        # at the same place with the same filter, so a delta is encoded and framed once.
        self._cache: dict[tuple[TapeFilter, int, int], list[tuple[bytes, int]]] = {}
        self._closing = False

    # --- the ingest side ------------------------------------------------------------------

    def publish(self, record: Liquidation) -> None:
        """Put an event on the tape; clients get it within the tape interval."""
        self.tape.add(record)
        if self._flush is None and self.clients:
            loop = asyncio.get_running_loop()
            at = max(loop.time(), self._last_flush + self.config.tape_interval_s)
            self._flush = loop.call_at(at, self._flush_tape)

    def _flush_tape(self) -> None:
        self._flush = None
        self._last_flush = asyncio.get_running_loop().time()
        self._deliver()

    def _deliver(self) -> None:
        """Write what each client is due, without waiting on any of them."""
        self._cache.clear()
        now = time.monotonic()
        for client in list(self.clients):
            self._serve(client, now)

    def _serve(self, client: _Client, now: float) -> None:
        transport = client.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > self.config.max_buffered_bytes:
            if client.lagging_since is None:
                client.lagging_since = now
            elif (stuck := now - client.lagging_since) > self.config.send_timeout_s:
                log.info("dropped a dashboard stream that read nothing for %.0fs", stuck)
                self.dropped += 1
                transport.abort()
            return
        client.lagging_since = None
        for frame, cursor in self._tape_frames(client):
            transport.write(frame)
            client.cursor = cursor
            if transport.get_write_buffer_size() > self.config.max_buffered_bytes:
                return  # the rest when it drains
        if client.snapshot_version < self._snapshot_version and self._snapshot is not None:
            transport.write(self._snapshot)
            client.snapshot_version = self._snapshot_version

    def _tape_frames(self, client: _Client) -> list[tuple[bytes, int]]:
        seq = self.tape.seq
        if client.cursor >= seq:
            return []
        if not self.tape.covers(client.cursor):  # fell behind the ring: the page must reload
            return [(text_frame(tape_message(seq, [], reset=True)), seq)]
        key = (client.filter, client.cursor, seq)
        frames = self._cache.get(key)
        if frames is None:
            items = [i for i in self.tape.after(client.cursor) if client.filter.matches(i)]
            frames = []
            for start in range(0, len(items), MAX_EVENTS_PER_MESSAGE):
                chunk = items[start : start + MAX_EVENTS_PER_MESSAGE]
                last = seq if start + MAX_EVENTS_PER_MESSAGE >= len(items) else chunk[-1].seq
                frames.append((text_frame(tape_message(last, [i.data for i in chunk])), last))
            self._cache[key] = frames
        if not frames:
            client.cursor = seq  # nothing for this filter: only move the cursor
        return frames

    # --- the snapshot ---------------------------------------------------------------------

    def refresh_snapshot(self) -> None:
        """Build, encode and frame the snapshot once for every client, and send it."""
        self._snapshot = text_frame(self._build_snapshot())
        self._snapshot_version += 1
        self._snapshot_at = asyncio.get_running_loop().time()
        self._deliver()

    async def run(self) -> None:
        """Refresh the snapshot on every whole interval while a client is connected."""
        interval = self.config.snapshot_interval_s
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval - loop.time() % interval)
            if self.clients:
                try:
                    self.refresh_snapshot()
                except Exception:  # a query bug must not end the stream for everyone
                    log.exception("dashboard snapshot failed")

    # --- one client -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one WebSocket stream until the page or the server closes it."""
        if self._closing or len(self.clients) >= self.config.max_clients:
            self.refused += 1
            raise web.HTTPServiceUnavailable(
                text='{"error":"too many dashboard streams open; try again later"}',
                content_type="application/json",
            )
        query = request.query
        try:
            wanted = parse_filter(
                query.get("symbol"), query.get("min_usd"), query.get("side"), query.get("exchange")
            )
            since = int(query["since"]) if query.get("since") else None
        except ValueError as exc:
            raise web.HTTPBadRequest(
                text=msgspec.json.encode({"error": str(exc)}).decode(),
                content_type="application/json",
            ) from None
        resumed = since is not None and query.get("epoch") == self.epoch and self.tape.covers(since)
        ws = web.WebSocketResponse(compress=False, heartbeat=HEARTBEAT_S, max_msg_size=4096)
        await ws.prepare(request)
        cursor = since if resumed and since is not None else self.tape.seq
        client = _Client(ws, request, cursor, wanted)
        hello = Hello(API_VERSION, self.epoch, self.tape.seq, resumed, self._windows)
        try:
            await ws.send_frame(msgspec.json.encode(hello), WSMsgType.TEXT)
        except ConnectionError:
            return ws  # the page left during the handshake
        self.clients.add(client)
        try:
            if self._snapshot is None or self._snapshot_at < (
                asyncio.get_running_loop().time() - self.config.snapshot_interval_s
            ):
                self.refresh_snapshot()
            else:
                self._serve(client, time.monotonic())
            await self._read(client)
        finally:
            self.clients.discard(client)
            if not ws.closed:
                await ws.close()
        return ws

    async def _read(self, client: _Client) -> None:
        """Take filter changes from the page until it closes."""
        decoder = msgspec.json.Decoder(Filter)
        async for message in client.ws:
            if message.type is not WSMsgType.TEXT:
                continue
            try:
                sent = decoder.decode(message.data)
                client.filter = parse_filter(sent.symbol, sent.min_usd, sent.side, sent.exchange)
            except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
                log.debug("ignored a stream message: %s", exc)

    async def close(self) -> None:
        """Close every stream (the server would otherwise wait for them at shutdown)."""
        self._closing = True
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        await asyncio.gather(*(_close(c) for c in list(self.clients)), return_exceptions=True)


async def _close(client: _Client) -> None:
    """Close a stream politely, or drop it if the page does not answer in time."""
    try:
        async with asyncio.timeout(2.0):
            await client.ws.close(code=1001, message=b"server shutdown")
    except TimeoutError:
        if client.transport is not None:
            client.transport.abort()
