"""Read the liquidation database's history on a second connection, in its own thread.

History (rollups older than memory, raw events for a time range) is read here so a long read
never holds up the writer's batches; with WAL, this reader sees the last committed state.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class Reader:
    """A read-only connection used from one thread, opened on first use."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._thread: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(connection, *args)` in the reader's thread."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="liquidation-history")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._run, work, args)

    def _run(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._db is None:
            self._db = sqlite3.connect(
                f"file:{self._path}?mode=ro", uri=True, timeout=10.0, check_same_thread=False
            )
        return work(self._db, *args)

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        if self._thread is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)
        self._thread = None

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
