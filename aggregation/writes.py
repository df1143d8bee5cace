"""What the store's writer buffers and counts."""

from __future__ import annotations

from collections.abc import Callable
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
