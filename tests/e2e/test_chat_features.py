"""Per-chat language, time zone, quiet hours and inline buttons, end to end through the real
Application and the fake Bot API."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

from bot.delivery.summaries import job_name
from bot.handlers import registry
from bot.handlers.subscriptions import backtest
from bot.prefs.chats import ChatPrefs, QuietHours
from bot.prefs.schedules import Schedule
from bot.render import alerts, chat, market
from bot.render.html import plain_text
from bot.rules.matching import Rule
from bot.texts.catalog import Locale
from tests.e2e.test_telegram import USER, Harness, running_bot
from tests.support.bot_api import FakeBotApi
from tests.support.bot_api_objects import Call

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
GROUP = -1001234
MEMBER = 301
OWNER = 302
CHANNEL = -1009876


async def press(h: Harness, chat_id: int, user_id: int, message_id: int, data: str) -> Call:
    """Press a button; return the bot's answerCallbackQuery call."""
    mark = h.api.mark()
    h.api.push_callback_query(chat_id, user_id, message_id, data)
    [answer] = await h.api.wait_for("answerCallbackQuery", since=mark)
    return answer


def last_bot_message(api: FakeBotApi, chat_id: int) -> tuple[int, str, list[str]]:
    """Return the id, HTML source and button data of the bot's newest message in a chat."""
    message = api.bot_messages(chat_id)[-1]
    markup = message.reply_markup or {}
    data = [str(b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]
    return message.message_id, message.source or "", data


async def test_time_zone_shapes_alerts_and_daily_summaries(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        reply = await h.command(USER, USER, "/tz asia/SHANGHAI")
        assert reply.startswith("🕒 Time zone set to Asia/Shanghai: it is ")
        assert " UTC+8 there. Daily summaries" in reply
        await h.command(USER, USER, "/subscribe BTC 10k")
        assert await h.command(USER, USER, "/summary daily 08:00") == chat.schedule_set(
            Schedule(USER, daily_minute=480), loc=Locale("en", SHANGHAI)
        )
        [job] = [j for j in h.bot.application.job_queue.jobs() if j.name == job_name(USER)]  # type: ignore[union-attr]
        assert job.next_t is not None
        local = job.next_t.astimezone(SHANGHAI)
        assert (local.hour, local.minute) == (8, 0)  # 08:00 in Shanghai is 00:00 UTC
        assert job.next_t.astimezone(dt.UTC).hour == 0
        mark = api.mark()
        big = h.event("BTCUSDT", "BUY", "0.5", "81000")
        [alert] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        assert alert.params["text"] == alerts.alert(big, loc=Locale("en", SHANGHAI))
        assert "UTC+8" in str(alert.params["text"])
        assert await h.command(USER, USER, "/tz Mars/Base") == chat.usage_key(
            "err_tz_unknown", "/tz Asia/Shanghai", token="'Mars/Base'"
        )
        assert h.bot.services.prefs.get(USER).tz == "Asia/Shanghai"
        reply = await h.command(USER, USER, "/tz utc")
        assert reply.startswith("🕒 Time zone set to UTC: it is ")
        assert " UTC there. Daily summaries" in reply
        assert h.bot.services.prefs.get(USER).tz is None


async def test_quiet_hours_hold_alerts_until_turned_off(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/tz Asia/Shanghai")
        await h.command(USER, USER, "/subscribe BTC 10k")
        now = dt.datetime.now(SHANGHAI)
        start = (now - dt.timedelta(hours=1)).strftime("%H:%M")
        end = (now + dt.timedelta(hours=1)).strftime("%H:%M")
        quiet = QuietHours(*(int(t[:2]) * 60 + int(t[3:]) for t in (start, end)))
        assert await h.command(USER, USER, f"/quiet {start}-{end}") == chat.quiet_set(
            quiet, "Asia/Shanghai"
        )
        first = h.event("BTCUSDT", "BUY", "0.5", "81000")
        second = h.event("BTCUSDT", "SELL", "1", "80000")
        stats = h.bot.services.dispatcher.stats
        await api.wait_until(lambda: stats.alerts_queued == 2 and stats.quiet_holds == 1)
        rule = Rule(1, USER, frozenset({"BTC"}), 10_000.0)
        assert await h.command(USER, USER, "/subs") == chat.rules_list(
            [rule],
            None,
            prefs=ChatPrefs(USER, user_lang="en", tz="Asia/Shanghai", quiet=quiet),
            backtests={1: await backtest(h.bot.services, rule)},  # issue 17: the count per rule
        )  # a reply goes at once; the alerts still wait
        assert stats.alerts_delivered == 0
        mark = api.mark()
        assert await h.command(USER, USER, "/quiet off") == chat.quiet_set(None, "UTC")
        sent = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark, count=2)
        digest = sent[1]
        loc = Locale("en", SHANGHAI)
        assert digest.params["text"] == alerts.digest([first, second], held=True, loc=loc)


async def test_language_follows_the_user_then_the_chat_choice(tmp_path: Path) -> None:
    zh, en = Locale("zh"), Locale("en")
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER, language_code="zh-hans")
        assert await h.command(USER, USER, "/help") == chat.help_text(loc=zh)
        assert await h.command(USER, USER, "/latest 99") == chat.usage_key(
            "err_count_range", "/latest 20 BTC", most=50, loc=zh
        )
        assert await h.command(USER, USER, "/lang en") == chat.language_set("en", loc=en)
        assert await h.command(USER, USER, "/help") == chat.help_text(loc=en)
        assert await h.command(USER, USER, "/lang zh") == chat.language_set("zh", loc=zh)
        assert await h.command(USER, USER, "/subscribe BTC 10k") == chat.rule_added(
            Rule(1, USER, frozenset({"BTC"}), 10_000.0), loc=zh
        )
        mark = api.mark()
        big = h.event("BTCUSDT", "BUY", "0.5", "81000")
        [alert] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        assert alert.params["text"] == alerts.alert(big, loc=zh)
        assert await h.command(USER, USER, "/lang fr") == chat.usage_key(
            "err_lang", "/lang en", choices="en|zh|auto", loc=zh
        )
        assert await h.command(USER, USER, "/lang auto") == chat.language_set(None, loc=zh)
        assert h.bot.services.prefs.get(USER) == ChatPrefs(USER, None, "zh")
        zh_menu = api.commands_for(language_code="zh")
        assert [(c["command"], c["description"]) for c in zh_menu] == list(registry.commands("zh"))
        assert zh_menu != api.commands_for()


async def test_subs_buttons_remove_rules_for_admins_only(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(GROUP)
        api.add_admin(GROUP, OWNER, owner=True)
        await h.command(GROUP, OWNER, "/subscribe BTC 100k")
        await h.command(GROUP, OWNER, "/subscribe ETH 200k")
        await h.command(GROUP, MEMBER, "/subs")
        message_id, _, data = last_bot_message(api, GROUP)
        assert data == ["rm:1", "rm:2"]
        refusal = await press(h, GROUP, MEMBER, message_id, "rm:1")
        assert refusal.params == {
            "callback_query_id": refusal.params["callback_query_id"],
            "text": plain_text(chat.not_admin()),
            "show_alert": True,
        }
        assert len(h.bot.services.rules.rules_for(GROUP)) == 2
        mark = api.mark()
        answer = await press(h, GROUP, OWNER, message_id, "rm:1")
        assert answer.params["text"] == "🗑 Removed 1 rule."
        [edit] = api.calls_to("editMessageText", since=mark)
        expected = chat.rules_list(
            [Rule(2, GROUP, frozenset({"ETH"}), 200_000.0)], None, prefs=ChatPrefs(GROUP)
        )
        assert edit.params["text"] == expected
        assert last_bot_message(api, GROUP)[1:] == (expected, ["rm:2"])
        assert [r.rule_id for r in h.bot.services.rules.rules_for(GROUP)] == [2]
        again = await press(h, GROUP, OWNER, message_id, "rm:2")
        assert again.params["text"] == "🗑 Removed 1 rule."
        assert last_bot_message(api, GROUP)[2] == []  # no rules, no buttons
        assert h.bot.services.rules.rules_for(GROUP) == []
        for command in ("/lang zh", "/tz Asia/Tokyo", "/quiet 23:00-07:00"):
            assert await h.command(GROUP, MEMBER, command) == chat.not_admin(), command
        prefs = h.bot.services.prefs.get(GROUP)
        assert (prefs.lang, prefs.tz, prefs.quiet) == (None, None, None)


async def test_window_buttons_switch_top_and_stats_in_place(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        h.event("BTCUSDT", "BUY", "0.5", "81000")
        await api.wait_until(lambda: h.bot.runtime.queries.market() is not None)
        queries = h.bot.runtime.queries
        await api.wait_until(lambda: queries.leaderboard(86400, 10).shorts != ())
        await h.command(USER, USER, "/top")
        message_id, _, data = last_bot_message(api, USER)
        assert data == ["top:180", "top:900", "top:3600", "top:14400", "top:86400"]

        def top_1h() -> str:
            board = queries.leaderboard(3600, 10)
            since = queries.collecting_since(3600)  # issue 17: a fresh bot is collecting
            return market.top(board, queries.window_coverage(3600), since_ms=since)

        # The view says when it was made: render it before and after the press (a second may
        # tick over in between), and the edit must be one of the two.
        mark, before = api.mark(), top_1h()
        answer = await press(h, USER, USER, message_id, "top:3600")
        assert "text" not in answer.params
        [edit] = api.calls_to("editMessageText", since=mark)
        assert edit.params["text"] in (before, top_1h())
        assert last_bot_message(api, USER)[2][2] == "top:3600"
        markup = api.message(USER, message_id).reply_markup or {}
        assert [b["text"] for b in markup["inline_keyboard"][0]] == [
            "3m",
            "15m",
            "• 1h •",
            "4h",
            "24h",
        ]
        await press(h, USER, USER, message_id, "top:3600")  # unchanged: no error, no edit
        assert len(api.calls_to("editMessageText", since=mark)) == 2
        assert api.calls_with_status(400) == [api.calls_to("editMessageText", since=mark)[1]]
        await h.command(USER, USER, "/stats btc")
        message_id, _, data = last_bot_message(api, USER)
        assert data[-1] == "st:86400:BTC"

        def stats_15m() -> str:
            windows = queries.asset("BTC")
            assert windows is not None
            coverage = queries.window_coverage(86400)
            since = queries.collecting_since(86400)  # issue 17: a fresh bot is collecting
            return market.stats("BTC", windows, coverage, detail_s=900, since_ms=since)

        mark, before = api.mark(), stats_15m()
        await press(h, USER, USER, message_id, "st:900:BTC")
        [edit] = api.calls_to("editMessageText", since=mark)
        assert edit.params["text"] in (before, stats_15m())
        assert "<b>By exchange, last 15m</b>" in str(edit.params["text"])


async def test_channel_buttons_need_an_administrator(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_channel(CHANNEL)
        api.add_admin(CHANNEL, OWNER, owner=True)
        mark = api.mark()
        api.push_channel_post(CHANNEL, "/top 1h")
        await api.wait_for("sendMessage", lambda c: c.chat_id == CHANNEL, since=mark)
        message_id, _, _ = last_bot_message(api, CHANNEL)
        refusal = await press(h, CHANNEL, MEMBER, message_id, "top:900")
        assert refusal.params["show_alert"] is True
        assert api.calls_to("editMessageText") == []
        await press(h, CHANNEL, OWNER, message_id, "top:900")
        await api.wait_for("editMessageText")
