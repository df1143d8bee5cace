"""A collector sink that keeps everything and lets tests wait for conditions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from collectors.record import FeedStateChange, Liquidation


class CollectingSink:
    """Keep every record and state change; wake waiters on each one."""

    def __init__(self) -> None:
        self.records: list[Liquidation] = []
        self.states: list[FeedStateChange] = []
        self._changed = asyncio.Event()

    def on_liquidation(self, record: Liquidation) -> None:
        self.records.append(record)
        self._changed.set()

    def on_feed_state(self, change: FeedStateChange) -> None:
        self.states.append(change)
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `condition()` holds, re-checking on every record or state change."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_records(self, count: int, timeout: float = 10.0) -> list[Liquidation]:
        """Wait until at least `count` records arrived."""
        await self.wait_until(lambda: len(self.records) >= count, timeout)
        return self.records
