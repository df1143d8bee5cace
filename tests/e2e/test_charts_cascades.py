"""Chart photos, summary charts and cascade messages, end to end through the real Application,
the real collectors and SQLite file, and the fake Bot API."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import msgspec
import pytest
from matplotlib.image import imread

from bot.delivery.summaries import job_name
from bot.prefs.schedules import Schedule
from bot.render import cascades, chat
from bot.rules.cascade import CascadeRule, CascadeSnapshot
from bot.rules.detector import CascadeDetector
from collectors.record import Liquidation
from tests.e2e.test_telegram import USER, Harness, running_bot
from tests.support.bot_api import FakeBotApi
from tests.support.bot_api_objects import Call
from tests.support.frames import now_ms

NOTE = (
    "<i>ℹ️ Binance totals are a lower bound: it reports at most one liquidation per symbol per "
    "second. OKX reports only part of its liquidations. Bybit reports all of them.</i>"
)
BTC_RULE = CascadeRule(USER, 1, "BTC", 30_000, min_usd=100_000.0)
ETH_RULE = CascadeRule(USER, 2, "ETH", 3_600_000, min_usd=100_000.0)


def snapshot(rule: CascadeRule, records: list[Liquidation]) -> CascadeSnapshot:
    """What a fresh detector makes of these events: the cascade message the bot must show."""
    detector = CascadeDetector(lambda asset: 0.0, rules=[rule])
    for record in records:
        # As the bot received it: at its event time (the harness parses with receive time 0).
        detector.add(msgspec.structs.replace(record, recv_ms=record.ts_ms))
    [cascade] = detector.active()
    return cascade.snapshot()


async def stored(h: Harness, count: int) -> None:
    """Wait until the bot has counted `count` events."""
    counters = h.bot.runtime.aggregation.windows.counters
    await h.api.wait_until(lambda: counters.counted == count)


async def edit_of(h: Harness, message_id: int, since: int, text_has: str = "") -> Call:
    """Wait for the first edit of a message (whose text contains `text_has`) after `since`."""
    calls = await h.api.wait_for(
        "editMessageText",
        lambda c: c.params.get("message_id") == message_id and text_has in str(c.params["text"]),
        since=since,
        timeout=15,
    )
    return calls[0]


async def test_chart_command_sends_a_png_with_its_totals(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        h.event("BTCUSDT", "SELL", "1", "80000")  # a $80K long
        h.event("BTCUSDT", "BUY", "0.5", "80000")  # a $40K short
        h.event("ETHUSDT", "SELL", "10", "3000")  # another asset
        await stored(h, 3)
        mark = api.mark()
        api.push_text(USER, USER, "/chart btc 1h")
        [call] = await api.wait_for("sendPhoto", lambda c: c.chat_id == USER, since=mark)
        caption = str(call.params["caption"])
        assert caption.startswith("📊 <b>BTC</b>, last 1h: 🔴 longs $80.00K · 🟢 shorts $40.00K\n")
        assert caption.endswith(NOTE)
        assert call.params["parse_mode"] == "HTML"
        [upload] = api.sent_photos(USER)
        assert upload.data.startswith(b"\x89PNG\r\n\x1a\n")
        assert imread(io.BytesIO(upload.data)).shape[:2] == (675, 1200)

        mark = api.mark()
        api.push_text(USER, USER, "/chart")  # the market over 24 h
        [call] = await api.wait_for("sendPhoto", lambda c: c.chat_id == USER, since=mark)
        assert str(call.params["caption"]).startswith(
            "📊 <b>All assets</b>, last 24h: 🔴 longs $110.00K · 🟢 shorts $40.00K\n"
        )

        mark = api.mark()
        api.push_text(USER, USER, "/chart btc 30d")  # whole days: hourly rollups
        [call] = await api.wait_for("sendPhoto", lambda c: c.chat_id == USER, since=mark)
        assert str(call.params["caption"]).startswith(
            "📊 <b>BTC</b>, last 30d: 🔴 longs $80.00K · 🟢 shorts $40.00K\n"
        )
        assert await h.command(USER, USER, "/chart 36h") == chat.usage_key(
            "err_chart_days", "/chart BTC 7d", longest="90d"
        )
        assert await h.command(USER, USER, "/chart DOGE") == chat.usage_key(
            "err_no_asset_data", "/chart", asset="DOGE"
        )
        assert len(api.sent_photos(USER)) == 3


async def test_a_scheduled_summary_comes_with_its_chart(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/summary every 1h")
        h.event("SOLUSDT", "SELL", "1000", "150")  # a $150K long
        await stored(h, 1)
        [job] = h.bot.application.job_queue.get_jobs_by_name(job_name(USER))  # type: ignore[union-attr]
        mark = api.mark()
        await job.run(h.bot.application)  # what the JobQueue does at the hour
        [summary] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        [photo] = await api.wait_for("sendPhoto", lambda c: c.chat_id == USER, since=mark)
        assert str(summary.params["text"]).startswith("🧾 <b>Liquidation summary, last hour</b>\n")
        assert summary.at <= photo.at  # the text first, then its chart
        assert str(photo.params["caption"]).startswith(
            "📊 <b>All assets</b>, last 1h: 🔴 longs $150.00K · 🟢 shorts $0\n"
        )
        assert imread(io.BytesIO(api.sent_photos(USER)[0].data)).shape[:2] == (675, 1200)


def next_monday_8am(now: dt.datetime) -> dt.datetime:
    """The first Monday 08:00 UTC after `now`."""
    day = now.replace(hour=8, minute=0, second=0, microsecond=0)
    day += dt.timedelta(days=(7 - day.weekday()) % 7)
    return day if day > now else day + dt.timedelta(days=7)


async def test_a_summary_every_7d_comes_on_mondays_with_the_last_7_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        scheduler = h.bot.services.scheduler
        # The event below happens now: the week is the one ending at the next Monday 08:00.
        next_monday = next_monday_8am(dt.datetime.now(dt.UTC))
        monday = int(next_monday.timestamp() * 1000)
        sunday = monday - 23 * 3_600_000  # the day before, 09:00 UTC
        clock = [sunday]
        monkeypatch.setattr(scheduler, "_clock", lambda: clock[0])
        weekly = Schedule(USER, every_s=7 * 86_400, daily_minute=480)
        assert await h.command(USER, USER, "/summary every 7d 08:00") == chat.schedule_set(
            weekly, next_day=next_monday.date()
        )
        assert scheduler.schedule_of(USER) == weekly
        h.event("SOLUSDT", "SELL", "1000", "150")  # a $150K long
        await stored(h, 1)
        [job] = scheduler.jobs()
        assert "hour='8', minute='0', second='0'" in str(job.trigger)  # daily, 08:00
        mark = api.mark()
        await job.run(h.bot.application)  # Sunday 08:00: not one of its days
        clock[0] = monday
        await job.run(h.bot.application)  # Monday 08:00
        [summary] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        text = str(summary.params["text"])
        assert text.startswith("🧾 <b>Liquidation summary, last 7d</b>\n")
        assert "$150.00K" in text
        await api.wait_for("sendPhoto", lambda c: c.chat_id == USER, since=mark)
        assert len(api.calls_to("sendMessage", chat_id=USER, since=mark)) == 1


async def test_one_cascade_message_grows_by_edits_and_gets_a_final_line(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        assert await h.command(USER, USER, "/cascade btc 100k 30s") == (
            cascades.cascade_rule_added(BTC_RULE)
        )
        mark = api.mark()
        # The events happened 27 s ago: the 30 s window lets them go about 3 s from now.
        base = now_ms() - 27_000
        first = h.event("BTCUSDT", "SELL", "1", "60000", base)  # $60K long
        second = h.event("BTCUSDT", "BUY", "1", "50000", base + 500)  # $50K short: $110K
        [sent] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        assert sent.params["text"] == cascades.cascade(snapshot(BTC_RULE, [first, second]))
        message_id = sent.result["message_id"]

        third = h.event("BTCUSDT", "SELL", "0.5", "60000", base + 1_000)  # +$30K
        edit = await edit_of(h, message_id, sent_index(api, sent), "$140.00K")
        grown = snapshot(BTC_RULE, [first, second, third])
        assert edit.params["text"] == cascades.cascade(grown)

        # The window empties: one last edit says it is over, with the peak of the window.
        final = await edit_of(h, message_id, sent_index(api, edit), "✅ Over at ")
        body = cascades.cascade_body(grown)
        text = str(final.params["text"])
        assert text.startswith(body + "\n✅ Over at ")
        assert text.endswith("; the peak was $140.00K within 30s.\n" + NOTE)
        # One message for the whole cascade: no other message was sent.
        assert [c.params["text"] for c in api.calls_to("sendMessage", since=mark)] == [
            sent.params["text"]
        ]
        assert api.message(USER, message_id).source == text
        stats = h.bot.services.cascades.stats
        assert (stats.started, stats.messages_sent, stats.ended, stats.abandoned) == (1, 1, 1, 0)

        # The rule shows in /subs with its remove button, and goes with /unsubscribe #C1.
        mark = api.mark()
        api.push_text(USER, USER, "/subs")
        [subs] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        assert "🌊 #C1 BTC: at least $100K within 30s" in str(subs.params["text"])
        buttons = subs.params["reply_markup"]["inline_keyboard"]
        assert [b["callback_data"] for row in buttons for b in row] == ["rmc:1"]
        assert await h.command(USER, USER, "/unsubscribe #C1") == cascades.cascades_removed(1)
        assert h.bot.services.cascades.detector.rules() == []


async def test_a_restart_keeps_editing_open_cascades_and_closes_lost_ones(tmp_path: Path) -> None:
    async with FakeBotApi() as api:
        async with running_bot(tmp_path, api) as h:
            api.add_private_chat(USER)
            await h.command(USER, USER, "/cascade BTC 100k 30s")
            await h.command(USER, USER, "/cascade ETH 100k 1h")
            mark = api.mark()
            base = now_ms() - 28_000
            btc = [h.event("BTCUSDT", "SELL", "2", "60000", base)]  # $120K, 28 s ago
            eth = [h.event("ETHUSDT", "SELL", "40", "3000")]  # $120K, now
            sent = await api.wait_for(
                "sendMessage", lambda c: c.chat_id == USER, count=2, since=mark
            )
            by_asset = {"BTC" if "BTC" in str(c.params["text"]) else "ETH": c for c in sent}
            btc_id = by_asset["BTC"].result["message_id"]
            eth_id = by_asset["ETH"].result["message_id"]
            assert by_asset["ETH"].params["text"] == cascades.cascade(snapshot(ETH_RULE, eth))
            await stored(h, 2)
            await h.bot.runtime.aggregation.store.flush()
        # While the bot is down, the BTC event leaves its 30 s window: that cascade is over.
        await api.wait_until(lambda: now_ms() > base + 31_000, timeout=10)
        mark = api.mark()
        async with running_bot(tmp_path, api) as h:
            closed = await edit_of(h, btc_id, mark, "⏹ No longer followed")
            text = str(closed.params["text"])
            assert text.startswith(cascades.cascade_body(snapshot(BTC_RULE, btc)) + "\n")
            assert "\n⏹ No longer followed: the bot restarted at " in text
            assert text.endswith(NOTE)
            # The ETH cascade is still going: the same message is edited as it grows.
            eth.append(h.event("ETHUSDT", "BUY", "10", "3000"))  # +$30K
            edit = await edit_of(h, eth_id, mark, "$150.00K")
            assert edit.params["text"] == cascades.cascade(snapshot(ETH_RULE, eth))
            assert api.calls_to("sendMessage", since=mark) == []
            stats = h.bot.services.cascades.stats
            assert (stats.orphaned, stats.messages_sent, stats.started) == (1, 0, 0)


def sent_index(api: FakeBotApi, call: Call) -> int:
    """Return the position of a call in the fake's log (to wait for what came after it)."""
    return next(i for i, c in enumerate(api.calls) if c is call) + 1


async def test_cascade_rules_are_for_group_admins_and_limited(tmp_path: Path) -> None:
    group, admin, member = -1001234, 301, 302
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(group)
        api.add_admin(group, admin)
        api.set_member(group, member, "member")
        assert await h.command(group, member, "/cascade BTC 5m 2m") == chat.not_admin()
        assert await h.command(group, admin, "/cascade BTC 5m") == chat.usage_key(
            "err_cascade_usage", "/cascade BTC 5m 2m"
        )
        for i in range(10):
            reply = await h.command(group, admin, f"/cascade all {2 + i}x 5m")
            rule = CascadeRule(group, i + 1, None, 300_000, multiple=2.0 + i)
            assert reply == cascades.cascade_rule_added(rule)
        assert await h.command(group, admin, "/cascade ETH 1m 1m") == chat.usage_key(
            "err_cascade_limit", "/cascade off", count=10
        )
        assert await h.command(group, member, "/cascade off") == chat.not_admin()
        assert await h.command(group, admin, "/cascade off") == cascades.cascades_removed(10)
        assert await h.command(group, admin, "/cascade off") == cascades.cascades_removed(0)
        assert h.bot.services.cascades.detector.rules() == []
        assert await h.bot.services.store.load_cascade_rules() == []
