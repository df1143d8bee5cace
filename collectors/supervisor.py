"""Run forever-tasks under supervision: a task that fails is logged, counted and restarted.

Every background loop of the process (feeds, metadata refresh, the database writer, alert
delivery, the alert journal, cascade posts) runs under one of these, so a bug or a transient
error (a locked database, a refused request) costs one round of that loop, never the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from collectors.backoff import Backoff

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Coroutine[Any, Any, None]]

# Restarts start within a second and back off to a minute; an hour up resets the count.
RESTART_BACKOFF = Backoff(initial_s=1.0, max_s=60.0, healthy_after_s=3600.0)


@dataclass(slots=True)
class TaskHealth:
    """How one supervised task has fared."""

    name: str
    restarts: int = 0
    last_error: str = ""


@dataclass(slots=True)
class Supervisor:
    """Own named background tasks; restart any that raises, after a capped jittered backoff.

    A task that returns has finished its work and is not started again; cancellation (the
    process stopping) propagates and is never counted as a failure.
    """

    backoff: Backoff = RESTART_BACKOFF
    clock: Callable[[], float] = time.monotonic
    tasks: dict[str, TaskHealth] = field(default_factory=dict)

    async def supervise(self, name: str, factory: TaskFactory) -> None:
        """Run `factory()` until it returns, restarting it whenever it raises."""
        health = self.tasks.setdefault(name, TaskHealth(name))
        attempt = 0
        while True:
            started = self.clock()
            try:
                await factory()
            except Exception as exc:  # one loop's failure must not end the process
                if self.clock() - started >= self.backoff.healthy_after_s:
                    attempt = 0
                delay = self.backoff.delay(attempt)
                attempt += 1
                health.restarts += 1
                health.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception(
                    "%s failed (restart %d); starting it again in %.1fs",
                    name,
                    health.restarts,
                    delay,
                )
                await asyncio.sleep(delay)
            else:
                return

    async def run(self, tasks: Mapping[str, TaskFactory]) -> None:
        """Supervise every task in one task group until all return or the caller is cancelled."""
        async with asyncio.TaskGroup() as group:
            for name, factory in tasks.items():
                group.create_task(self.supervise(name, factory), name=name)

    def restarts(self) -> int:
        """Return the restarts of every task so far."""
        return sum(health.restarts for health in self.tasks.values())
