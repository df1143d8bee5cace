"""Console mode: collectors and aggregation, each liquidation and periodic status printed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TextIO

from aggregation.query import LiquidationQueries
from bot.app.dashboard import serve_dashboard
from bot.app.runtime import Runtime, run_until_stopped
from bot.render.status import (
    DATA_NOTE,
    format_event_line,
    format_ingest_line,
    format_market_line,
    format_status_line,
)
from bot.settings import Settings
from collectors.clock import now_ms
from collectors.record import Liquidation
from collectors.stats import FeedStats

CONSOLE_BANNER = (
    "Console mode: TELEGRAM_BOT_TOKEN is not set, so liquidations are printed here.\n"
    "To run the Telegram bot, put TELEGRAM_BOT_TOKEN=<token from @BotFather> in the "
    "environment or in .env (see .env.example).\n"
)


async def run_console(settings: Settings, out: TextIO, stop: asyncio.Event) -> None:
    """Run collectors and aggregation; print each liquidation and periodic status lines."""
    printer = ConsolePrinter(out, min_usd=settings.min_event_usd, color=use_color(out))
    async with (
        Runtime(settings, listeners=[printer.print_event]) as runtime,
        serve_dashboard(settings, runtime) as dashboard,
    ):
        loaded = runtime.start_report.events_loaded if runtime.start_report else 0
        out.write(CONSOLE_BANNER)
        out.write(
            f"Feeds: {', '.join(settings.exchanges)}. Database: {settings.database_path} "
            f"({loaded:,} events of the last 24 h restored). Events under "
            f"${settings.min_event_usd:,.0f} are not printed (MIN_EVENT_USD).\n"
        )
        if dashboard is not None:
            sign_in = " (sign in once: /?token=WEB_TOKEN)" if settings.web_token else ""
            out.write(f"Dashboard: {dashboard.url}{sign_in}\n")
        out.flush()

        def ingest_line() -> list[str]:
            health = runtime.queries.ingest_health()
            return [format_ingest_line(health.ingest, health.store, health.pending)]

        await run_until_stopped(
            stop,
            runtime.run(),
            print_status(
                out, runtime.feed_stats, runtime.queries, settings.status_interval_s, ingest_line
            ),
        )


def use_color(stream: TextIO) -> bool:
    """Color only a terminal, and never when NO_COLOR is set."""
    return stream.isatty() and "NO_COLOR" not in os.environ


class ConsolePrinter:
    """Print every new liquidation at or above a USD floor."""

    def __init__(self, out: TextIO, *, min_usd: float, color: bool) -> None:
        self._out = out
        self._min_usd = min_usd
        self._color = color
        self.printed = 0

    def print_event(self, record: Liquidation) -> None:
        """Print one line if the event is at least the floor."""
        if record.notional_usd >= self._min_usd:
            self._out.write(format_event_line(record, color=self._color) + "\n")
            self._out.flush()
            self.printed += 1


async def print_status(
    out: TextIO,
    stats: Callable[[], list[FeedStats]],
    queries: LiquidationQueries | None,
    interval_s: float,
    extra: Callable[[], list[str]] | None = None,
) -> None:
    """Every `interval_s`, print a status line per feed, any extra lines and the totals."""
    while True:
        await asyncio.sleep(interval_s)
        now = now_ms()
        for feed_stats in stats():
            out.write(format_status_line(feed_stats, now) + "\n")
        for line in extra() if extra is not None else ():
            out.write(line + "\n")
        if queries is not None:
            out.write(format_market_line(queries.market()) + "\n")
            out.write(DATA_NOTE + "\n")
        out.flush()
