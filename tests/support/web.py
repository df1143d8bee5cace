"""A dashboard over a real Aggregation and SQLite file, on port 0, with a known set of events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp

from aggregation.coverage import FeedInfo
from aggregation.pipeline import Aggregation
from aggregation.store import LiquidationStore
from aggregation.windows import Outcome, WindowStore
from bot.web import Dashboard, FeedHealth, ProcessMetrics, WebConfig
from collectors.record import Coverage, FeedStateChange, Liquidation, Side

T0 = 1_800_000_000_000  # 2027-01-15 08:00:00 UTC
NOW = T0 + 86_400_000 + 500  # half a second into a whole second
WINDOWS_S = (180, 900, 3600, 14400, 86400)
FEEDS = (
    FeedInfo("binance-usdm", "binance", Coverage.THROTTLED),
    FeedInfo("okx", "okx", Coverage.PARTIAL),
    FeedInfo("bybit-linear", "bybit", Coverage.COMPLETE),
)
VENUES = {
    "binance": ("usdm", "{}USDT"),
    "okx": ("swap", "{}-USDT-SWAP"),
    "bybit": ("linear", "{}USDT"),
}


def liq(
    exchange: str, base: str, side: Side, usd: float, age_s: float, price: float = 100.0
) -> Liquidation:
    """An event `age_s` before NOW, its quantity worth `usd` at `price`."""
    market, pattern = VENUES[exchange]
    ts = NOW - int(age_s * 1000)
    return Liquidation(
        exchange, market, pattern.format(base), base, side, price, usd / price, usd, ts, ts + 20
    )


# Hand-checked: their totals per window are spelled out in the API tests.
EVENTS = [
    liq("binance", "BTC", Side.LONG, 150_000.0, 10, price=80_000.0),
    liq("okx", "BTC", Side.LONG, 50_000.0, 20, price=80_400.0),
    liq("bybit", "BTC", Side.SHORT, 20_000.0, 100, price=81_000.0),
    liq("okx", "ETH", Side.SHORT, 300_000.0, 600, price=3_000.0),
    liq("bybit", "SOL", Side.LONG, 2_500.0, 1_800, price=150.0),
    liq("binance", "BTC", Side.SHORT, 1_000_000.0, 7_200, price=79_000.0),
    liq("binance", "DOGE", Side.LONG, 800.0, 50_000, price=0.2),
    liq("okx", "ETH", Side.LONG, 40_000.0, 90_000, price=2_900.0),  # older than 24 h
]


def healthy_feeds(now_ms: int = NOW) -> list[FeedHealth]:
    """Every feed connected and heard from a second ago."""
    return [
        FeedHealth(f.feed_id, f.exchange, str(f.coverage), True, now_ms - 2_000, now_ms - 1_000,
                   60.0, events=10, bad_frames=1, reconnects=2)
        for f in FEEDS
    ]  # fmt: skip


@dataclass
class Rig:
    """The running dashboard and what feeds it."""

    aggregation: Aggregation
    dashboard: Dashboard
    http: aiohttp.ClientSession
    base: str
    feeds: list[FeedHealth] = field(default_factory=healthy_feeds)
    process: ProcessMetrics = field(default_factory=ProcessMetrics)

    def ingest(self, record: Liquidation) -> None:
        """The bot's ingest path: count and store, then tell the listeners."""
        if self.aggregation.ingest(record) is not Outcome.DUPLICATE:
            self.dashboard.on_liquidation(record)

    def url(self, path: str) -> str:
        """Return the absolute URL of a path."""
        return self.base + path

    async def get_json(self, path: str, status: int = 200, **kwargs: object) -> object:
        """GET a path; check the status; return the decoded JSON."""
        async with self.http.get(self.url(path), **kwargs) as response:  # type: ignore[arg-type]
            assert response.status == status, await response.text()
            return await response.json()


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path,
    config: WebConfig | None = None,
    *,
    events: list[Liquidation] | None = None,
    clock: Callable[[], int] = lambda: NOW,
) -> AsyncIterator[Rig]:
    """Serve a dashboard on port 0 over a real Aggregation holding `events` (EVENTS by default).

    Feeds are up since a day and a half ago, except okx: down for 10 minutes an hour ago.
    """
    config = replace(config or WebConfig(), port=0)
    store = await LiquidationStore(tmp_path / "web.db").open()
    aggregation = Aggregation(store, WindowStore(WINDOWS_S), FEEDS, clock=clock)
    await aggregation.start()
    for feed in FEEDS:
        aggregation.on_feed_state(
            FeedStateChange(feed.feed_id, True, NOW - 129_600_000, "connected")
        )
    aggregation.on_feed_state(FeedStateChange("okx", False, NOW - 3_600_000, "watchdog"))
    aggregation.on_feed_state(FeedStateChange("okx", True, NOW - 3_000_000, "connected"))
    holder: dict[str, Rig] = {}
    dashboard = Dashboard(
        config,
        queries=aggregation.queries,
        health=lambda: holder["rig"].feeds,
        metrics=lambda: holder["rig"].process,
        database_path=store.path,
        clock=clock,
    )
    try:
        await dashboard.start()
        async with aiohttp.ClientSession() as http:
            rig = Rig(aggregation, dashboard, http, f"http://127.0.0.1:{dashboard.port}")
            holder["rig"] = rig
            for record in EVENTS if events is None else events:
                rig.ingest(record)
            await store.flush()
            yield rig
    finally:
        await dashboard.stop()
        await store.close()
