"""Read stored liquidations back from SQLite in batches, oldest first, for a CSV export."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import NamedTuple

EXPORT_COLUMNS = (
    "ts_ms",
    "exchange",
    "market",
    "symbol",
    "base",
    "side",
    "price",
    "qty",
    "notional_usd",
)

_SELECT = (
    "SELECT l.ts_ms, i.exchange, i.market, i.symbol, i.base, "
    "CASE l.side WHEN 0 THEN 'long' ELSE 'short' END, l.price, l.qty_base, l.notional_usd "
    "FROM liquidations AS l JOIN instruments AS i ON i.id = l.instrument_id "
    "WHERE l.ts_ms >= ? AND l.ts_ms < ?"
)


class ExportRow(NamedTuple):
    """One stored liquidation, in the order of EXPORT_COLUMNS (`qty` in base units)."""

    ts_ms: int
    exchange: str
    market: str
    symbol: str
    base: str
    side: str
    price: float
    qty: float
    notional_usd: float


async def export_rows(
    path: Path, since_ms: int, until_ms: int, base: str | None = None, *, batch: int = 5_000
) -> AsyncGenerator[list[ExportRow], None]:
    """Yield the stored events with since_ms <= ts < until_ms (of one asset if given), oldest
    first, `batch` rows at a time.

    A private read-only connection reads in a worker thread (the event loop never waits on
    the disk) inside one read transaction, so the export is one consistent snapshot.
    """
    if not await asyncio.to_thread(path.exists):
        return
    sql = _SELECT + (" AND i.base = ?" if base is not None else "") + " ORDER BY l.ts_ms"
    parameters: tuple[object, ...] = (since_ms, until_ms)
    if base is not None:
        parameters += (base,)
    db = await asyncio.to_thread(_connect, path)
    try:
        cursor = await asyncio.to_thread(db.execute, sql, parameters)
        while True:
            rows = await asyncio.to_thread(cursor.fetchmany, batch)
            if not rows:
                break
            yield [ExportRow(*row) for row in rows]
    finally:
        await asyncio.to_thread(db.close)


def _connect(path: Path) -> sqlite3.Connection:
    # Used from one worker thread at a time, never concurrently: the thread check is moot.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0, check_same_thread=False)
