"""What the store's writer buffers and counts, and how a batch outlives a cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aggregation.database import Backfill, Database, StateChange
from collectors.record import Liquidation

Verdict = Callable[[bool], None]


@dataclass(slots=True)
class StoreStats:
    """Counters of the writer."""

    written: int = 0  # new rows
    duplicates: int = 0  # rows the unique key ignored
    dropped: int = 0  # events the full buffer could not take (logged)
    batches: int = 0
    last_flush_ms: int | None = None
    rows_pruned: int = 0
    hours_rolled: int = 0  # hourly rollups rebuilt
    longest_batch_ms: float = 0.0  # the longest single write transaction
    write_failures: int = 0  # failed write transactions (each batch is retried)
    failing_since_ms: int | None = None  # set while writes fail, cleared by the next success
    last_write_error: str = ""


class WriteFailed(Exception):
    """A read queued behind a write that failed: the database does not hold what it must see."""


@dataclass(frozen=True, slots=True)
class CheckedItem:
    """An event the database must tell new or not; `verdict` hears which."""

    record: Liquidation
    verdict: Verdict | None


@dataclass(frozen=True, slots=True)
class ReadItem:
    """A read that must see everything buffered before it; `deliver` gets its result."""

    work: Callable[[Database], Any]
    deliver: Callable[[Any, BaseException | None], None]


WriteItem = Liquidation | CheckedItem | StateChange | Backfill | ReadItem


async def uncancelled(work: Coroutine[Any, Any, None]) -> None:
    """Run one batch's transaction to its end even if the caller is cancelled meanwhile.

    The batch has left the buffer and the database thread keeps executing after a cancelled
    await: giving up would lose the batch's accounting (and the verdicts owed). The
    cancellation is delivered once the work is done.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError
