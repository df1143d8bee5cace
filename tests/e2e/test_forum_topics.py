"""Issue 17, forum topics: a rule, cascade rule or summary set inside a topic posts into that
topic; a deleted topic drops only what was set in it. End to end through the real Application
and the fake Bot API."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.delivery.summaries import job_name
from bot.prefs.schedules import Schedule
from bot.render import alerts, cascades
from bot.render.common import phrase
from bot.rules.cascade import CascadeRule
from bot.rules.matching import Rule
from bot.texts.catalog import DEFAULT_LOCALE
from tests.e2e.test_charts_cascades import snapshot, stored
from tests.e2e.test_telegram import running_bot
from tests.support.bot_api import FakeBotApi
from tests.support.bot_api_objects import Call
from tests.support.frames import now_ms

GROUP = -1001555
ADMIN = 301


def topic_of(call: Call) -> int | None:
    """Return the forum topic a send went to (None: the chat itself)."""
    value = call.params.get("message_thread_id")
    return None if value is None else int(value)


async def test_alerts_go_to_the_topic_their_rule_was_set_in_and_never_share_a_message(
    tmp_path: Path,
) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(GROUP)
        api.add_admin(GROUP, ADMIN)
        await h.command(GROUP, ADMIN, "/subscribe BTC 10k", topic=7)
        await h.command(GROUP, ADMIN, "/subscribe BTC 10k", topic=9)  # not a duplicate of #1
        await h.command(GROUP, ADMIN, "/subscribe ETH 10k")  # in the General topic
        rules = h.bot.services.rules.rules_for(GROUP)
        assert [(r.rule_id, r.topic) for r in rules] == [(1, 7), (2, 9), (3, None)]
        mark = api.mark()
        btc = h.event("BTCUSDT", "SELL", "1", "60000")
        eth = h.event("ETHUSDT", "SELL", "10", "3000")
        calls = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == GROUP, since=mark, count=3, timeout=15
        )
        # One message per topic, each a single alert: two topics' alerts never form a digest.
        assert sorted((topic_of(c) or 0, c.params["text"]) for c in calls) == [
            (0, alerts.alert(eth)),
            (7, alerts.alert(btc)),
            (9, alerts.alert(btc)),
        ]
        subs = await h.command(GROUP, ADMIN, "/subs", topic=7)
        assert f"#1 BTC ≥ $10K, both sides, all exchanges{in_topic(7)}" in subs
        assert f"#2 BTC ≥ $10K, both sides, all exchanges{in_topic(9)}" in subs
        assert "#3 ETH ≥ $10K, both sides, all exchanges ·" in subs  # no topic mark
        # A bare /unsubscribe lists everything it would remove, topics marked, and asks first.
        confirm = await h.command(GROUP, ADMIN, "/unsubscribe", topic=9)
        assert f"#2 BTC ≥ $10K, both sides, all exchanges{in_topic(9)}\n" in confirm
        assert confirm.endswith("#3 ETH ≥ $10K, both sides, all exchanges")
        with sqlite3.connect(h.bot_path) as db:
            rows = db.execute("SELECT rule_id, thread_id FROM bot_rules ORDER BY rule_id")
            assert rows.fetchall() == [(1, 7), (2, 9), (3, None)]


def in_topic(topic: int) -> str:
    """Return /subs' mark of something set in a forum topic."""
    return str(phrase(DEFAULT_LOCALE, "in_topic", topic=topic))


