"""Run SQL through aiosqlite without leaving a cursor for the event loop to free.

A cursor dropped on the event loop resets its statement there, which takes the connection's
mutex. If the connection's worker thread holds that mutex while it waits for another
connection's write lock (SQLite's busy handler), and that other connection needs the event loop
to commit, the loop stalls until the busy timeout: a 10 s freeze and a failed write, measured in
bench/bench_load.py. These helpers close each cursor in the worker thread instead.

And a write the caller's cancellation must not cut short: the worker thread keeps executing
after a cancelled await, and the statements not yet handed to it would be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
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


async def uncancelled(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` (a transaction, several statements) to its end even if the caller is
    cancelled meanwhile; the cancellation is delivered once it is done.

    Given up, the statements already in the worker thread would run and the rest not: the
    store's batch would lose its accounting (and the verdicts owed), a cascade message Telegram
    has would not be on record, or the store would close between them.
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
