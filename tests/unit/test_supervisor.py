"""A supervised task that fails is logged, counted and restarted; cancellation is not a failure."""

from __future__ import annotations

import asyncio
import logging

import pytest

from collectors.backoff import Backoff
from collectors.supervisor import Supervisor

FAST = Backoff(initial_s=0.01, max_s=0.02, healthy_after_s=60.0)


async def test_a_failing_task_is_restarted_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")

    supervisor = Supervisor(backoff=FAST)
    with caplog.at_level(logging.ERROR, logger="collectors.supervisor"):
        await asyncio.wait_for(supervisor.run({"flaky": flaky}), 5)
    assert runs == [0, 1, 2]
    health = supervisor.tasks["flaky"]
    assert health.restarts == 2
    assert health.last_error == "RuntimeError: boom 2"
    assert supervisor.restarts() == 2
    failures = [r for r in caplog.records if r.name == "collectors.supervisor"]
    assert len(failures) == 2
    assert failures[0].getMessage().startswith("flaky failed (restart 1); starting it again in ")
    assert failures[0].exc_info is not None


async def test_one_task_failing_does_not_stop_the_others() -> None:
    ticks = 0
    stop = asyncio.Event()

    async def steady() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    failures = 0

    async def broken() -> None:
        nonlocal failures
        failures += 1
        if failures >= 4:
            stop.set()
            return
        raise ValueError("bad")

    supervisor = Supervisor(backoff=FAST)
    await asyncio.wait_for(supervisor.run({"steady": steady, "broken": broken}), 5)
    assert failures == 4
    assert supervisor.tasks["broken"].restarts == 3
    assert supervisor.tasks["steady"].restarts == 0
    assert ticks > 0


async def test_cancellation_propagates_and_is_not_a_failure() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(backoff=FAST)
    task = asyncio.create_task(supervisor.run({"forever": forever}))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert supervisor.tasks["forever"].restarts == 0


def test_restart_delays_back_off_and_are_capped() -> None:
    backoff = Backoff(initial_s=1.0, max_s=60.0)
    assert [backoff.delay(n, rand=1.0) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
