"""Push the live tape and a once-a-second snapshot to every open page over WebSockets.

Each event gets a sequence number and is encoded once when it arrives; the last
`replay_events` stay in a ring, so a page that reconnects with `?since=SEQ&epoch=E` gets exactly
the events after SEQ. Every client has its own writer task and a cursor into that ring: a slow
client delays nobody else, and it never holds more than the newest snapshot (a queue of one).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
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


class _Item(NamedTuple):
    seq: int
    base: str
    side: str
    exchange: str
    usd: float
    data: bytes  # the event's JSON


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
        """Number, encode and keep one event; return its sequence number."""
        self.seq += 1
        data = self._encoder.encode(event_of(record, self.seq))
        self._items.append(
            _Item(
                self.seq,
                record.base,
                record.side.value,
                record.exchange,
                record.notional_usd,
                data,
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
    __slots__ = ("cursor", "filter", "snapshot_version", "transport", "wake", "ws")

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, cursor: int, tape: TapeFilter
    ) -> None:
        self.ws = ws
        self.transport = request.transport
        self.cursor = cursor
        self.filter = tape
        self.snapshot_version = 0
        self.wake = asyncio.Event()


def tape_message(seq: int, events: list[bytes], *, reset: bool = False) -> bytes:
    """Return a tape delta: the events (already JSON), the newest sequence, a reset flag."""
    head = b'{"type":"tape","seq":%d,"reset":%s,"events":[' % (seq, b"true" if reset else b"false")
    return head + b",".join(events) + b"]}"


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
        self._build_snapshot = build_snapshot
        self._windows = windows
        self._snapshot: bytes | None = None
        self._snapshot_version = 0
        self._snapshot_at = float("-inf")
        self._flush: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        self._cache: dict[tuple[TapeFilter, int, int], list[bytes]] = {}
        self._writers: set[asyncio.Task[None]] = set()
        self._closing = False

    # --- the ingest side ------------------------------------------------------------------

    def publish(self, record: Liquidation) -> None:
        """Put an event on the tape; clients get it within the tape interval."""
        self.tape.add(record)
        if self._flush is None and self.clients:
            loop = asyncio.get_running_loop()
            at = max(loop.time(), self._last_flush + self.config.tape_interval_s)
            self._flush = loop.call_at(at, self._wake_all)

    def _wake_all(self) -> None:
        self._flush = None
        self._last_flush = asyncio.get_running_loop().time()
        if len(self._cache) > 256:
            self._cache.clear()
        for client in self.clients:
            client.wake.set()

    # --- the snapshot ---------------------------------------------------------------------

    def refresh_snapshot(self) -> None:
        """Build and encode the snapshot once for every client, and wake them."""
        self._snapshot = self._build_snapshot()
        self._snapshot_version += 1
        self._snapshot_at = asyncio.get_running_loop().time()
        for client in self.clients:
            client.wake.set()

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
        client = _Client(
            ws, request, since if resumed and since is not None else self.tape.seq, wanted
        )
        hello = Hello(API_VERSION, self.epoch, self.tape.seq, resumed, self._windows)
        try:
            await ws.send_frame(msgspec.json.encode(hello), WSMsgType.TEXT)
        except ConnectionError:
            return ws  # the page left during the handshake
        if self._snapshot is None or self._snapshot_at < (
            asyncio.get_running_loop().time() - self.config.snapshot_interval_s
        ):
            self.refresh_snapshot()
        self.clients.add(client)
        client.wake.set()
        writer = asyncio.create_task(self._write(client))
        self._writers.add(writer)
        try:
            await self._read(client)
        finally:
            self.clients.discard(client)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            self._writers.discard(writer)
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

    async def _write(self, client: _Client) -> None:
        """Send what is due whenever woken; close the stream if the page stops reading."""
        try:
            while True:
                await client.wake.wait()
                client.wake.clear()
                await self._send_tape(client)
                if client.snapshot_version < self._snapshot_version and self._snapshot:
                    version, data = self._snapshot_version, self._snapshot
                    await self._send(client, data)
                    client.snapshot_version = version
        except TimeoutError:
            log.info(
                "closing a dashboard stream that read nothing for %.0fs", self.config.send_timeout_s
            )
            if client.transport is not None:
                client.transport.abort()
        except ConnectionError:
            pass  # the page went away; the reader ends too

    @property
    def _send_timeout(self) -> float:
        return self.config.send_timeout_s

    async def _send(self, client: _Client, data: bytes) -> None:
        async with asyncio.timeout(self._send_timeout):
            await client.ws.send_frame(data, WSMsgType.TEXT)

    async def _send_tape(self, client: _Client) -> None:
        seq = self.tape.seq
        if client.cursor >= seq:
            return
        if not self.tape.covers(client.cursor):  # fell behind the ring: the page must reload
            client.cursor = seq
            await self._send(client, tape_message(seq, [], reset=True))
            return
        key = (client.filter, client.cursor, seq)
        messages = self._cache.get(key)
        if messages is None:
            events = [i.data for i in self.tape.after(client.cursor) if client.filter.matches(i)]
            messages = [
                tape_message(seq, events[start : start + MAX_EVENTS_PER_MESSAGE])
                for start in range(0, len(events), MAX_EVENTS_PER_MESSAGE)
            ]
            self._cache[key] = messages
        client.cursor = seq
        for data in messages:
            await self._send(client, data)

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