async def test_a_cascade_set_in_a_topic_posts_and_edits_there(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(GROUP)
        api.add_admin(GROUP, ADMIN)
        await h.command(GROUP, ADMIN, "/cascade btc 100k 30s", topic=12)
        rule = CascadeRule(GROUP, 1, "BTC", 30_000, min_usd=100_000.0, topic=12)
        assert h.bot.services.cascades.detector.rules() == [rule]
        mark = api.mark()
        base = now_ms() - 27_000
        first = h.event("BTCUSDT", "SELL", "1", "60000", base)
        second = h.event("BTCUSDT", "BUY", "1", "50000", base + 500)
        [sent] = await api.wait_for("sendMessage", lambda c: c.chat_id == GROUP, since=mark)
        assert topic_of(sent) == 12
        assert sent.params["text"] == cascades.cascade(snapshot(rule, [first, second]))
        # Its edits address the message (which lives in the topic): no thread id needed.
        [edit] = await api.wait_for(
            "editMessageText", lambda c: c.chat_id == GROUP, since=mark, timeout=15
        )
        assert edit.params["message_id"] == sent.result["message_id"]


async def test_summaries_set_in_a_topic_post_there(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(GROUP)
        api.add_admin(GROUP, ADMIN)
        await h.command(GROUP, ADMIN, "/summary every 1h", topic=5)
        services = h.bot.services
        assert services.scheduler.schedule_of(GROUP) == Schedule(GROUP, every_s=3600, topic=5)
        assert await services.store.schedule_of(GROUP) == Schedule(GROUP, every_s=3600, topic=5)
        h.event("SOLUSDT", "SELL", "1000", "150")
        await stored(h, 1)
        [job] = h.bot.application.job_queue.get_jobs_by_name(job_name(GROUP))  # type: ignore[union-attr]
        mark = api.mark()
        await job.run(h.bot.application)
        [summary] = await api.wait_for("sendMessage", lambda c: c.chat_id == GROUP, since=mark)
        [photo] = await api.wait_for("sendPhoto", lambda c: c.chat_id == GROUP, since=mark)
        assert (topic_of(summary), topic_of(photo)) == (5, 5)
        assert str(summary.params["text"]).startswith("🧾 <b>Liquidation summary, last hour</b>")


async def test_a_deleted_topic_drops_only_what_was_set_in_it(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(GROUP)
        api.add_admin(GROUP, ADMIN)
        await h.command(GROUP, ADMIN, "/subscribe BTC 10k", topic=7)
        await h.command(GROUP, ADMIN, "/cascade btc 100k 30s", topic=7)
        await h.command(GROUP, ADMIN, "/summary every 1h", topic=7)
        await h.command(GROUP, ADMIN, "/subscribe BTC 10k", topic=9)
        services = h.bot.services
        api.delete_topic(GROUP, 7)
        mark = api.mark()
        btc = h.event("BTCUSDT", "SELL", "1", "60000")
        [refused] = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == GROUP and topic_of(c) == 7, since=mark
        )
        assert (refused.status, refused.description) == (
            400,
            "Bad Request: message thread not found",
        )
        [alert] = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == GROUP and c.status == 200, since=mark
        )
        assert (topic_of(alert), alert.params["text"]) == (9, alerts.alert(btc))
        await api.wait_until(lambda: len(services.rules.rules_for(GROUP)) == 1)
        assert services.rules.rules_for(GROUP) == [
            Rule(2, GROUP, frozenset({"BTC"}), 10_000.0, topic=9)
        ]
        assert services.cascades.detector.rules() == []
        assert services.scheduler.schedule_of(GROUP) is None
        assert services.dispatcher.stats.topics_gone == 1
        with sqlite3.connect(h.bot_path) as db:
            assert db.execute("SELECT rule_id, thread_id FROM bot_rules").fetchall() == [(2, 9)]
            assert db.execute("SELECT COUNT(*) FROM bot_cascade_rules").fetchone() == (0,)
            assert db.execute("SELECT COUNT(*) FROM bot_schedules").fetchone() == (0,)
        # The chat itself is still there: the next event alerts topic 9 only.
        mark = api.mark()
        again = h.event("BTCUSDT", "BUY", "1", "61000")
        [alert] = await api.wait_for("sendMessage", lambda c: c.chat_id == GROUP, since=mark)
        assert (topic_of(alert), alert.params["text"]) == (9, alerts.alert(again))


async def test_a_migrated_group_keeps_each_rules_topic(tmp_path: Path) -> None:
    old, new = -4343, -1004343
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_group(old)
        api.add_admin(old, ADMIN)
        await h.command(old, ADMIN, "/subscribe BTC 10k", topic=3)
        api.migrate(old, new)  # silently: the bot learns it from the next send
        mark = api.mark()
        record = h.event("BTCUSDT", "SELL", "1", "80000")
        [alert] = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == new and c.status == 200, since=mark
        )
        assert (topic_of(alert), alert.params["text"]) == (3, alerts.alert(record))
        assert [r.topic for r in h.bot.services.rules.rules_for(new)] == [3]
        with sqlite3.connect(h.bot_path) as db:
            assert db.execute("SELECT chat_id, thread_id FROM bot_rules").fetchall() == [(new, 3)]
