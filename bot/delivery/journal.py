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
    """

    def __init__(self, store: BotStore, *, flush_interval_s: float = 1.0, keep_s: float = 3600.0):
        self._store = store
        self._flush_interval_s = flush_interval_s
        self._keep_s = keep_s
        self._done: list[tuple[int, str]] = []
        self._forget: list[tuple[int, str]] = []
        self.write_errors = 0

    async def on_wire(self, chat_id: int, keys: list[str]) -> None:
        """Mark alerts as being sent; returns once the mark is on disk."""
        try:
            await self._store.mark_on_wire(chat_id, keys)
        except Exception:  # the alert still goes out; only crash recovery loses precision
            self.write_errors += 1
            log.exception(
                "alert journal: marking %d alert(s) for chat %d failed", len(keys), chat_id
            )

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
