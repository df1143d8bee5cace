"""The start's read of stored events against the real aggregation and SQLite file: an event
memory cannot tell new is told once the database has stored it, so one stored just before the
read is told during it; the start takes it once (`bot.app.wiring._read_then_listen`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

from aggregation.pipeline import Aggregation
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from bot.app.runtime import Runtime
from bot.app.wiring import _read_then_listen
from collectors.record import Liquidation, Side
from tests.integration.test_restart import FEEDS

T0 = 1_800_000_000_000


def event(ts_ms: int, qty: float) -> Liquidation:
    return Liquidation(
        "binance", "usdm", "BTCUSDT", "BTC", Side.LONG, 80_000.0, qty, qty * 80_000, ts_ms, T0
    )


async def test_an_event_memory_cannot_tell_new_is_read_or_heard_never_both(
    tmp_path: Path,
) -> None:
    # Memory keeps one identity: a newer ten-second slice makes it forget the older ones.
    aggregation = Aggregation(
        LiquidationStore(tmp_path / "bot.db"),
        WindowStore(recent_keys=1),
        FEEDS,
        clock=lambda: T0,
    )
    await aggregation.store.open()
    try:
        await aggregation.start()
        aggregation.on_liquidation(event(T0 - 60_000, 1.0))
        aggregation.on_liquidation(event(T0, 2.0))  # the slice of T0 - 60 s is forgotten
        late = event(T0 - 59_000, 3.0)
        aggregation.on_liquidation(late)  # not decidable in memory: the database decides
        told: list[Liquidation] = []
        aggregation.add_listener(told.append)
        runtime = SimpleNamespace(aggregation=aggregation, queries=aggregation.queries)
        stored, heard = await _read_then_listen(
            cast(Runtime, runtime), T0 - 120_000, T0 + 60_000, min_usd=0.0, purpose="test"
        )
        assert told == [late]  # told during the read (the database's verdict: new)
        assert [r.qty_base for r in stored] == [1.0, 3.0, 2.0]  # and stored before it
        assert heard == []
    finally:
        await aggregation.store.close()
