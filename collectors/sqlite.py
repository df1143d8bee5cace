"""Run SQL through aiosqlite without leaving a cursor for the event loop to free.

A cursor dropped on the event loop resets its statement there, which takes the connection's
mutex. If the connection's worker thread holds that mutex while it waits for another
connection's write lock (SQLite's busy handler), and that other connection needs the event loop
to commit, the loop stalls until the busy timeout: a 10 s freeze and a failed write, measured in
bench/bench_load.py. These helpers close each cursor in the worker thread instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import aiosqlite


class Done(NamedTuple):
    """What a statement did."""

    rowcount: int
    lastrowid: int | None


async def execute(db: aiosqlite.Connection, sql: str, parameters: Iterable[Any] = ()) -> Done:
    """Run one statement; its cursor is closed in the connection's thread."""
    async with db.execute(sql, parameters) as cursor:
        return Done(cursor.rowcount, cursor.lastrowid)


async def executemany(
    db: aiosqlite.Connection, sql: str, parameters: Iterable[Iterable[Any]]
) -> Done:
    """Run one statement for each parameter set; its cursor is closed in the connection's thread."""
    async with db.executemany(sql, parameters) as cursor:
        return Done(cursor.rowcount, cursor.lastrowid)
