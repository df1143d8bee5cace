"""Issue 17, a new user's first day: huge and negative sizes, typos, errors that echo the
user's own word, a failed command that answers, plain messages; end to end through the real
Application and the fake Bot API."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aggregation.query import Backtest
from bot.handlers.subscriptions import cascade_rules_of
from bot.render import chat
from bot.render.cascades import cascades_removed
from bot.render.common import local_clock
from bot.rules.matching import Rule
from bot.texts.catalog import Locale
from tests.e2e.test_chat_features import SHANGHAI, last_bot_message, press
from tests.e2e.test_telegram import USER, running_bot
from tests.support.bot_api import FakeBotApi

HUGE = "1" + "0" * 400


def out_of_range(example: str, token: str) -> str:
    """Return the refusal of a size outside $1K to $10B."""
    return chat.usage_key("err_size_range", example, token=token, low="$1K", high="$10B")


async def test_huge_and_not_finite_sizes_are_refused_with_the_range(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        example = "/subscribe BTC 250k"
        for word in (HUGE, "1000000000000000000000000000k", "20b"):
            assert await h.command(USER, USER, f"/subscribe BTC {word}") == out_of_range(
                example, repr(word[:24] + "…" * (len(word) > 24))
            )
        for word in ("inf", "nan", "-inf"):
            assert await h.command(USER, USER, f"/subscribe BTC {word}") == out_of_range(
                "/subscribe BTC ETH 250k", repr(word)
            )
        assert await h.command(USER, USER, "/subscribe BTC -5") == chat.usage_key(
            "err_size_positive", "/subscribe BTC ETH 250k", token="'-5'"
        )
        assert await h.command(USER, USER, "/cascade BTC 1e400x 5m") == chat.usage_key(
            "err_cascade_size", "/cascade BTC 5m 2m", token="'1e400x'"
        )
        assert await h.command(USER, USER, f"/cascade BTC {HUGE} 5m") == out_of_range(
            "/cascade BTC 5m 2m", repr(HUGE[:24] + "…")
        )
        assert h.bot.services.rules.rules_for(USER) == []
        assert await h.command(USER, USER, "/subscribe BTC 10b") == chat.rule_added(
            Rule(1, USER, frozenset({"BTC"}), 10e9)
        )


async def test_subs_renders_a_rule_an_old_database_holds(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        services = h.bot.services
        for usd in (float("inf"), 1e300):  # stored before sizes were bounded
            rule = await services.store.add_rule(USER, frozenset({"BTC"}), usd, None, frozenset())
            services.rules.add(rule)
        reply = await h.command(USER, USER, "/subs")
        assert "BTC ≥ $inf" in reply
        assert "BTC ≥ $1e+300" in reply


async def test_a_failed_command_answers_and_logs_no_user_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)

        def broken(chat_id: int) -> None:
            raise RuntimeError("schedule table unreadable")

        monkeypatch.setattr(h.bot.services.scheduler, "schedule_of", broken)
        secret = "x" * 3000
        with caplog.at_level(logging.ERROR, logger="bot.handlers.chat"):
            assert await h.command(USER, USER, f"/subs {secret}") == chat.failed_text()
        [record] = [r for r in caplog.records if r.name == "bot.handlers.chat"]
        assert record.getMessage().endswith(f"failed (chat {USER}, /subs)")
        assert secret not in record.getMessage()
        assert await h.command(USER, USER, "/lang zh") != chat.failed_text()
        assert await h.command(USER, USER, "/subs") == chat.failed_text(loc=Locale("zh"))


async def test_the_same_rule_twice_is_refused(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/subscribe BTC ETH 250k short")
        assert await h.command(USER, USER, "/subscribe eth btc $250,000 shorts") == (
            chat.usage_key("err_rule_exists", "/subs", rule_id="#1")
        )
        await h.command(USER, USER, "/cascade BTC 5m 2m")
        assert await h.command(USER, USER, "/cascade btc 5000k 120s") == chat.usage_key(
            "err_rule_exists", "/subs", rule_id="#C1"
        )
        assert len(h.bot.services.rules.rules_for(USER)) == 1


async def test_each_error_shows_its_own_command_and_the_users_word(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        word = "ZZZ" + "Z" * 30
        assert await h.command(USER, USER, f"/stats {word}...") == chat.usage_key(
            "err_not_asset", "/stats BTC", token=repr(f"{word}..."[:24] + "…")
        )
        assert await h.command(USER, USER, "/latest 5 btc-usd") == chat.usage_key(
            "err_not_asset", "/latest 20 BTC", token="'btc-usd'"
        )
        # Longer than HISTORY_DAYS (90): the user's own word, not the "2880h" it means.
        top = await h.command(USER, USER, "/top 120d")
        assert top.startswith("⚠️ 120d is not kept; choose ")
        assert top.splitlines()[0].endswith(", 2d-90d")
        assert "2880h" not in top


async def test_a_plain_private_message_points_to_help(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        assert await h.command(USER, USER, "hello bot") == chat.plain_message_hint()
        await h.command(USER, USER, "/lang zh")
        assert await h.command(USER, USER, "你好") == chat.plain_message_hint(loc=Locale("zh"))


async def test_bare_unsubscribe_shows_what_goes_and_asks(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        assert await h.command(USER, USER, "/unsubscribe") == chat.rules_removed(0)
        await h.command(USER, USER, "/subscribe BTC 250k")
        await h.command(USER, USER, "/cascade all 10x 5m")
        services = h.bot.services
        rules = services.rules.rules_for(USER)
        cascades = cascade_rules_of(services, USER)
        asked = await h.command(USER, USER, "/unsubscribe")
        assert asked == chat.unsubscribe_confirm(rules, cascades)
        assert "#1 BTC ≥ $250K" in asked
        assert "#C1" in asked
        message_id, _, data = last_bot_message(api, USER)
        assert data == ["rma:0", "rmk:0"]
        answer = await press(h, USER, USER, message_id, "rmk:0")
        assert answer.params["text"] == "👌 Nothing was removed."
        assert last_bot_message(api, USER)[1:] == (chat.unsubscribe_cancelled(), [])
        assert services.rules.rules_for(USER) == rules
        await h.command(USER, USER, "/unsubscribe")
        message_id, _, _ = last_bot_message(api, USER)
        mark = api.mark()
        await press(h, USER, USER, message_id, "rma:0")
        [edit] = await api.wait_for("editMessageText", since=mark)
        assert edit.params["text"] == "\n".join([chat.rules_removed(1), cascades_removed(1)])
        assert services.rules.rules_for(USER) == []
        assert cascade_rules_of(services, USER) == []
        # One answer, never "nothing was removed" next to "removed 1 cascade rule".
        await h.command(USER, USER, "/cascade all 10x 5m")
        assert await h.command(USER, USER, "/unsubscribe all") == cascades_removed(1)
        assert "/unsubscribe</code> alone lists every rule" in chat.help_text()


async def test_subscribe_and_subs_say_how_often_the_rule_would_have_fired(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        h.event("BTCUSDT", "SELL", "0.1", "80000")  # $8K: under the rule
        h.event("BTCUSDT", "SELL", "0.5", "80000")  # $40K long liquidated
        h.event("BTCUSDT", "BUY", "1", "81000")  # $81K short liquidated
        h.event("ETHUSDT", "SELL", "100", "3000")  # $300K of another asset
        queries = h.bot.services.queries
        await api.wait_until(lambda: len(queries.latest(5)) == 4)
        span = queries.windows_s[-1]
        reply = await h.command(USER, USER, "/subscribe BTC 10k")
        rule = Rule(1, USER, frozenset({"BTC"}), 10_000.0)
        assert reply == chat.rule_added(rule, backtest=Backtest(2, 81_000.0, span, True))
        assert reply.endswith(
            "📈 Over the last 24h it would have alerted 2 times, largest $81.00K."
        )
        reply = await h.command(USER, USER, "/subscribe SOL 10k")
        assert reply.endswith("📈 Over the last 24h it would not have alerted.")
        await h.command(USER, USER, "/subscribe all 100k long")
        subs = await h.command(USER, USER, "/subs")
        assert "#1 BTC ≥ $10K, both sides, all exchanges · 2 alerts in 24h" in subs
        assert "#2 SOL ≥ $10K, both sides, all exchanges · 0 alerts in 24h" in subs
        assert "#3 every asset ≥ $100K, longs only, all exchanges · 1 alert in 24h" in subs
        await h.command(USER, USER, "/lang zh")
        reply = await h.command(USER, USER, "/subscribe ETH 250k")
        assert reply.endswith("📈 过去 24h 内该规则会提醒 1 次，最大 $300.00K。")


async def test_a_command_in_a_forum_topic_is_answered_in_that_topic(tmp_path: Path) -> None:
    group = -1001777
    async with FakeBotApi() as api, running_bot(tmp_path, api):
        api.add_group(group)
        api.add_admin(group, 301)
        mark = api.mark()
        api.push_text(group, 301, "/help", topic=42)
        [answer] = await api.wait_for("sendMessage", lambda c: c.chat_id == group, since=mark)
        assert answer.params["message_thread_id"] == 42
        assert answer.params["text"] == chat.help_text()
        mark = api.mark()
        api.push_text(group, 301, "/help")  # the General topic: no thread id
        [answer] = await api.wait_for("sendMessage", lambda c: c.chat_id == group, since=mark)
        assert answer.params.get("message_thread_id") is None


async def test_a_word_no_feed_reported_is_added_only_with_a_warning(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        names = ["BTC", "ETH", *(f"COIN{i}" for i in range(18))]  # 20: a broad enough list
        for name in names:
            h.event(f"{name}USDT", "SELL", "1", "5")
        queries = h.bot.services.queries
        await api.wait_until(lambda: len(queries.assets()) == 20)
        reply = await h.command(USER, USER, "/subscribe BTC abc")
        assert (
            reply.splitlines()[0] == "✅ Rule #1 added: ABC, BTC ≥ $100K, both sides, all exchanges"
        )
        assert reply.splitlines()[-1] == (
            "⚠️ Not listed yet: ABC. No exchange feed has reported it; if that is a typo, "
            "remove the rule with <code>/unsubscribe #1</code> (assets look like BTC, ETH)."
        )
        assert "Not listed" not in await h.command(USER, USER, "/subscribe ETH 1m")
        reply = await h.command(USER, USER, "/subscribe sideways kraken")
        assert "⚠️ Not listed yet: KRAKEN, SIDEWAYS." in reply


async def test_a_fresh_bot_says_once_that_it_is_collecting(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        queries = h.bot.services.queries
        # The feed's "up" reaches coverage just after the connection opens.
        await api.wait_until(lambda: queries.collecting_since(86400) is not None)
        since = queries.collecting_since(86400)
        assert since is not None
        assert queries.collecting_since(86400, now_ms=since + 86_400_000) is None
        clock = local_clock(Locale(), since)
        line = f"⏳ Collecting since {clock}: totals cover only the time since then."
        for command in ("/stats", "/top"):
            reply = await h.command(USER, USER, command)
            assert reply.count("Collecting since") == 1
            assert line in reply
            assert "feed was up" not in reply
            assert "gap from" not in reply
        await h.command(USER, USER, "/tz Asia/Shanghai")
        reply = await h.command(USER, USER, "/top 1h")
        assert f"Collecting since {local_clock(Locale('en', SHANGHAI), since)}" in reply
        assert "UTC+8" in reply


async def test_cascade_says_how_often_it_would_have_fired(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        h.event("BTCUSDT", "SELL", "0.5", "80000")  # $40K
        h.event("BTCUSDT", "SELL", "1", "81000")  # +$81K within a second: $121K
        h.event("ETHUSDT", "SELL", "100", "3000")  # $300K of another asset
        queries = h.bot.services.queries
        await api.wait_until(lambda: len(queries.latest(5)) == 3)
        reply = await h.command(USER, USER, "/cascade BTC 100k 1m")
        assert reply.endswith(
            "📈 Over the last 24h it would have alerted 1 time, largest $121.00K."
        )
        reply = await h.command(USER, USER, "/cascade all 250k 1m")
        assert reply.endswith(
            "📈 Over the last 24h it would have alerted 1 time, largest $300.00K."
        )
        reply = await h.command(USER, USER, "/cascade BTC 1m 1m")
        assert reply.endswith("📈 Over the last 24h it would not have alerted.")
        reply = await h.command(USER, USER, "/cascade all 10x 5m")  # relative: no backtest
        assert "📈" not in reply
