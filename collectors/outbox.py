"""Frames a feed queues for its open connections, and how many connections it wants."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable


class Outbox:
    """Frames a feed wants sent on its open connections, and how many connections it wants.

    Connections are numbered from 0. The feed puts frames for connection i (a subscription for a
    new listing, a retried chunk), optionally not before a delay; the runner sends them on that
    connection's open socket and drops them whenever the connection (re)connects, because the
    full subscribe on connect covers them. A feed whose topics outgrow one connection asks for
    more; the count never shrinks while the feed runs.
    """

    def __init__(self) -> None:
        self._frames: dict[int, list[tuple[float, str]]] = {}
        self._connections = 1
        # One wake-up per waiter: key i for connection i's sender, None for the runner.
        self._wakeups: dict[int | None, asyncio.Event] = {}

    @property
    def connections(self) -> int:
        """Return how many connections the feed wants."""
        return self._connections

    def want_connections(self, count: int) -> None:
        """Ask for at least `count` connections."""
        if count > self._connections:
            self._connections = count
            self._wake(None)

    def put(self, connection: int, frames: Iterable[str], *, delay_s: float = 0.0) -> None:
        """Queue frames for a connection, to go out in order once `delay_s` has passed."""
        due = time.monotonic() + delay_s
        queue = self._frames.setdefault(connection, [])
        queue.extend((due, frame) for frame in frames)
        self._wake(connection)

    def clear(self, connection: int) -> None:
        """Drop every frame queued for a connection."""
        self._frames.pop(connection, None)

    def pending(self, connection: int) -> int:
        """Return how many frames are queued for a connection."""
        return len(self._frames.get(connection, ()))

    def take_due(self, connection: int) -> tuple[list[str], float | None]:
        """Remove and return the frames that are due, and when the next one will be (monotonic).

        Clears the connection's wake-up first, so a `put` from now on wakes `wait` again.
        """
        self._wakeup(connection).clear()
        queue = self._frames.get(connection)
        if not queue:
            return [], None
        now = time.monotonic()
        due = [frame for at, frame in queue if at <= now]
        later = [(at, frame) for at, frame in queue if at > now]
        self._frames[connection] = later
        return due, min((at for at, _ in later), default=None)

    async def wait(self, connection: int, until: float | None = None) -> None:
        """Wait until frames are put for a connection (since `take_due`), or until `until`."""
        wakeup = self._wakeup(connection)
        if until is None:
            await wakeup.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), max(0.0, until - time.monotonic()))

    async def wait_for_connections(self, more_than: int) -> int:
        """Wait until the feed wants more than `more_than` connections; return how many."""
        wakeup = self._wakeup(None)
        while self._connections <= more_than:
            wakeup.clear()
            await wakeup.wait()
        return self._connections

    def _wakeup(self, key: int | None) -> asyncio.Event:
        wakeup = self._wakeups.get(key)
        if wakeup is None:
            wakeup = self._wakeups[key] = asyncio.Event()
        return wakeup

    def _wake(self, key: int | None) -> None:
        wakeup = self._wakeups.get(key)
        if wakeup is not None:
            wakeup.set()
