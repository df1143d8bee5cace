"""The closing summary of a replay: window totals and leaderboards as of the capture's end."""

from __future__ import annotations

from collections.abc import Sequence

from aggregation.query import LiquidationQueries, RankedAsset
from bot.render.status import DATA_NOTE, format_sides
from bot.texts.durations import format_window
from bot.texts.formatting import format_usd, format_utc


def _ranked(assets: Sequence[RankedAsset]) -> str:
    if not assets:
        return "none"
    return "  ".join(f"{i}. {a.asset} {format_usd(a.usd)}" for i, a in enumerate(assets, 1))


def format_replay_summary(queries: LiquidationQueries, top: int = 10) -> str:
    """Return window totals and leaderboards as of the newest event (windows on event time)."""
    market = queries.market()
    end = market[0].end_ms
    lines = [f"As of {format_utc(end)} (the capture's newest event; windows on event time):"]
    lines.append(f"{'window':<8}{'long':>12}{'short':>12}{'total':>12}{'events':>9}")
    for totals in market:
        t = totals.totals
        lines.append(
            f"{format_window(totals.window_s):<8}{format_usd(t.long_usd):>12}"
            f"{format_usd(t.short_usd):>12}{format_usd(t.total_usd):>12}{t.count:>9,}"
        )
    longest = market[-1]
    for exchange in longest.exchanges:
        name = format_window(longest.window_s)
        lines.append(f"  {name} {exchange.exchange}: {format_sides(exchange.totals)}")
    for window_s in queries.windows_s:
        board = queries.leaderboard(window_s, top)
        name = format_window(window_s)
        lines.append(f"Top longs liquidated, {name}: {_ranked(board.longs)}")
        lines.append(f"Top shorts liquidated, {name}: {_ranked(board.shorts)}")
    lines.append(DATA_NOTE)
    return "\n".join(lines) + "\n"
