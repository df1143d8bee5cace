"""Read history older than memory from the rollups: sums over whole minutes, hourly series.

These run in the database's threads (`LiquidationStore.history` or `.read`). An hour whose
hourly rollup is not rebuilt yet (marked dirty by new rows) is summed from its minutes, so
history is always what the raw rows were.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

import numpy as np

from aggregation.keys import Instrument
from aggregation.maintenance import DECODE_HOUR, MARKET, HourRow, by_asset
from aggregation.schema import (
    EVENT_DTYPE,
    SELECT_MINUTE_BEST,
    STORED_TOP_DTYPE,
    SUMS_DTYPE,
    Rows,
    group_sums,
    largest_stored,
)

HOUR_MINUTES = 60


def minute_sums(db: sqlite3.Connection, first_minute: int, end_minute: int) -> Rows:
    """Return SUMS_DTYPE entries (per instrument and side) over the minutes [first, end)."""
    parts = [
        np.frombuffer(sums, dtype=SUMS_DTYPE)
        for (sums,) in db.execute(
            "SELECT sums FROM rollups WHERE minute >= ? AND minute < ?", (first_minute, end_minute)
        )
    ]
    return _grouped(parts)


def span_sums(db: sqlite3.Connection, first_minute: int, end_minute: int) -> Rows:
    """Return SUMS_DTYPE entries over [first, end): whole hours from the hourly rollups."""
    first_hour = -(-first_minute // HOUR_MINUTES)
    end_hour = end_minute // HOUR_MINUTES
    if first_hour >= end_hour:
        return minute_sums(db, first_minute, end_minute)
    parts = [
        minute_sums(db, first_minute, first_hour * HOUR_MINUTES),
        minute_sums(db, end_hour * HOUR_MINUTES, end_minute),
    ]
    dirty = _dirty(db, first_hour, end_hour)
    for hour, sums in db.execute(
        "SELECT hour, sums FROM hours WHERE hour >= ? AND hour < ?", (first_hour, end_hour)
    ):
        if hour not in dirty:
            parts.append(np.frombuffer(sums, dtype=SUMS_DTYPE))
    missing = set(range(first_hour, end_hour)) - _present(db, first_hour, end_hour) | dirty
    parts.extend(
        minute_sums(db, hour * HOUR_MINUTES, (hour + 1) * HOUR_MINUTES) for hour in sorted(missing)
    )
    return _grouped(parts)


def asset_hours(
    db: sqlite3.Connection,
    catalog: dict[int, Instrument],
    asset: str | None,
    first_hour: int,
    end_hour: int,
) -> dict[int, HourRow]:
    """Return per hour of [first, end): per exchange [long USD, short USD, long count, short
    count, long max, short max] of one asset (None: every asset)."""
    base = MARKET if asset is None else asset
    dirty = _dirty(db, first_hour, end_hour)
    rows = {
        int(hour): DECODE_HOUR.decode(sums)
        for hour, sums in db.execute(
            "SELECT hour, sums FROM asset_hours WHERE base = ? AND hour >= ? AND hour < ?",
            (base, first_hour, end_hour),
        )
        if hour not in dirty
    }
    rebuilt = _present(db, first_hour, end_hour) - dirty
    for hour in range(first_hour, end_hour):
        if hour in rebuilt:
            continue  # rebuilt and clean: an asset without a row had no event
        sums = minute_sums(db, hour * HOUR_MINUTES, (hour + 1) * HOUR_MINUTES)
        row = by_asset(sums, catalog).get(base)
        if row is not None:
            rows[hour] = row
    return rows


def events_between(
    db: sqlite3.Connection,
    start_ms: int,
    end_ms: int,
    min_usd: float,
    limit: int,
    *,
    assets: Collection[str] = (),
    exchanges: Collection[str] = (),
    side: int | None = None,
) -> Rows:
    """Return up to `limit` stored events with start <= ts < end and at least min_usd, newest
    kept, oldest first; only of `assets`, `exchanges` (empty: any) and `side` if given."""
    rows = np.fromiter(
        db.execute(
            "SELECT ts_ms, instrument_id, side, qty_base, price, notional_usd, recv_ms FROM "
            "liquidations WHERE ts_ms >= ?1 AND ts_ms < ?2 AND notional_usd >= ?3 "
            "AND (?4 IS NULL OR instrument_id IN (SELECT id FROM instruments WHERE "
            "(?5 IS NULL OR base IN (SELECT value FROM json_each(?5))) AND "
            "(?6 IS NULL OR exchange IN (SELECT value FROM json_each(?6))))) "
            "AND (?7 IS NULL OR side = ?7) ORDER BY ts_ms DESC LIMIT ?8",
            (
                start_ms, end_ms, min_usd, 1 if assets or exchanges else None,
                json.dumps(sorted(assets)) if assets else None,
                json.dumps(sorted(exchanges)) if exchanges else None, side, limit,
            ),
        ),
        dtype=EVENT_DTYPE,
        count=-1,
    )  # fmt: skip
    return rows[::-1]


def stored_largest(db: sqlite3.Connection, first_minute: int, end_minute: int, k: int) -> Rows:
    """Return the k largest kept events of the minutes [first, end), largest first."""
    return largest_stored(minute_best(db, first_minute, end_minute), k)


def minute_best(db: sqlite3.Connection, first_minute: int, end_minute: int) -> Rows:
    """Return each stored minute's TOP_K largest events of [first, end), by minute.

    A minute rolled up before schema 3 has no `minute_best` row: its largest come from its
    per-second `tops` (read only then).
    """
    parts = [np.empty(0, STORED_TOP_DTYPE)]
    for blob, derived in db.execute(SELECT_MINUTE_BEST, (first_minute, end_minute)):
        entries = np.frombuffer(blob, dtype=STORED_TOP_DTYPE)
        parts.append(largest_stored(entries) if derived else entries)
    return np.concatenate(parts)


def _dirty(db: sqlite3.Connection, first_hour: int, end_hour: int) -> set[int]:
    return {
        int(hour)
        for (hour,) in db.execute(
            "SELECT hour FROM dirty_hours WHERE hour >= ? AND hour < ?", (first_hour, end_hour)
        )
    }


def _present(db: sqlite3.Connection, first_hour: int, end_hour: int) -> set[int]:
    return {
        int(hour)
        for (hour,) in db.execute(
            "SELECT hour FROM hours WHERE hour >= ? AND hour < ?", (first_hour, end_hour)
        )
    }


def _grouped(parts: list[Rows]) -> Rows:
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.empty(0, SUMS_DTYPE)
    entries = np.concatenate(parts)
    return group_sums(
        entries["inst"].astype(np.int64), entries["side"].astype(np.int64), entries["usd"],
        entries["count"].astype(np.int64), entries["max"],
    )  # fmt: skip
