"""Wire collectors into aggregation: the feeds, the store, the aggregation and the collectors."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import InitVar, dataclass
from types import TracebackType
from typing import Any

import httpx

from aggregation.backfill import MIN_BACKFILL_GAP_MS
from aggregation.coverage import FeedInfo
from aggregation.pipeline import Aggregation, LiquidationListener, StartReport
from aggregation.query import LiquidationQueries
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from bot.settings import Settings
from collectors.clock import now_ms
from collectors.feed import Feed
from collectors.metadata_cache import SqliteMetadataCache
from collectors.record import HistorySource
from collectors.registry import build_feeds
from collectors.service import CollectorService
from collectors.stats import FeedStats

log = logging.getLogger(__name__)


def http_client() -> httpx.AsyncClient:
    """Return the REST client used for exchange metadata and history."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0),
        headers={"User-Agent": "liquidation-bot"},
        follow_redirects=True,
    )


def history_sources(feeds: Sequence[Feed], http: httpx.AsyncClient) -> dict[str, HistorySource]:
    """Return the REST history of each feed that has one (OKX), by feed id."""
    return {f.feed_id: source for f in feeds if (source := f.history(http)) is not None}


SWITCH_INTERVAL_S = 0.001

Step = Callable[[], Awaitable[object]]  # one step of a stop (`in_turn`)


@dataclass
class Runtime:
    """Own the feeds, the store, the aggregation and the collectors of one process.

    The aggregation is built on entering (`async with`): its history sources need the REST
    client. `listeners` are added to it then.
    """

    settings: Settings
    listeners: InitVar[Sequence[LiquidationListener]] = ()
    clock: Callable[[], int] = now_ms
    min_backfill_gap_ms: int = MIN_BACKFILL_GAP_MS

    def __post_init__(self, listeners: Sequence[LiquidationListener]) -> None:
        self.feeds: list[Feed] = build_feeds(self.settings.exchanges, self.settings.endpoints())
        self.store = LiquidationStore(
            self.settings.database_path,
            retention_s=int(self.settings.retention_hours * 3600),
            history_days=self.settings.history_days,
        )
        self._listeners = tuple(listeners)
        self._aggregation: Aggregation | None = None
        self._http: httpx.AsyncClient | None = None
        self._cache: SqliteMetadataCache | None = None
        self.collectors: CollectorService | None = None
        self.start_report: StartReport | None = None
        self.started_ms = 0  # when this process began collecting (wall clock, as recv_ms)
        self._switch_interval = sys.getswitchinterval()  # restored on leaving

    @property
    def aggregation(self) -> Aggregation:
        """Return the aggregation (the collectors' sink)."""
        assert self._aggregation is not None, "use `async with Runtime(...)`"
        return self._aggregation

    @property
    def queries(self) -> LiquidationQueries:
        """Return the read API."""
        return self.aggregation.queries

    def feed_stats(self) -> list[FeedStats]:
        """Return every feed's live counters."""
        return [] if self.collectors is None else self.collectors.stats()

    async def __aenter__(self) -> Runtime:
        self.started_ms = now_ms()
        await self.store.open()
        try:
            self._http = http_client()
            self._aggregation = Aggregation(
                self.store,
                WindowStore(self.settings.windows),
                [FeedInfo(f.feed_id, f.exchange, f.coverage) for f in self.feeds],
                clock=self.clock,
                history=history_sources(self.feeds, self._http),
                min_backfill_gap_ms=self.min_backfill_gap_ms,
            )
            for listener in self._listeners:
                self._aggregation.add_listener(listener)
            self.start_report = await self._aggregation.start()
            self._cache = await SqliteMetadataCache(self.settings.database_path).open()
        except BaseException:
            await self._close()
            raise
        self.collectors = CollectorService(
            self.feeds,
            self._aggregation,
            http=self._http,
            cache=self._cache,
            metadata_refresh_s=self.settings.metadata_refresh_s,
        )
        # The database threads (the writer, the alert journal) wait for the interpreter lock
        # while the loop parses a burst: hand it over within 1 ms instead of 5 (the default),
        # so a journal mark before an alert is not held up by the burst.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        # What exists now (modules, clients, the rebuilt state) lives as long as the process:
        # keep it out of the garbage collector's full passes, which otherwise walk it all while
        # the loop waits (62 ms in a 20 s `bench_load.py --quick`; an alert's goal is 50 ms).
        # Start-up garbage is collected first. A frozen object that becomes cyclic garbage later
        # is freed only on leaving (reference counting still frees the rest).
        gc.collect()
        gc.freeze()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._close()
        finally:
            sys.setswitchinterval(self._switch_interval)
            gc.unfreeze()  # collectable again (several runtimes in one process: the tests)

    async def _close(self) -> None:
        steps: list[Step] = [self.store.close]  # it flushes what is still buffered
        if self._cache is not None:
            steps.append(self._cache.close)
        if self._http is not None:
            steps.append(self._http.aclose)
        await in_turn(*steps)

    async def run(self) -> None:
        """Run the collectors, the database writer and the gap backfills until cancelled."""
        assert self.collectors is not None, "use `async with Runtime(...)`"
        async with asyncio.TaskGroup() as group:
            group.create_task(self.aggregation.run())
            group.create_task(self.collectors.run())


async def unless_stopped(stop: asyncio.Event, coro: Coroutine[Any, Any, object]) -> bool:
    """Run `coro` until it ends (True) or `stop` is set first (it is cancelled: False)."""
    work = asyncio.ensure_future(coro)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
    if work.cancelled():
        return False
    work.result()  # its error, if any, propagates
    return True


async def in_turn(*steps: Step) -> None:
    """Run the steps of a stop one after the other, each even when one before it failed or was
    cancelled; then raise the first failure (later ones are logged).

    A stop's grace (`bot.cli.STOP_GRACE_S`) cancels the process's task once. In a plain
    `finally` that cancellation ends the block at the step it lands in, skipping the rest: the
    alerts still owed go unsaved, and a database connection left open keeps the process from
    ever ending (aiosqlite's thread is not a daemon). Here it ends that one step only.
    """
    failures: list[BaseException] = []
    for step in steps:
        try:
            await step()
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # taken: the steps after this one run as usual
            failures.append(exc)
        except Exception as exc:  # noqa: BLE001 - raised (or logged) below, after the rest
            failures.append(exc)
    for later in failures[1:]:
        if not isinstance(later, asyncio.CancelledError):  # a second signal says nothing new
            log.error("while stopping, also: %r", later, exc_info=later)
    if failures:
        raise failures[0]


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds`; return False at once if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return not stop.is_set()


async def run_until_stopped(stop: asyncio.Event, *coros: Coroutine[Any, Any, None]) -> None:
    """Run forever-coroutines until `stop` is set; an error in any of them propagates."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coro) for coro in coros]
        await stop.wait()
        for task in tasks:
            task.cancel()
