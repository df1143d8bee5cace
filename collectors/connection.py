"""Run one feed forever: connect, subscribe, keep alive, watch, parse, reconnect.

`ConnectionPolicy` holds a feed's timings; `FeedRunner` is the loop that applies them. The frames
sent on an open socket after the subscribe (pings, the feed's outbox) are in `collectors.session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from urllib.request import getproxies, proxy_bypass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from collectors.backoff import Backoff
from collectors.clock import now_ms
from collectors.feed import Feed
from collectors.metadata import FrameRecorder, MetadataManager
from collectors.outage import OutageLog
from collectors.outbox import Outbox
from collectors.processor import FrameProcessor, Sink
from collectors.record import FeedStateChange
from collectors.session import Session, SessionEnd, close_socket, inflate, keepalive, send_outbox
from collectors.stats import FeedStats

log = logging.getLogger(__name__)

# Frames waiting for a metadata refetch; beyond this, unknown instruments are skipped at once.
_MAX_RESCUES = 100
# The reader lets the other tasks run after this many frames, even when more are buffered.
YIELD_EVERY_FRAMES = 32


def feed_proxy(url: str) -> str | None:
    """Return the proxy a feed's WebSocket goes through: the one websockets reads from the
    environment (HTTPS_PROXY; for ws:// HTTP_PROXY too), else ALL_PROXY as the bot's other
    connections read it; None when NO_PROXY lists the host or nothing is set. Read at each
    connect (a few microseconds)."""
    uri = parse_uri(url)
    found = get_proxy(uri)
    if found is None and not proxy_bypass(f"{uri.host}:{uri.port}"):
        found = getproxies().get("all")
    return found


def without_credentials(text: str, proxy: str | None) -> str:
    """Return `text` with the proxy's credentials (`user:password@` in its URL) masked."""
    userinfo = (proxy or "").partition("://")[2].rpartition("@")[0]
    return text.replace(userinfo, "***") if userinfo else text


@dataclass(frozen=True, slots=True)
class ConnectionPolicy:
    """Timings of one feed's connection: keepalive, watchdog, rotation and backoff."""

    open_timeout_s: float = 10.0
    close_timeout_s: float = 5.0
    # WebSocket protocol pings sent by the client (websockets closes the socket without a pong).
    protocol_ping_interval_s: float | None = 20.0
    protocol_ping_timeout_s: float | None = 20.0
    # Application-level ping: a text frame some exchanges require (OKX "ping", Bybit op=ping).
    app_ping: str | None = None
    app_ping_after_idle_s: float = 20.0  # send it after this long without any frame
    app_ping_every_s: float | None = None  # instead: send it this often, whatever the traffic
    # Watchdog: reconnect when no frame at all (pong included) arrived for this long.
    idle_timeout_s: float | None = None
    # Watchdog: reconnect (and warn) when no liquidation arrived for this long.
    data_silence_s: float | None = None
    # Planned reconnect before the exchange's own cut, opening the new socket first.
    max_age_s: float | None = None
    rotation_overlap_s: float = 2.0
    max_frame_bytes: int = 1 << 20
    # Pause between consecutive frames we send (subscribe chunks): some exchanges drop a burst.
    send_interval_s: float = 0.0
    backoff: Backoff = field(default_factory=Backoff)


class FeedRunner:
    """Keep one feed connected forever and hand its records to a sink.

    Reconnects with capped, jittered backoff (reset after a healthy period), resubscribes on
    every connect, sends the feed's keepalive, reconnects a socket that went silent past it,
    and rotates before the exchange's maximum connection age by opening the new socket first.
    A frame that cannot be parsed is logged (truncated), counted and dropped; the socket stays.

    A feed with an `Outbox` may want several connections (each runs the loop above and gets its
    own subscribe frames) and frames sent on an open socket after the connect-time subscribe.
    The feed counts as up while none of its connections is down.
    """

    def __init__(
        self,
        feed: Feed,
        sink: Sink,
        *,
        metadata: MetadataManager | None = None,
        recorder: FrameRecorder | None = None,
    ) -> None:
        self.feed = feed
        self._processor = FrameProcessor(feed, sink)
        self.stats: FeedStats = self._processor.stats
        self._sink = sink
        self._metadata = metadata
        self._recorder = recorder
        self._rescues: set[asyncio.Task[None]] = set()
        self._up: dict[int, bool] = {}  # connection -> up; absent until its first attempt
        self._generations: dict[int, int] = {}  # connection -> sockets opened so far
        self._outages: dict[int, OutageLog] = {}  # connection -> its failures' log throttle

    # --- connection lifecycle -------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled."""
        self._set_state(up=False, reason="starting")
        outbox = self.feed.outbox
        try:
            if outbox is None:
                await self._run_connection(0)
            else:
                await self._run_connections(outbox)
        finally:
            for task in self._rescues:
                task.cancel()
            await asyncio.gather(*self._rescues, return_exceptions=True)
            if self.stats.connected:
                self._set_state(up=False, reason="stopped")

    async def _run_connections(self, outbox: Outbox) -> None:
        """Run one connection loop per connection the feed wants, adding them as it asks."""
        running = 0
        async with asyncio.TaskGroup() as group:
            wanted = outbox.connections
            for connection in range(wanted):
                self._up[connection] = False  # the feed is up once all of these are
            while True:
                for connection in range(running, wanted):
                    group.create_task(self._run_connection(connection), name=self._name(connection))
                running = wanted
                wanted = await outbox.wait_for_connections(running)
                log.info("%s: opening connection %d of %d", self.feed.feed_id, running + 1, wanted)

    async def _run_connection(self, connection: int) -> None:
        """Keep one connection up forever: open, serve, rotate or reconnect with backoff."""
        policy = self.feed.policy
        loop = asyncio.get_running_loop()
        name = self._name(connection)
        attempt = 0
        ws: ClientConnection | None = None
        outage = self._outages.setdefault(connection, OutageLog(name, log))
        while True:
            if ws is None:
                ws = await self._open(connection)
                if ws is None:
                    self._connection_state(connection, up=False, reason=self.stats.last_error)
                    outage.failed(f"{self.stats.last_error} ({self.feed.url})")
                    delay = policy.backoff.delay(attempt)
                    attempt += 1
                    log.debug("%s: retrying in %.1fs", name, delay)
                    await asyncio.sleep(delay)
                    continue
                outage.recovered()
                self._connection_state(connection, up=True, reason="connected")
            connected_at = loop.time()
            end = await self._serve(ws, connection)
            ws = end.successor
            if ws is not None:
                self.stats.rotations += 1
                log.info("%s: rotated to a new connection (%s)", name, end.reason)
                continue
            self.stats.reconnects += 1
            self._connection_state(connection, up=False, reason=end.reason)
            if loop.time() - connected_at >= policy.backoff.healthy_after_s:
                attempt = 0
            delay = policy.backoff.delay(attempt)
            attempt += 1
            log.warning("%s: disconnected (%s); reconnecting in %.1fs", name, end.reason, delay)
            await asyncio.sleep(delay)

    def _name(self, connection: int) -> str:
        feed_id = self.feed.feed_id
        return feed_id if connection == 0 else f"{feed_id}[{connection}]"

    def _connection_state(self, connection: int, *, up: bool, reason: str) -> None:
        """Record one connection's state; the feed is up while none of its connections is down."""
        self._up[connection] = up
        if len(self._up) > 1:
            reason = f"connection {connection}: {reason}"
        if not up:
            self.stats.last_error = reason
            if self.stats.connected:
                self._set_state(up=False, reason=reason)
        elif not self.stats.connected and all(self._up.values()):
            self._set_state(up=True, reason=reason)

    def _set_state(self, *, up: bool, reason: str) -> None:
        ts = now_ms()
        self.stats.transition(up, ts)
        if not up:
            self.stats.last_error = reason
        self._sink.on_feed_state(FeedStateChange(self.feed.feed_id, up, ts, reason))

    async def _open(self, connection: int) -> ClientConnection | None:
        """Connect and subscribe once; return None (logged) on failure."""
        policy = self.feed.policy
        proxy = None
        try:
            proxy = feed_proxy(self.feed.url)
            ws = await connect(
                self.feed.url,
                proxy=proxy,
                open_timeout=policy.open_timeout_s,
                close_timeout=policy.close_timeout_s,
                ping_interval=policy.protocol_ping_interval_s,
                ping_timeout=policy.protocol_ping_timeout_s,
                max_size=policy.max_frame_bytes,
                additional_headers=self.feed.headers,
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.stats.connect_failures += 1
            self.stats.last_error = without_credentials(f"connect failed: {exc!r}", proxy)
            return None  # the caller logs it (throttled: the network may be down for hours)
        # From now on this socket sends the connection's outbox, even while a predecessor is
        # still being read during a rotation.
        self._generations[connection] = self._generations.get(connection, 0) + 1
        if self.feed.outbox is not None:
            # What was queued for the previous socket: the full subscribe below covers it.
            self.feed.outbox.clear(connection)
        try:
            for index, message in enumerate(self.feed.subscribe_messages(connection)):
                if index and policy.send_interval_s:
                    await asyncio.sleep(policy.send_interval_s)
                await ws.send(message)
        except ConnectionClosed as exc:
            self.stats.last_error = f"closed while subscribing: {exc}"
            await close_socket(ws)
            return None
        except asyncio.CancelledError:
            await close_socket(ws)
            raise
        log.info("%s: connected to %s", self._name(connection), self.feed.url)
        return ws

    async def _serve(self, ws: ClientConnection, connection: int) -> SessionEnd:
        """Read one connection until it ends, the watchdog fires or a successor is ready."""
        now = asyncio.get_running_loop().time()
        generation = self._generations[connection]
        session = Session(ws, connection, generation, opened=now, last_frame=now, last_event=now)
        name = self._name(connection)
        tasks = [asyncio.create_task(self._read(session), name=f"{name}-read")]
        policy = self.feed.policy
        if policy.app_ping is not None:
            pings = keepalive(
                session,
                policy.app_ping,
                every_s=policy.app_ping_every_s,
                after_idle_s=policy.app_ping_after_idle_s,
            )
            tasks.append(asyncio.create_task(pings))
        if self.feed.outbox is not None:
            sender = send_outbox(session, self.feed.outbox, policy.send_interval_s, self._current)
            tasks.append(asyncio.create_task(sender))
        if policy.idle_timeout_s is not None or policy.data_silence_s is not None:
            tasks.append(asyncio.create_task(self._watchdog(session)))
        tasks.append(asyncio.create_task(self._rotation(session)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finished = next(iter(done))
            try:
                end = finished.result()
            except Exception as exc:  # a bug ends this session, not the feed
                log.exception("%s: session task %s failed", name, finished.get_name())
                end = SessionEnd(f"internal error: {exc!r}")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await close_socket(ws)
        return end

    async def _read(self, session: Session) -> SessionEnd:
        # Frames already buffered are handed over without suspending: in a burst the reader
        # would drain thousands before any other task (alert sends, the other feeds) ran.
        frames = 0
        try:
            async for frame in session.ws:
                await self._on_frame(frame, session)
                frames += 1
                if frames % YIELD_EVERY_FRAMES == 0:
                    await asyncio.sleep(0)
        except ConnectionClosed as exc:
            return SessionEnd(f"connection lost: {exc}")
        ws = session.ws
        return SessionEnd(f"closed by the server: code {ws.close_code} {ws.close_reason!r}")

    def _current(self, session: Session) -> bool:
        """Return True while this socket is its connection's newest (the one that sends)."""
        return self._generations[session.connection] == session.generation

    async def _watchdog(self, session: Session) -> SessionEnd:
        loop = asyncio.get_running_loop()
        policy = self.feed.policy
        limits = [t for t in (policy.idle_timeout_s, policy.data_silence_s) if t is not None]
        tick = max(0.05, min(limits) / 10)
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            idle = policy.idle_timeout_s
            if idle is not None and now - session.last_frame >= idle:
                return SessionEnd(f"watchdog: no frame for {now - session.last_frame:.1f}s")
            silence = policy.data_silence_s
            if silence is not None and now - session.last_event >= silence:
                log.warning(
                    "%s: no liquidation for %.0fs; reconnecting. If this repeats, check the URL "
                    "(%s) and whether the exchange serves this location.",
                    self._name(session.connection),
                    now - session.last_event,
                    self.feed.url,
                )
                return SessionEnd(f"watchdog: no liquidation for {now - session.last_event:.0f}s")

    async def _rotation(self, session: Session) -> SessionEnd:
        """Wait for the planned rotation (age or server notice), then open the successor."""
        policy = self.feed.policy
        if policy.max_age_s is None:
            await session.rotate.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.rotate.wait(), policy.max_age_s)
        reason = "server notice" if session.rotate.is_set() else "maximum connection age"
        attempt = 0
        outage = self._outages.setdefault(
            session.connection, OutageLog(self._name(session.connection), log)
        )
        while True:
            successor = await self._open(session.connection)
            if successor is not None:
                outage.recovered()
                break
            outage.failed(f"rotation: {self.stats.last_error} ({self.feed.url})")
            await asyncio.sleep(policy.backoff.delay(attempt))
            attempt += 1
        # Keep reading the old socket a little while the new one buffers; RecentKeys drops
        # what both deliver.
        try:
            await asyncio.sleep(policy.rotation_overlap_s)
        except asyncio.CancelledError:
            await close_socket(successor)
            raise
        return SessionEnd(reason, successor)

    # --- frames ---------------------------------------------------------------------------

    async def _on_frame(self, frame: str | bytes, session: Session) -> None:
        recv_ms = now_ms()
        loop = asyncio.get_running_loop()
        session.last_frame = loop.time()
        if self.feed.gzip_frames:
            frame = inflate(frame, self.feed.policy.max_frame_bytes)
        if self._recorder is not None:
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            self._recorder.record(self.feed.feed_id, recv_ms, text)
        events_before = self.stats.events
        parsed = self._processor.process(frame, recv_ms)
        if parsed is None:
            return
        if parsed.reply is not None:
            with contextlib.suppress(ConnectionClosed):  # the reader sees the close next
                await session.ws.send(parsed.reply)
        if parsed.reconnect:
            log.warning("%s: %s; reconnecting", self.feed.feed_id, parsed.control)
            session.rotate.set()
        if parsed.rejected:
            unknown = [r for r in parsed.rejected if r.unknown_instrument]
            if unknown and self._metadata is not None and len(self._rescues) < _MAX_RESCUES:
                self._rescue_later(frame, recv_ms, {r.instrument for r in unknown})
            else:
                self._processor.skip_unknown(unknown)
        if self.stats.events != events_before:
            session.last_event = loop.time()

    def _rescue_later(self, frame: str | bytes, recv_ms: int, instruments: set[str]) -> None:
        """Refetch metadata for unknown instruments off the receive loop, then parse again."""
        task = asyncio.create_task(self._rescue(frame, recv_ms, instruments))
        self._rescues.add(task)
        task.add_done_callback(self._rescues.discard)

    async def _rescue(self, frame: str | bytes, recv_ms: int, instruments: set[str]) -> None:
        assert self._metadata is not None
        await self._metadata.ensure(instruments)
        self._processor.process_unknown(frame, recv_ms, instruments)
