"""Journal alert delivery so that a crash neither repeats nor silently loses an alert."""

from __future__ import annotations

import asyncio
import logging

from bot.tables.bot_store import BotStore
from collectors.clock import now_ms

log = logging.getLogger(__name__)


class AlertJournal:
    """Durable "on the wire" marks before each send; batched "done" marks after.

    After a crash, an alert marked on the wire is reported as uncertain (it may have arrived,
    so it is never sent twice), and a matched alert without any mark is sent.

    The marks are group-committed: those asked for while a write is under way go together in
    the next write. In a burst the dispatcher's workers would otherwise queue one by one for
    the store's lock, each paying a transaction's round trips to the database thread before
    its send.
    """

    def __init__(self, store: BotStore, *, flush_interval_s: float = 1.0, keep_s: float = 3600.0):
        self._store = store
        self._flush_interval_s = flush_interval_s
        self._keep_s = keep_s
        self._done: list[tuple[int, str]] = []
        self._forget: list[tuple[int, str]] = []
        self._wire: list[tuple[int, str]] = []  # marks waiting for the next write
        self._wire_written: asyncio.Future[None] | None = None  # when they are on disk
        self._writer: asyncio.Task[None] | None = None
        self.write_errors = 0
        self.mark_writes = 0  # transactions that wrote "on the wire" marks

    async def on_wire(self, chat_id: int, keys: list[str]) -> None:
        """Mark alerts as being sent; returns once the mark is on disk (or failed, logged)."""
        if not keys:
            return
        self._wire.extend((chat_id, key) for key in keys)
        if self._wire_written is None:
            self._wire_written = asyncio.get_running_loop().create_future()
        written = self._wire_written
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_marks(), name="alert-journal-marks")
        # Shielded: a sender cancelled meanwhile must not cancel the others' write.
        await asyncio.shield(written)

    async def _write_marks(self) -> None:
        """Write the waiting marks, one transaction per round, until none wait."""
        written: asyncio.Future[None] | None = None
        try:
            while self._wire:
                marks, self._wire = self._wire, []
                written, self._wire_written = self._wire_written, None
                try:
                    await self._store.mark_on_wire(marks)
                    self.mark_writes += 1
                except Exception:  # the alerts still go out; only crash recovery loses precision
                    self.write_errors += 1
                    chats = len({chat_id for chat_id, _ in marks})
                    log.exception(
                        "alert journal: marking %d alert(s) for %d chat(s) failed",
                        len(marks),
                        chats,
                    )
                if written is not None:
                    written.set_result(None)
                written = None
        except asyncio.CancelledError:  # stopping: no waiting sender may go out unmarked
            for waiting in (written, self._wire_written):
                if waiting is not None:
                    waiting.cancel()
            self._wire, self._wire_written = [], None
            raise
        finally:
            self._writer = None

    def done(self, chat_id: int, keys: list[str]) -> None:
        """Queue "settled" marks (flushed in the background)."""
        self._done.extend((chat_id, key) for key in keys)

    def not_sent(self, chat_id: int, keys: list[str]) -> None:
        """Queue the removal of marks of alerts known not to have arrived (resent later)."""
        self._forget.extend((chat_id, key) for key in keys)

    async def flush(self) -> None:
        """Write the queued marks."""
        done, self._done = self._done, []
        forget, self._forget = self._forget, []
        try:
            await self._store.mark_done(done)
            await self._store.forget_alerts(forget)
        except Exception:  # marks are an optimisation of recovery, never a reason to stop
            self.write_errors += 1
            log.exception("alert journal: flushing %d mark(s) failed", len(done) + len(forget))

    async def run(self) -> None:
        """Flush every interval and prune old entries, forever."""
        while True:
            await asyncio.sleep(self._flush_interval_s)
            await self.flush()
            await self._store.prune_journal(now_ms() - int(self._keep_s * 1000))
