"""The whole bot end to end: the real Application polls a local Bot API while the collectors
read a local exchange; alerts, commands, admin gating, Telegram errors, summaries, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.app.application import TelegramTuning
from bot.app.telegram import RunningBot, run_telegram
from bot.handlers import registry
from bot.handlers.subscriptions import backtest
from bot.prefs.chats import ChatPrefs
from bot.prefs.schedules import Schedule
from bot.render import alerts, chat, market
from bot.render.html import plain_text
from bot.rules.matching import Rule
from bot.settings import bot_sibling
from bot.texts.catalog import DEFAULT_LANG
from collectors.exchanges.binance import parse_usdm
from collectors.record import Liquidation, Side
from tests.support.bot_api import FakeBotApi
from tests.support.exchanges import exchanges
from tests.support.frames import binance_force_order, now_ms
from tests.support.ws_server import LiveFeed

# Telegram's pacing, shortened so tests are quick: the logic is the same.
TUNING = TelegramTuning(
    group_per_minute=600,
    private_interval_s=0.2,
    group_interval_s=0.2,
    drain_timeout_s=2.0,
    poll_timeout_s=1,
    init_retry_s=0.2,
    cascade_private_edit_s=0.3,
    cascade_group_edit_s=0.3,
    cascade_tick_s=0.1,
)
USER = 111
ADMIN = 999


def tables(html: str) -> list[str]:
    """Return the <pre> blocks of a message."""
    return re.findall(r"<pre>(.*?)</pre>", html, flags=re.DOTALL)


def push_event(
    feed: LiveFeed, symbol: str, side: str, qty: str, price: str, ts_ms: int | None = None
) -> Liquidation:
    """Push a Binance USD-M liquidation (happening now by default) to the feed; return the
    bot's record of it."""
    frame = binance_force_order(symbol, side, qty, price, now_ms() if ts_ms is None else ts_ms)
    feed.push(frame)
    [record] = parse_usdm(frame, 0).records
    return record


