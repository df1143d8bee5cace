"""The start's reads of stored events (`bot.app.wiring._read_then_listen`): what is counted
during a read is handed back, not lost, and a failing events database does not stop a start."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest

from aggregation.writes import WriteFailed
from bot.app.runtime import Runtime
from bot.app.wiring import _read_then_listen
from collectors.exchanges.binance import parse_usdm
from collectors.record import Liquidation
from tests.support.frames import binance_force_order


def record(qty: str) -> Liquidation:
    [parsed] = parse_usdm(binance_force_order("BTCUSDT", "SELL", qty, "80000", 1_000), 0).records
    return parsed


class Aggregation:
    def __init__(self) -> None:
        self.listeners: list[Any] = []

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        self.listeners.remove(listener)


class Queries:
    """Counts `during` while the read runs (another task's events), then answers or fails."""

    def __init__(self, aggregation: Aggregation, during: Liquidation, answer: Any) -> None:
        self._aggregation, self._during, self._answer = aggregation, during, answer
        self.asked: tuple[int, int, float] | None = None

    async def events_between(
        self, start_ms: int, end_ms: int, *, min_usd: float
    ) -> tuple[Liquidation, ...]:
        self.asked = (start_ms, end_ms, min_usd)
        for listener in list(self._aggregation.listeners):
            listener(self._during)
        if isinstance(self._answer, Exception):
            raise self._answer
        return cast(tuple[Liquidation, ...], self._answer)


class FakeRuntime:
    def __init__(self, answer: Any, during: Liquidation) -> None:
        self.aggregation = Aggregation()
        self.queries = Queries(self.aggregation, during, answer)


async def test_an_event_counted_during_the_read_is_handed_back_and_the_listener_removed() -> None:
    before, during = record("1"), record("2")
    runtime = FakeRuntime((before,), during)
    stored, heard = await _read_then_listen(
        cast(Runtime, runtime), 10, 20, min_usd=1_000.0, purpose="p"
    )
    assert (stored, heard) == ((before,), [during])
    assert runtime.queries.asked == (10, 20, 1_000.0)
    assert runtime.aggregation.listeners == []


async def test_an_event_stored_before_the_read_and_told_during_it_comes_back_once() -> None:
    # Memory could not tell it new: the database stored it, then its verdict told the listeners
    # (before the read queued behind it was served).
    older, told = record("1"), record("2")
    runtime = FakeRuntime((older, told), told)
    stored, heard = await _read_then_listen(
        cast(Runtime, runtime), 10, 20, min_usd=0.0, purpose="p"
    )
    assert (stored, heard) == ((older, told), [])


async def test_a_failing_events_database_gives_no_stored_events_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    during = record("2")
    runtime = FakeRuntime(WriteFailed("database or disk is full"), during)
    stored, heard = await _read_then_listen(
        cast(Runtime, runtime), 10, 20, min_usd=0.0, purpose="cascades are counted from now"
    )
    assert (stored, heard) == ((), [during])
    assert runtime.aggregation.listeners == []
    [line] = [r for r in caplog.records if r.name == "bot.app.wiring"]
    assert line.levelno == logging.ERROR
    assert line.getMessage() == (
        "cascades are counted from now: the stored events could not be read "
        "(database or disk is full)"
    )


async def test_another_failure_still_removes_the_listener() -> None:
    runtime = FakeRuntime(RuntimeError("a bug"), record("2"))
    with pytest.raises(RuntimeError, match="a bug"):
        await _read_then_listen(cast(Runtime, runtime), 10, 20, min_usd=0.0, purpose="p")
    assert runtime.aggregation.listeners == []
