"""A restart keeps the newest events overall and per asset, and every identity it read.

Only the rows that can be among the newest kept become records at start; these tests fail if
the choice drops an asset's own newest events behind another asset's flood, or if a re-delivered
event among the rows read is counted again.
"""

from __future__ import annotations

from pathlib import Path

from aggregation.pipeline import Aggregation
from aggregation.recent import NEWEST_KEPT, NEWEST_PER_ASSET
from aggregation.store import LiquidationStore
from aggregation.windows import Outcome, WindowStore
from collectors.record import Liquidation, Side

T0 = 1_800_000_000_000


def event(base: str, i: int) -> Liquidation:
    ts = T0 + i * 100
    return Liquidation(
        "binance", "usdm", f"{base}USDT", base, Side.LONG, 100.0 + i, 1.0, 100.0 + i, ts, ts
    )


async def test_a_restart_keeps_each_assets_newest_behind_a_flood(tmp_path: Path) -> None:
    quiet = [event("SOL", i) for i in range(NEWEST_PER_ASSET + 20)]
    flood = [event("BTC", 1_000 + i) for i in range(NEWEST_KEPT + 500)]
    now = flood[-1].recv_ms + 1_000
    async with LiquidationStore(tmp_path / "liquidations.db") as store:
        aggregation = Aggregation(store, WindowStore(), [], clock=lambda: now)
        await aggregation.start()
        for record in [*quiet, *flood]:
            aggregation.on_liquidation(record)
        await store.flush()
        before_sol = aggregation.queries.latest(NEWEST_PER_ASSET, "SOL")
        before_all = aggregation.queries.latest(NEWEST_KEPT)
    async with LiquidationStore(tmp_path / "liquidations.db") as store:
        aggregation = Aggregation(store, WindowStore(), [], clock=lambda: now)
        await aggregation.start()
        queries = aggregation.queries
        assert queries.latest(NEWEST_PER_ASSET, "SOL") == before_sol
        assert [r.ts_ms for r in before_sol] == [e.ts_ms for e in reversed(quiet)][
            :NEWEST_PER_ASSET
        ]
        assert queries.latest(NEWEST_KEPT) == before_all
        assert queries.latest(1, "BTC") == (flood[-1],)
        # Every row read at start is known: a re-delivery is a duplicate, not counted again.
        assert aggregation.windows.add(quiet[0]) is Outcome.DUPLICATE
        assert aggregation.windows.add(flood[-1]) is Outcome.DUPLICATE
        day = queries.market(now)[-1].totals
        assert day.long_count == len(quiet) + len(flood)
