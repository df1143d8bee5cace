"""Seal finished minutes of the liquidation database into packed segments; prune past retention.

A segment is one minute's rows, column by column, so a restart reads a day in one pass. A write
into a sealed minute marks its segment dirty (see `aggregation.store`); sealing rebuilds dirty
segments and packs the minutes that have finished since the frontier.
"""

from __future__ import annotations

import asyncio

import aiosqlite

from aggregation.events import MINUTE_MS
from aggregation.schema import SELECT_EVENTS, pack_minutes
from collectors.sqlite import execute, executemany


async def seal(db: aiosqlite.Connection, frontier: int, up_to_minute: int) -> tuple[int, int]:
    """Rebuild dirty segments and pack minutes up to `up_to_minute`; return (frontier, sealed).

    Every minute at or before the returned frontier that has rows has a segment row.
    """
    async with db.execute("SELECT minute FROM segments WHERE dirty = 1") as cur:
        dirty = [int(minute) async for (minute,) in cur]
    ranges = [(m, m) for m in dirty]
    if up_to_minute > frontier:
        ranges.append((frontier + 1, up_to_minute))
    sealed = 0
    for first, last in ranges:
        rows = await db.execute_fetchall(SELECT_EVENTS, (first * MINUTE_MS, (last + 1) * MINUTE_MS))
        segments = await asyncio.to_thread(pack_minutes, list(rows))
        await executemany(
            db,
            "INSERT OR REPLACE INTO segments (minute, dirty, rows, data) VALUES (?, 0, ?, ?)",
            segments,
        )
        if first == last and first in dirty and not segments:
            await execute(db, "DELETE FROM segments WHERE minute = ?", (first,))
        sealed += len(segments)
    if up_to_minute > frontier:
        await execute(
            db, "INSERT OR REPLACE INTO meta VALUES ('seal_frontier', ?)", (up_to_minute,)
        )
        frontier = up_to_minute
    await db.commit()
    return frontier, sealed


async def prune(db: aiosqlite.Connection, cutoff_ms: int, step_ms: int) -> int:
    """Delete what ended before `cutoff_ms`, `step_ms` of events a transaction; return the rows."""
    async with db.execute("SELECT MIN(ts_ms) FROM liquidations") as cur:
        row = await cur.fetchone()
    oldest = None if row is None or row[0] is None else int(row[0])
    pruned = 0
    while oldest is not None and oldest < cutoff_ms:
        step = min(cutoff_ms, oldest + step_ms)
        cursor = await execute(db, "DELETE FROM liquidations WHERE ts_ms < ?", (step,))
        pruned += max(cursor.rowcount, 0)
        await db.commit()
        oldest = step
    cutoff_minute = cutoff_ms // MINUTE_MS
    await execute(db, "DELETE FROM segments WHERE minute < ?", (cutoff_minute,))
    if cutoff_ms % MINUTE_MS:
        # The cut went through this minute: its segment still holds the pruned rows.
        await execute(db, "UPDATE segments SET dirty = 1 WHERE minute = ?", (cutoff_minute,))
    await execute(
        db, "DELETE FROM feed_intervals WHERE end_ms IS NOT NULL AND end_ms < ?", (cutoff_ms,)
    )
    await execute(db, "DELETE FROM backfills WHERE end_ms < ?", (cutoff_ms,))
    await db.commit()
    return pruned
