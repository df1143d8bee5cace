"""Print liquidations and feed status lines to a terminal (console mode, no Telegram)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import TextIO

from bot.formatting import format_duration, format_price, format_usd, format_utc
from collectors.record import Liquidation, Side
from collectors.stats import FeedStateChange, FeedStats

_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_RESET = "\x1b[0m"


def use_color(stream: TextIO) -> bool:
    """Color only a terminal, and never when NO_COLOR is set."""
    return stream.isatty() and "NO_COLOR" not in os.environ


def format_event_line(record: Liquidation, *, color: bool = False) -> str:
    """Return one readable line: time, exchange, asset, side, USD size, price."""
    side = "LONG  liquidated" if record.side is Side.LONG else "SHORT liquidated"
    if color:
        # The seed's convention: red = a long was liquidated, green = a short.
        side = f"{_RED if record.side is Side.LONG else _GREEN}{side}{_RESET}"
    venue = f"{record.exchange} {record.market}"
    return (
        f"{format_utc(record.ts_ms)}  {venue:<14} {record.base:<10} {side}  "
        f"{format_usd(record.notional_usd):>9}  at {format_price(record.price)}"
    )


def format_status_line(stats: FeedStats, now_ms: int) -> str:
    """Return one status line for a feed: connected or not, events, errors, reconnects."""
    if stats.connected and stats.intervals:
        state = f"up {format_duration((now_ms - stats.intervals[-1].start_ms) / 1000)}"
    else:
        state = "DOWN" + (f" ({stats.last_error})" if stats.last_error else "")
    last = (
        f", last event {format_duration((now_ms - stats.last_event_ms) / 1000)} ago"
        if stats.last_event_ms is not None
        else ""
    )
    return (
        f"status {stats.feed_id}: {state}, {stats.events:,} events, "
        f"{stats.bad_frames:,} bad frames, {stats.unknown_instrument_events:,} unknown-instrument "
        f"events, {stats.reconnects:,} reconnects{last}"
    )


class ConsoleSink:
    """A collector sink that prints every liquidation at or above a USD floor."""

    def __init__(self, out: TextIO, *, min_usd: float, color: bool) -> None:
        self._out = out
        self._min_usd = min_usd
        self._color = color
        self.printed = 0

    def on_liquidation(self, record: Liquidation) -> None:
        """Print one line if the event is at least the floor."""
        if record.notional_usd >= self._min_usd:
            self._out.write(format_event_line(record, color=self._color) + "\n")
            self._out.flush()
            self.printed += 1

    def on_feed_state(self, change: FeedStateChange) -> None:
        """Feed transitions are logged by the collectors; nothing to print here."""


async def print_status(
    out: TextIO, stats: Callable[[], list[FeedStats]], interval_s: float
) -> None:
    """Print one status line per feed every `interval_s`, forever."""
    while True:
        await asyncio.sleep(interval_s)
        now = time.time_ns() // 1_000_000
        for feed_stats in stats():
            out.write(format_status_line(feed_stats, now) + "\n")
        out.flush()
