"""Run one feed forever: connect, subscribe, keep alive, watch, parse, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from collectors.feed import Feed
from collectors.metadata import FrameRecorder, MetadataManager, now_ms
from collectors.processor import FrameProcessor, Sink
from collectors.stats import FeedStateChange, FeedStats

log = logging.getLogger(__name__)

# Frames waiting for a metadata refetch; beyond this, unknown instruments are skipped at once.
_MAX_RESCUES = 100


@dataclass(slots=True)
class _Session:
    ws: ClientConnection
    opened: float
    last_frame: float
    last_event: float
    rotate: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class _SessionEnd:
    reason: str
    successor: ClientConnection | None = None


class FeedRunner:
    """Keep one feed connected forever and hand its records to a sink.

    Reconnects with capped, jittered backoff (reset after a healthy period), resubscribes on
    every connect, sends the feed's keepalive, reconnects a socket that went silent past it,
    and rotates before the exchange's maximum connection age by opening the new socket first.
    A frame that cannot be parsed is logged (truncated), counted and dropped; the socket stays.
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

    # --- connection lifecycle -------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled."""
        policy = self.feed.policy
        loop = asyncio.get_running_loop()
        self._set_state(up=False, reason="starting")
        attempt = 0
        ws: ClientConnection | None = None
        try:
            while True:
                if ws is None:
                    ws = await self._open()
                    if ws is None:
                        delay = policy.backoff.delay(attempt)
                        attempt += 1
                        log.info("%s: retrying in %.1fs", self.feed.feed_id, delay)
                        await asyncio.sleep(delay)
                        continue
                    self._set_state(up=True, reason="connected")
                connected_at = loop.time()
                end = await self._serve(ws)
                ws = end.successor
                if ws is not None:
                    self.stats.rotations += 1
                    log.info("%s: rotated to a new connection (%s)", self.feed.feed_id, end.reason)
                    continue
                self.stats.reconnects += 1
                self._set_state(up=False, reason=end.reason)
                if loop.time() - connected_at >= policy.backoff.healthy_after_s:
                    attempt = 0
                delay = policy.backoff.delay(attempt)
                attempt += 1
                log.warning(
                    "%s: disconnected (%s); reconnecting in %.1fs",
                    self.feed.feed_id,
                    end.reason,
                    delay,
                )
                await asyncio.sleep(delay)
        finally:
            for task in self._rescues:
                task.cancel()
            await asyncio.gather(*self._rescues, return_exceptions=True)
            if self.stats.connected:
                self._set_state(up=False, reason="stopped")

    def _set_state(self, *, up: bool, reason: str) -> None:
        ts = now_ms()
        self.stats.transition(up, ts)
        if not up:
            self.stats.last_error = reason
        self._sink.on_feed_state(FeedStateChange(self.feed.feed_id, up, ts, reason))

    async def _open(self) -> ClientConnection | None:
        """Connect and subscribe once; return None (logged) on failure."""
        policy = self.feed.policy
        try:
            ws = await connect(
                self.feed.url,
                open_timeout=policy.open_timeout_s,
                close_timeout=policy.close_timeout_s,
                ping_interval=policy.protocol_ping_interval_s,
                ping_timeout=policy.protocol_ping_timeout_s,
                max_size=policy.max_frame_bytes,
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.stats.connect_failures += 1
            self.stats.last_error = f"connect failed: {exc!r}"
            log.warning("%s: connect to %s failed: %r", self.feed.feed_id, self.feed.url, exc)
            return None
        try:
            for message in self.feed.subscribe_messages():
                await ws.send(message)
        except ConnectionClosed as exc:
            self.stats.last_error = f"closed while subscribing: {exc}"
            log.warning("%s: closed while subscribing: %s", self.feed.feed_id, exc)
            await ws.close()
            return None
        log.info("%s: connected to %s", self.feed.feed_id, self.feed.url)
        return ws

    async def _serve(self, ws: ClientConnection) -> _SessionEnd:
        """Read one connection until it ends, the watchdog fires or a successor is ready."""
        now = asyncio.get_running_loop().time()
        session = _Session(ws, opened=now, last_frame=now, last_event=now)
        tasks = [asyncio.create_task(self._read(session), name=f"{self.feed.feed_id}-read")]
        policy = self.feed.policy
        if policy.app_ping is not None:
            tasks.append(asyncio.create_task(self._keepalive(session, policy.app_ping)))
        if policy.idle_timeout_s is not None or policy.data_silence_s is not None:
            tasks.append(asyncio.create_task(self._watchdog(session)))
        tasks.append(asyncio.create_task(self._rotation(session)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finished = next(iter(done))
            try:
                end = finished.result()
            except Exception as exc:  # a bug ends this session, not the feed
                log.exception("%s: session task %s failed", self.feed.feed_id, finished.get_name())
                end = _SessionEnd(f"internal error: {exc!r}")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await ws.close()
        return end

    async def _read(self, session: _Session) -> _SessionEnd:
        try:
            async for frame in session.ws:
                await self._on_frame(frame, session)
        except ConnectionClosed as exc:
            return _SessionEnd(f"connection lost: {exc}")
        ws = session.ws
        return _SessionEnd(f"closed by the server: code {ws.close_code} {ws.close_reason!r}")

    async def _keepalive(self, session: _Session, ping: str) -> _SessionEnd:
        loop = asyncio.get_running_loop()
        after_idle = self.feed.policy.app_ping_after_idle_s
        last_ping = -after_idle
        while True:
            now = loop.time()
            quiet_since = max(session.last_frame, last_ping)
            if now - quiet_since >= after_idle:
                try:
                    await session.ws.send(ping)
                except ConnectionClosed as exc:
                    return _SessionEnd(f"connection lost while pinging: {exc}")
                last_ping = now
                continue
            await asyncio.sleep(after_idle - (now - quiet_since))

    async def _watchdog(self, session: _Session) -> _SessionEnd:
        loop = asyncio.get_running_loop()
        policy = self.feed.policy
        limits = [t for t in (policy.idle_timeout_s, policy.data_silence_s) if t is not None]
        tick = max(0.05, min(limits) / 10)
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            idle = policy.idle_timeout_s
            if idle is not None and now - session.last_frame >= idle:
                return _SessionEnd(f"watchdog: no frame for {now - session.last_frame:.1f}s")
            silence = policy.data_silence_s
            if silence is not None and now - session.last_event >= silence:
                log.warning(
                    "%s: no liquidation for %.0fs; reconnecting. If this repeats, check the URL "
                    "(%s) and whether the exchange serves this location.",
                    self.feed.feed_id,
                    now - session.last_event,
                    self.feed.url,
                )
                return _SessionEnd(f"watchdog: no liquidation for {now - session.last_event:.0f}s")

    async def _rotation(self, session: _Session) -> _SessionEnd:
        """Wait for the planned rotation (age or server notice), then open the successor."""
        policy = self.feed.policy
        if policy.max_age_s is None:
            await session.rotate.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.rotate.wait(), policy.max_age_s)
        reason = "server notice" if session.rotate.is_set() else "maximum connection age"
        attempt = 0
        while True:
            successor = await self._open()
            if successor is not None:
                break
            await asyncio.sleep(policy.backoff.delay(attempt))
            attempt += 1
        # Keep reading the old socket a little while the new one buffers; RecentKeys drops
        # what both deliver.
        try:
            await asyncio.sleep(policy.rotation_overlap_s)
        except asyncio.CancelledError:
            await successor.close()
            raise
        return _SessionEnd(reason, successor)

    # --- frames ---------------------------------------------------------------------------

    async def _on_frame(self, frame: str | bytes, session: _Session) -> None:
        recv_ms = now_ms()
        loop = asyncio.get_running_loop()
        session.last_frame = loop.time()
        if self._recorder is not None:
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            self._recorder.record(self.feed.feed_id, recv_ms, text)
        events_before = self.stats.events
        parsed = self._processor.process(frame, recv_ms)
        if parsed is None:
            return
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
