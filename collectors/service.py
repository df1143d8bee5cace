"""Run every configured feed and its metadata refresh side by side, forever."""

from __future__ import annotations

import asyncio
import logging

import httpx

from collectors.connection import FeedRunner
from collectors.feed import Feed
from collectors.metadata import FrameRecorder, MetadataCache, MetadataManager
from collectors.processor import Sink
from collectors.record import HistorySource
from collectors.stats import FeedStats
from collectors.supervisor import Supervisor

log = logging.getLogger(__name__)


class CollectorService:
    """Own one FeedRunner per feed and one MetadataManager per feed that needs metadata."""

    def __init__(
        self,
        feeds: list[Feed],
        sink: Sink,
        *,
        http: httpx.AsyncClient | None,
        cache: MetadataCache | None,
        recorder: FrameRecorder | None = None,
        metadata_refresh_s: float = 1800.0,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.runners: dict[str, FeedRunner] = {}
        self.metadata: dict[str, MetadataManager] = {}
        self.supervisor = supervisor if supervisor is not None else Supervisor()
        self._history: dict[str, HistorySource] = {}
        for feed in feeds:
            history = None if http is None else feed.history(http)
            if history is not None:
                self._history[feed.feed_id] = history
            documents = feed.metadata_documents()
            manager = None
            if documents:
                manager = MetadataManager(
                    feed.feed_id,
                    documents,
                    http=http,
                    cache=cache,
                    recorder=recorder,
                    refresh_s=metadata_refresh_s,
                )
                self.metadata[feed.feed_id] = manager
            runner = FeedRunner(feed, sink, metadata=manager, recorder=recorder)
            if manager is not None:
                manager.on_degraded = runner.stats.set_degraded
            self.runners[feed.feed_id] = runner

    def stats(self) -> list[FeedStats]:
        """Return every feed's live counters."""
        return [runner.stats for runner in self.runners.values()]

    def history_sources(self) -> dict[str, HistorySource]:
        """Return feed id -> the REST history that can fill that feed's gaps (OKX keeps a day)."""
        return dict(self._history)

    async def run(self) -> None:
        """Load metadata, then run every feed until cancelled."""
        feed_ids = list(self.metadata)
        prepared = await asyncio.gather(
            *(self.metadata[f].prepare() for f in feed_ids), return_exceptions=True
        )
        async with asyncio.TaskGroup() as group:
            for feed_id, outcome in zip(feed_ids, prepared, strict=True):
                if isinstance(outcome, BaseException):
                    if not isinstance(outcome, Exception):
                        raise outcome  # CancelledError and friends propagate
                    log.error("%s: loading metadata failed: %r", feed_id, outcome)
                group.create_task(
                    self.supervisor.supervise(f"{feed_id} metadata", self.metadata[feed_id].run)
                )
            for feed_id, runner in self.runners.items():
                group.create_task(self.supervisor.supervise(feed_id, runner.run))
