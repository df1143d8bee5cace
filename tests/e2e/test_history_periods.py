"""Periods in whole days (`/top 7d`, `/top 30d`) read the rollups, end to end through the real
Application, collectors and SQLite file, and the fake Bot API."""

from __future__ import annotations

from pathlib import Path

from bot.render import chat, market
from tests.e2e.test_telegram import USER, running_bot, tables
from tests.support.bot_api import FakeBotApi


async def test_top_over_days_equals_the_history_query(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        h.event("BTCUSDT", "SELL", "1", "80000")  # a $80K long
        h.event("ETHUSDT", "BUY", "20", "3000")  # a $60K short
        h.event("SOLUSDT", "SELL", "100", "150")  # a $15K long
        queries = h.bot.services.queries
        await api.wait_until(lambda: len(queries.latest(5)) == 3)
        for name, seconds in (("7d", 7 * 86_400), ("30d", 30 * 86_400), ("2d", 2 * 86_400)):
            reply = await h.command(USER, USER, f"/top {name}")
            board = await queries.top(seconds, 10)
            assert board.window_s == seconds
            assert [(a.asset, a.usd) for a in board.longs] == [("BTC", 80_000.0), ("SOL", 15_000.0)]
            assert [(a.asset, a.usd) for a in board.shorts] == [("ETH", 60_000.0)]
            assert tables(reply) == tables(market.top(board, queries.window_coverage(seconds)))
            assert f"last {name}" in reply or name in reply
        too_long = await h.command(USER, USER, "/top 91d")
        assert too_long == chat.usage_key(
            "err_window_not_kept",
            "/top 24h",
            window="91d",
            choices="3m, 15m, 1h, 4h, 24h, 2d-90d",
        )


async def test_stats_over_days_adds_the_period_row_by_exchange(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        h.event("BTCUSDT", "SELL", "1", "80000")  # a $80K long
        h.event("BTCUSDT", "BUY", "0.5", "80000")  # a $40K short
        h.event("ETHUSDT", "BUY", "20", "3000")  # another asset
        queries = h.bot.services.queries
        await api.wait_until(lambda: len(queries.latest(5)) == 3)
        week = 7 * 86_400
        reply = await h.command(USER, USER, "/stats btc 7d")
        period = await queries.totals(week, "BTC")
        assert period is not None
        assert (period.totals.long_usd, period.totals.short_usd) == (80_000.0, 40_000.0)
        windows = queries.asset("BTC")
        assert windows is not None
        expected = market.stats(
            "BTC", (*windows, period), queries.window_coverage(week), detail_s=week,
            since_ms=queries.collecting_since(week),
        )  # fmt: skip
        assert tables(reply) == tables(expected)
        assert "<b>By exchange, last 7d</b>" in reply
        market_wide = await h.command(USER, USER, "/stats 30d")
        assert "<b>By exchange, last 30d</b>" in market_wide
        assert await h.command(USER, USER, "/stats BTC 91d") == chat.usage_key(
            "err_window_not_kept",
            "/stats BTC 7d",
            window="91d",
            choices="3m, 15m, 1h, 4h, 24h, 2d-90d",
        )