@dataclass
class Harness:
    api: FakeBotApi
    feed: LiveFeed
    bot: RunningBot
    path: Path  # DATABASE_PATH: the events

    @property
    def bot_path(self) -> Path:
        """Return the file of the bot's own tables (beside DATABASE_PATH by default)."""
        return bot_sibling(self.path)

    def event(
        self, symbol: str, side: str, qty: str, price: str, ts_ms: int | None = None
    ) -> Liquidation:
        """Push a liquidation (happening now by default); return the bot's record of it."""
        return push_event(self.feed, symbol, side, qty, price, ts_ms)

    async def command(self, chat_id: int, user_id: int | None, text: str, **kw: object) -> str:
        """Send a command and return the bot's reply text."""
        mark = self.api.mark()
        self.api.push_text(chat_id, user_id, text, **kw)  # type: ignore[arg-type]
        [call] = await self.api.wait_for("sendMessage", lambda c: c.chat_id == chat_id, since=mark)
        return str(call.params["text"])


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path, api: FakeBotApi, **overrides: object
) -> AsyncIterator[Harness]:
    feed = LiveFeed()
    async with exchanges(usdm=[feed]) as ex:
        settings = ex.bot_settings(
            tmp_path / "bot.db", api.token, api.base_url, admin_user_ids=(ADMIN,), **overrides
        )
        stop = asyncio.Event()
        ready: list[RunningBot] = []
        task = asyncio.create_task(run_telegram(settings, stop, TUNING, ready.append))
        try:
            await api.wait_until(lambda: bool(ready) or task.done(), timeout=15)
            if task.done():
                task.result()
            await asyncio.wait_for(feed.connected.wait(), 10)
            yield Harness(api, feed, ready[0], tmp_path / "bot.db")
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def test_subscribe_then_alert_and_only_matching_events_alert(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        reply = await h.command(USER, USER, "/subscribe BTC 10k")
        assert reply == chat.rule_added(Rule(1, USER, frozenset({"BTC"}), 10_000.0))
        mark = api.mark()
        h.event("BTCUSDT", "SELL", "0.100", "80000")  # $8K: under the rule
        h.event("ETHUSDT", "SELL", "10", "3000")  # $30K of ETH: another asset
        big = h.event("BTCUSDT", "BUY", "0.5", "81000")  # $40.5K short liquidated
        [alert] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        assert alert.params["text"] == alerts.alert(big)
        assert alert.params["parse_mode"] == "HTML"
        await h.bot.runtime.aggregation.store.flush()
        stats = h.bot.services.dispatcher.stats
        assert (stats.alerts_queued, stats.alerts_delivered) == (1, 1)
        assert api.calls_to("sendMessage", chat_id=USER, since=mark + 1) == []


async def test_commands_set_and_read(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        assert [c["command"] for c in api.commands_for()] == [
            c for c, _ in registry.commands(DEFAULT_LANG)
        ]
        assert await h.command(USER, USER, "/start") == chat.start_text()
        assert await h.command(USER, USER, "/help") == chat.help_text()
        assert await h.command(USER, USER, "/subscribe all 1m short okx") == chat.rule_added(
            Rule(1, USER, frozenset(), 1_000_000.0, Side.SHORT, frozenset({"okx"}))
        )
        assert await h.command(USER, USER, "/summary daily 08:00") == chat.schedule_set(
            Schedule(USER, daily_minute=480)
        )
        assert await h.command(USER, USER, "/subs") == chat.rules_list(
            [Rule(1, USER, frozenset(), 1_000_000.0, Side.SHORT, frozenset({"okx"}))],
            Schedule(USER, daily_minute=480),
            prefs=ChatPrefs(USER),
        )
        assert await h.command(USER, USER, "/subscribe BTC 500") == chat.usage_key(
            "err_min_rule", "/subscribe BTC 10k", usd="$1K"
        )
        assert await h.command(USER, USER, "/frobnicate") == chat.usage_key("err_unknown", "/help")
        # A bare /unsubscribe now asks first (issue 17); "all" removes at once.
        assert await h.command(USER, USER, "/unsubscribe all") == chat.rules_removed(1)
        assert await h.command(USER, USER, "/summary off") == chat.schedule_set(None)
        assert await h.command(USER, USER, "/status") == chat.usage_key(
            "err_status_admins", "/stats"
        )
        api.add_private_chat(ADMIN)
        admin_menu = api.commands_for({"type": "chat", "chat_id": ADMIN})
        assert [c["command"] for c in admin_menu][-1] == "status"
        status = await h.command(ADMIN, ADMIN, "/status")
        assert "binance-usdm" in status
        assert "alerts: 0 queued" in status


async def test_stats_top_and_latest_see_the_events(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        records = [
            h.event("BTCUSDT", "SELL", "1", "80000"),
            h.event("ETHUSDT", "BUY", "20", "3000"),
            h.event("SOLUSDT", "SELL", "100", "150"),
        ]
        queries = h.bot.services.queries
        await api.wait_until(lambda: len(queries.latest(5)) == 3)
        coverage = queries.window_coverage(queries.windows_s[-1])
        # The tables are exact; coverage shares move with the clock, so they are not compared.
        stats_reply = await h.command(USER, USER, "/stats")
        assert tables(stats_reply) == tables(market.stats(None, queries.market(), coverage))
        assert len(tables(stats_reply)) == 2  # per window (USD, then events), per exchange
        assert "Binance totals are a lower bound" in stats_reply
        btc = await h.command(USER, USER, "/stats btcusdt")
        assert tables(btc) == tables(market.stats("BTC", queries.asset("BTC") or (), coverage))
        top_reply = await h.command(USER, USER, "/top 1h")
        board = queries.leaderboard(3600, 10)
        assert [a.asset for a in board.longs] == ["BTC", "SOL"]
        assert [a.asset for a in board.shorts] == ["ETH"]
        assert tables(top_reply) == tables(market.top(board, queries.window_coverage(3600)))
        assert await h.command(USER, USER, "/latest 2") == market.latest(
            [records[2], records[1]], asset=None, min_usd=10.0
        )
        assert await h.command(USER, USER, "/stats NOPE") == chat.usage_key(
            "err_no_asset_data", "/top", asset="NOPE"
        )


async def test_group_admins_configure_members_read(tmp_path: Path) -> None:
    group = -1001234
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(group)
        api.add_admin(group, 301)
        api.set_member(group, 302, "member")
        assert await h.command(group, 302, "/subscribe BTC") == chat.not_admin()
        assert await h.command(group, 301, "/subscribe BTC") == chat.rule_added(
            Rule(1, group, frozenset({"BTC"}), 100_000.0)
        )
        assert await h.command(group, None, "/summary every 4h", anonymous_admin=True) == (
            chat.schedule_set(Schedule(group, every_s=14400))
        )
        assert await h.command(group, 302, "/subs") == chat.rules_list(
            [Rule(1, group, frozenset({"BTC"}), 100_000.0)],
            Schedule(group, every_s=14400),
            prefs=ChatPrefs(group),
        )
        assert await h.command(group, 302, "/unsubscribe all") == chat.not_admin()
        assert len(h.bot.services.rules.rules_for(group)) == 1


async def test_a_channel_admin_post_configures_the_channel(tmp_path: Path) -> None:
    channel = -1009876
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_channel(channel)
        mark = api.mark()
        api.push_channel_post(channel, "/subscribe all 1m")
        [reply] = await api.wait_for("sendMessage", lambda c: c.chat_id == channel, since=mark)
        assert reply.params["text"] == chat.rule_added(Rule(1, channel, frozenset(), 1e6))
        mark = api.mark()
        big = h.event("BTCUSDT", "SELL", "20", "80000")  # $1.6M
        [alert] = await api.wait_for("sendMessage", lambda c: c.chat_id == channel, since=mark)
        assert alert.params["text"] == alerts.alert(big)


async def test_blocked_chat_is_disabled_until_start(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/subscribe BTC 10k")
        api.block(USER)
        mark = api.mark()
        h.event("BTCUSDT", "SELL", "1", "80000")
        await api.wait_for(
            "sendMessage", lambda c: c.chat_id == USER and c.status == 403, since=mark
        )
        await api.wait_until(lambda: h.bot.services.rules.rules_for(USER) == [])
        h.event("BTCUSDT", "SELL", "2", "80000")
        await api.wait_until(lambda: len(h.bot.services.queries.latest(5)) >= 2)
        assert len(api.calls_to("sendMessage", chat_id=USER, since=mark)) == 1  # nothing more tried
        with sqlite3.connect(h.bot_path) as db:
            assert db.execute(
                "SELECT active FROM bot_chats WHERE chat_id = ?", (USER,)
            ).fetchone() == (0,)
        api.set_bot_status(USER, "member")  # unblocked; the user says /start again
        await h.command(USER, USER, "/start")
        assert len(h.bot.services.rules.rules_for(USER)) == 1
        mark = api.mark()
        again = h.event("BTCUSDT", "SELL", "3", "80000")
        [alert] = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == USER and c.status == 200, since=mark
        )
        assert alert.params["text"] == alerts.alert(again)


async def test_flood_wait_429_is_waited_out_and_retried(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/subscribe BTC 10k")
        api.flood_next(
            "sendMessage", retry_after=1, chat_id=USER, times=4
        )  # outlasts PTB's 3 retries
        mark = api.mark()
        started = time.monotonic()
        record = h.event("BTCUSDT", "SELL", "1", "80000")
        calls = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == USER and c.status == 200, since=mark, timeout=15
        )
        assert time.monotonic() - started >= 4.0  # four 1 s waits: three by PTB, one by us
        assert [c.status for c in api.calls_to("sendMessage", chat_id=USER, since=mark)] == [
            429
        ] * 4 + [200]
        assert calls[0].params["text"] == alerts.alert(record)
        assert h.bot.services.dispatcher.stats.rate_limited == 1


async def test_group_migration_rewrites_the_chat_and_resends(tmp_path: Path) -> None:
    old, new = -4242, -1004242
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(old)
        api.add_admin(old, 301)
        await h.command(old, 301, "/subscribe BTC 10k")
        await h.command(old, 301, "/summary every 1h")
        api.migrate(old, new)  # silently: the bot learns it from the next send
        mark = api.mark()
        record = h.event("BTCUSDT", "SELL", "1", "80000")
        [alert] = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == new and c.status == 200, since=mark
        )
        assert alert.params["text"] == alerts.alert(record)
        assert [c.status for c in api.calls_to("sendMessage", chat_id=old, since=mark)] == [400]
        services = h.bot.services
        assert [r.chat_id for r in services.rules.rules_for(new)] == [new]
        assert services.scheduler.schedule_of(new) == Schedule(new, every_s=3600)
        with sqlite3.connect(h.bot_path) as db:
            assert db.execute("SELECT chat_id FROM bot_rules").fetchall() == [(new,)]
            assert db.execute("SELECT chat_id FROM bot_schedules").fetchall() == [(new,)]


async def test_entity_errors_are_resent_as_plain_text(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/subscribe BTC 10k")
        api.fail_next(
            "sendMessage",
            400,
            'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
            chat_id=USER,
        )
        mark = api.mark()
        record = h.event("BTCUSDT", "SELL", "1", "80000")
        calls = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == USER and c.status == 200, since=mark
        )
        assert calls[0].params["text"] == plain_text(alerts.alert(record))
        assert "parse_mode" not in calls[0].params
        assert h.bot.services.dispatcher.stats.plain_text_resends == 1


async def test_a_flood_of_alerts_becomes_a_digest(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/subscribe all 1k")
        mark = api.mark()
        records = [h.event(f"C{i}USDT", "SELL", "10", str(1000 + i)) for i in range(60)]
        dispatcher = h.bot.services.dispatcher
        await api.wait_until(lambda: dispatcher.stats.alerts_delivered == 60, timeout=10)
        sent = api.calls_to("sendMessage", chat_id=USER, since=mark)
        assert 2 <= len(sent) <= 6  # one alert at once, then digests at the chat's pace
        assert dispatcher.stats.digests_sent >= 1
        assert sent[0].params["text"] == alerts.alert(records[0])
        assert dispatcher.stats.alerts_dropped == 0


async def test_summary_job_content(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/summary every 1h")
        h.event("BTCUSDT", "SELL", "2", "80000")
        h.event("ETHUSDT", "BUY", "10", "3000")
        services = h.bot.services
        await api.wait_until(lambda: len(services.queries.latest(5)) == 2)
        [job] = services.scheduler.jobs()
        assert job.name == f"summary:{USER}"
        mark = api.mark()
        await job.run(h.bot.application)
        [call] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        text = str(call.params["text"])
        assert "BTC" in text
        assert "ETH" in text
        assert "$160.00K" in text
        assert "$30.00K" in text
        assert len(text) <= 4096


async def test_rules_schedules_and_pending_alerts_survive_a_restart(tmp_path: Path) -> None:
    async with FakeBotApi() as api:
        api.add_private_chat(USER)
        async with running_bot(tmp_path, api) as h:
            await h.command(USER, USER, "/subscribe BTC 10k")
            await h.command(USER, USER, "/summary every 15m")
            dispatcher = h.bot.services.dispatcher
            api.delay_next("sendMessage", 10, chat_id=USER)  # Telegram stalls on the first alert
            h.event("BTCUSDT", "SELL", "1", "80000")
            # Taken from the queue: in flight, held by the stalled Bot API.
            await api.wait_until(
                lambda: dispatcher.stats.alerts_queued == 1 and dispatcher.pending_alerts() == 0
            )
            queued = h.event("BTCUSDT", "BUY", "2", "80000")  # waits behind the stalled one
            await api.wait_until(lambda: dispatcher.stats.alerts_queued == 2)
        # Stopped: the stalled alert may have arrived (uncertain, not resent); the queued one
        # was stored.
        with sqlite3.connect(bot_sibling(tmp_path / "bot.db")) as db:
            assert db.execute("SELECT chat_id FROM bot_pending").fetchall() == [(USER,)]
        api.clear_scripts()
        mark = api.mark()
        async with running_bot(tmp_path, api) as h:
            services = h.bot.services
            assert services.rules.rules_for(USER) == [Rule(1, USER, frozenset({"BTC"}), 10_000.0)]
            assert services.scheduler.schedule_of(USER) == Schedule(USER, every_s=900)
            [call] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
            assert call.params["text"] == f"{alerts.dropped_notice(0, 1)}\n{alerts.alert(queued)}"
            rule = Rule(1, USER, frozenset({"BTC"}), 10_000.0)
            assert await h.command(USER, USER, "/subs") == chat.rules_list(
                [rule],
                Schedule(USER, every_s=900),
                prefs=ChatPrefs(USER),
                # issue 17: /subs shows each rule's backtest (here the 2 restored events)
                backtests={1: await backtest(services, rule)},
            )
        with sqlite3.connect(bot_sibling(tmp_path / "bot.db")) as db:
            assert db.execute("SELECT COUNT(*) FROM bot_pending").fetchone() == (0,)


async def test_channel_ids_get_the_default_schedule_without_a_command(tmp_path: Path) -> None:
    channel = -1005555
    async with FakeBotApi() as api:
        api.add_channel(channel)
        async with running_bot(
            tmp_path, api, channel_ids=(channel,), summary_schedule="every 4h"
        ) as h:
            scheduler = h.bot.services.scheduler
            assert scheduler.schedule_of(channel) == Schedule(channel, every_s=14400)
            [job] = scheduler.jobs()
            assert job.name == f"summary:{channel}"
            api.push_channel_post(channel, "/summary daily 06:30")  # the channel's admins decide
            await api.wait_until(
                lambda: scheduler.schedule_of(channel) == Schedule(channel, daily_minute=390)
            )
        async with running_bot(
            tmp_path, api, channel_ids=(channel,), summary_schedule="every 4h"
        ) as h:
            assert h.bot.services.scheduler.schedule_of(channel) == Schedule(
                channel, daily_minute=390
            )


async def test_commands_with_the_bot_name_and_the_rule_limit(tmp_path: Path) -> None:
    # 53 commands from one user in a few seconds: lift the per-user limit for this test
    async with FakeBotApi() as api, running_bot(tmp_path, api, commands_per_minute=100) as h:
        api.add_private_chat(USER)
        for i in range(50):
            await h.command(USER, USER, f"/subscribe@{api.bot_username} C{i}")
        assert len(h.bot.services.rules.rules_for(USER)) == 50
        assert await h.command(USER, USER, "/subscribe BTC") == chat.usage_key(
            "err_rule_limit", "/unsubscribe #12", count=50
        )
        mark = api.mark()
        api.push_text(USER, USER, "/subscribe@some_other_bot BTC")  # not for us: no answer
        reply = await h.command(USER, USER, f"/unsubscribe@{api.bot_username} c1 #3")
        assert reply == chat.rules_removed(2)
        assert len(api.calls_to("sendMessage", chat_id=USER, since=mark)) == 1
