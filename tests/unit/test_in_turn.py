"""`in_turn`: every step of a stop runs, even after one failed or was cancelled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.app.runtime import in_turn


async def test_a_cancelled_step_ends_alone_and_the_cancellation_comes_last() -> None:
    ran: list[str] = []
    started = asyncio.Event()

    async def slow() -> None:
        ran.append("slow")
        started.set()
        await asyncio.sleep(3600)  # a socket the network dropped, say
        ran.append("slow finished")

    async def step(name: str) -> None:
        await asyncio.sleep(0.01)  # a timer still works after the cancellation was taken
        with pytest.raises(TimeoutError):  # and a timeout is a timeout, not that cancellation
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
        ran.append(name)

    async def stopping() -> None:
        await in_turn(slow, lambda: step("alerts stored"), lambda: step("files closed"))

    task = asyncio.create_task(stopping())
    await started.wait()
    task.cancel()  # the grace ran out
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ran == ["slow", "alerts stored", "files closed"]
    assert task.cancelled()


async def test_the_first_failure_is_raised_and_later_ones_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    async def fails(message: str) -> None:
        ran.append(message)
        raise RuntimeError(message)

    async def fine() -> None:
        ran.append("fine")

    with pytest.raises(RuntimeError, match=r"^first$"):
        await in_turn(lambda: fails("first"), fine, lambda: fails("second"), fine)
    assert ran == ["first", "fine", "second", "fine"]
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "while stopping, also: RuntimeError('second')"


async def test_steps_that_all_succeed_raise_nothing() -> None:
    ran: list[int] = []

    async def step(number: int) -> None:
        ran.append(number)

    await in_turn(*(lambda n=n: step(n) for n in range(3)))
    assert ran == [0, 1, 2]
