"""The alert dispatcher against the fake Bot API: retries, timeouts, overflow, pacing, restore."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zoneinfo
from collections.abc import AsyncIterator

import pytest
from telegram.ext import AIORateLimiter, ExtBot

from bot.app.http import AiohttpRequest
from bot.delivery.dispatcher import AlertDispatcher
from bot.render import alerts
from bot.tables.outbox import PendingChat
from bot.texts.catalog import Locale
from collectors.record import Liquidation, Side
from tests.support.bot_api import FakeBotApi

CHAT = 555
GROUP = -1001888  # a forum supergroup
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Events:
    def __init__(self) -> None:
        self.gone: list[tuple[int, str]] = []
        self.migrated: list[tuple[int, int]] = []
        self.topics_gone: list[tuple[int, int]] = []

    async def chat_gone(self, chat_id: int, reason: str) -> None:
        self.gone.append((chat_id, reason))

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        self.migrated.append((old_chat_id, new_chat_id))

    async def topic_gone(self, chat_id: int, topic: int, reason: str) -> None:
        self.topics_gone.append((chat_id, topic))


def record(usd: float, ts: int = 1_800_000_000_000) -> Liquidation:
    return Liquidation("okx", "swap", "BTC-USDT-SWAP", "BTC", Side.LONG, usd, 1.0, usd, ts, ts)


@contextlib.asynccontextmanager
async def dispatching(
    api: FakeBotApi, *, read_timeout: float = 5.0, **options: object
) -> AsyncIterator[tuple[AlertDispatcher, Events]]:
    bot = ExtBot(
        api.token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=AiohttpRequest(read_timeout=read_timeout),  # the bot's own backend
        rate_limiter=AIORateLimiter(max_retries=0),
    )
    events = Events()
    async with bot:
        options.setdefault("private_interval_s", 0.05)
        dispatcher = AlertDispatcher(bot, events, **options)  # type: ignore[arg-type]
        task = asyncio.create_task(dispatcher.run())
        try:
            yield dispatcher, events
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _said(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "bot.delivery.dispatcher"
    ]


async def test_server_errors_are_retried_with_backoff_then_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with FakeBotApi() as api, dispatching(api) as (dispatcher, _):
        api.add_private_chat(CHAT)
        api.fail_next_raw("sendMessage", 502, times=2)
        alert = record(50_000.0)
        dispatcher.enqueue_alert(CHAT, alert)
        [call] = await api.wait_for("sendMessage", lambda c: c.status == 200, timeout=15)
        await api.wait_until(lambda: dispatcher.stats.alerts_delivered == 1)
        assert call.params["text"] == alerts.alert(alert)
        assert [c.status for c in api.calls_to("sendMessage")] == [502, 502, 200]
        assert dispatcher.stats.network_retries == 2
    said = _said(caplog)
    assert said[0][0] == logging.WARNING
    assert said[0][1].startswith(f"Telegram (sends): chat {CHAT}: ")
    assert said[0][1].endswith("; retrying (one line a minute while it persists)")
    assert said[1][0] == logging.INFO
    assert said[1][1].startswith("Telegram (sends): delivering again after 2 failed attempts over")
    assert len(said) == 2


async def test_giving_up_is_counted_and_reported_in_the_next_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with FakeBotApi() as api, dispatching(api, max_attempts=2) as (dispatcher, _):
        api.add_private_chat(CHAT)
        api.fail_next_raw("sendMessage", 500, times=2)
        dispatcher.enqueue_alert(CHAT, record(50_000.0))
        await api.wait_until(lambda: dispatcher.stats.alerts_failed == 1, timeout=15)
        later = record(70_000.0, ts=1_800_000_060_000)
        dispatcher.enqueue_alert(CHAT, later)
        [call] = await api.wait_for("sendMessage", lambda c: c.status == 200, timeout=15)
        assert call.params["text"] == f"{alerts.dropped_notice(0, 1)}\n{alerts.alert(later)}"
        await api.wait_until(lambda: dispatcher.stats.alerts_delivered == 1)
    # Before: an ERROR line per chat for each give-up (one per subscribed chat in an outage).
    [(level, first), (_, end)] = _said(caplog)
    assert level == logging.WARNING
    assert first.startswith(f"Telegram (sends): chat {CHAT}: ")
    assert end.startswith("Telegram (sends): delivering again after 2 failed attempts over")


async def test_a_give_up_is_said_with_what_was_given_up(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeBotApi() as api, dispatching(api, max_attempts=1) as (dispatcher, _):
        api.add_private_chat(CHAT)
        api.fail_next("sendMessage", 500, "Internal Server Error")
        dispatcher.enqueue_alert(CHAT, record(50_000.0))
        dispatcher.enqueue_alert(CHAT, record(60_000.0, ts=1_800_000_001_000))
        await api.wait_until(lambda: dispatcher.stats.alerts_failed == 2, timeout=15)
    [(level, said)] = _said(caplog)
    assert (level, said) == (
        logging.WARNING,
        f"Telegram (sends): chat {CHAT}: 2 alert(s) given up (the chat is told) after 1 "
        "attempt(s): Internal Server Error; retrying (one line a minute while it persists)",
    )


async def test_a_timeout_is_not_resent_but_reported() -> None:
    async with FakeBotApi() as api, dispatching(api, read_timeout=0.3) as (dispatcher, _):
        api.add_private_chat(CHAT)
        api.hang_next(
            "sendMessage", chat_id=CHAT
        )  # Telegram keeps it (delivered) but never answers
        first = record(50_000.0)
        dispatcher.enqueue_alert(CHAT, first)
        await api.wait_until(lambda: dispatcher.stats.alerts_uncertain == 1)
        api.release_hung()  # Telegram had it all along
        await api.wait_for("sendMessage", lambda c: c.params["text"] == alerts.alert(first))
        later = record(70_000.0, ts=1_800_000_060_000)
        dispatcher.enqueue_alert(CHAT, later)
        expected = f"{alerts.dropped_notice(0, 1)}\n{alerts.alert(later)}"
        await api.wait_for("sendMessage", lambda c: c.params["text"] == expected)
        await api.wait_until(lambda: dispatcher.stats.alerts_delivered == 1)
        # The first alert reached Telegram once: the dispatcher never resent it.
        texts = [c.params["text"] for c in api.calls_to("sendMessage")]
        assert texts == [alerts.alert(first), expected]


async def test_a_full_queue_keeps_the_largest_and_reports_the_rest() -> None:
    async with FakeBotApi() as api:
        api.add_private_chat(CHAT)
        api.delay_next("sendMessage", 0.5, chat_id=CHAT)  # the first send holds the chat
        async with dispatching(api, max_alerts_per_chat=5) as (dispatcher, _):
            dispatcher.enqueue_alert(CHAT, record(1.0))
            await api.wait_until(lambda: dispatcher.pending_alerts() == 0)
            for usd in range(1, 21):
                dispatcher.enqueue_alert(
                    CHAT, record(float(usd) * 1_000, ts=1_800_000_000_000 + usd)
                )
            await api.wait_until(lambda: dispatcher.stats.digests_sent == 1, timeout=10)
        [_, digest] = api.calls_to("sendMessage", status=200)
        kept = [record(float(usd) * 1_000, ts=1_800_000_000_000 + usd) for usd in range(16, 21)]
        assert digest.params["text"] == alerts.digest(kept, dropped=15)
        assert dispatcher.stats.alerts_dropped == 15


async def test_pacing_merges_a_burst_into_one_digest() -> None:
    async with FakeBotApi() as api, dispatching(api, private_interval_s=0.5) as (dispatcher, _):
        api.add_private_chat(CHAT)
        first = record(10_000.0)
        dispatcher.enqueue_alert(CHAT, first)
        await api.wait_for("sendMessage", lambda c: c.status == 200)
        burst = [record(float(i) * 1_000, ts=1_800_000_000_100 + i) for i in range(1, 31)]
        for alert in burst:
            dispatcher.enqueue_alert(CHAT, alert)
        calls = await api.wait_for("sendMessage", lambda c: c.status == 200, count=2)
        assert calls[0].params["text"] == alerts.alert(first)
        assert calls[1].params["text"] == alerts.digest(burst)
        assert calls[1].at - calls[0].at >= 0.45  # the chat's pace held


async def test_restored_pending_work_is_sent() -> None:
    async with FakeBotApi() as api, dispatching(api) as (dispatcher, _):
        api.add_private_chat(CHAT)
        owed = record(90_000.0)
        dispatcher.restore(
            [PendingChat(CHAT, alerts=[owed], messages=["<b>summary</b>"], uncertain=2)]
        )
        calls = await api.wait_for("sendMessage", lambda c: c.status == 200, count=2)
        await api.wait_until(lambda: dispatcher.stats.messages_sent == 2)
        assert [c.params["text"] for c in calls] == [
            "<b>summary</b>",
            f"{alerts.dropped_notice(0, 2)}\n{alerts.alert(owed)}",
        ]
        assert dispatcher.snapshot() == []


async def test_pending_work_keeps_its_forum_topics_across_a_restart() -> None:
    paced = {"group_interval_s": 0.05}
    async with FakeBotApi() as api, dispatching(api, **paced) as (dispatcher, _):
        api.add_group(GROUP)
        api.fail_next("sendMessage", 502, "Bad Gateway", chat_id=GROUP, times=None)
        in_seven, general = record(90_000.0), record(80_000.0)
        dispatcher.enqueue_message(GROUP, "<b>summary</b>", topic=4)
        dispatcher.enqueue_alert(GROUP, in_seven, 7)
        dispatcher.enqueue_alert(GROUP, general)
        await api.wait_for("sendMessage", lambda c: c.chat_id == GROUP)
        owed = dispatcher.snapshot()
        assert owed == [
            PendingChat(
                GROUP,
                alerts=[in_seven, general],
                messages=["<b>summary</b>"],
                alert_topics=[7, None],
                message_topics=[4],
            )
        ]
    async with FakeBotApi() as api, dispatching(api, **paced) as (dispatcher, _):
        api.add_group(GROUP)
        dispatcher.restore(owed)
        calls = await api.wait_for("sendMessage", lambda c: c.status == 200, count=3)
        sent = [(c.params.get("message_thread_id"), c.params["text"]) for c in calls]
        assert sent == [
            (4, "<b>summary</b>"),
            (7, alerts.alert(in_seven)),
            (None, alerts.alert(general)),
        ]


class QuietPrefs:
    """A chat that is quiet until `until_ms` (wall time), in Shanghai time."""

    def __init__(self, until_ms: int | None) -> None:
        self.until_ms = until_ms

    def locale(self, chat_id: int) -> Locale:
        return Locale("en", zoneinfo.ZoneInfo("Asia/Shanghai"))

    def quiet_until_ms(self, chat_id: int, now_ms: int) -> int | None:
        if self.until_ms is None or now_ms >= self.until_ms:
            return None
        return self.until_ms


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


async def test_quiet_hours_hold_alerts_then_send_one_digest() -> None:
    prefs = QuietPrefs(wall_ms() + 1_500)
    async with FakeBotApi() as api, dispatching(api, prefs=prefs) as (dispatcher, _):
        api.add_private_chat(CHAT)
        first, second = record(50_000.0), record(70_000.0, ts=1_800_000_060_000)
        dispatcher.enqueue_alert(CHAT, first)
        dispatcher.enqueue_alert(CHAT, second)
        await api.wait_until(lambda: dispatcher.stats.quiet_holds == 1)
        dispatcher.enqueue_message(CHAT, "<b>summary</b>")  # asked for: goes now, silently
        [summary] = await api.wait_for("sendMessage", lambda c: c.status == 200)
        assert summary.params["text"] == "<b>summary</b>"
        assert summary.params["disable_notification"] is True
        assert dispatcher.pending_alerts() == 2  # still held
        sent = await api.wait_for("sendMessage", lambda c: c.status == 200, count=2, timeout=10)
        assert len(sent) == 2
        digest_call = sent[1]
        assert wall_ms() >= prefs.until_ms  # type: ignore[operator]
        loc = prefs.locale(CHAT)
        assert digest_call.params["text"] == alerts.digest([first, second], held=True, loc=loc)
        assert "disable_notification" not in digest_call.params
        assert "🌙 Held during this chat's quiet hours" in str(digest_call.params["text"])
        assert "UTC+8" in str(digest_call.params["text"])  # the chat's time zone
        await api.wait_until(lambda: dispatcher.stats.alerts_delivered == 2)
        assert dispatcher.stats.digests_sent == 1


async def test_a_single_held_alert_still_comes_as_a_digest_that_says_it_waited() -> None:
    prefs = QuietPrefs(wall_ms() + 3_600_000)
    async with FakeBotApi() as api, dispatching(api, prefs=prefs) as (dispatcher, _):
        api.add_private_chat(CHAT)
        alert = record(50_000.0)
        dispatcher.enqueue_alert(CHAT, alert)
        await api.wait_until(lambda: dispatcher.stats.quiet_holds == 1)
        assert api.calls_to("sendMessage") == []
        prefs.until_ms = None  # /quiet off
        dispatcher.release(CHAT)
        [call] = await api.wait_for("sendMessage", lambda c: c.status == 200)
        assert call.params["text"] == alerts.digest([alert], held=True, loc=prefs.locale(CHAT))


async def test_drain_does_not_wait_for_quiet_hours_and_keeps_the_held_alerts() -> None:
    prefs = QuietPrefs(wall_ms() + 3_600_000)
    async with FakeBotApi() as api, dispatching(api, prefs=prefs) as (dispatcher, _):
        api.add_private_chat(CHAT)
        alert = record(50_000.0)
        dispatcher.enqueue_alert(CHAT, alert)
        await api.wait_until(lambda: dispatcher.stats.quiet_holds == 1)
        assert await dispatcher.drain(timeout_s=30.0) is True  # nothing could go now
        assert dispatcher.snapshot() == [PendingChat(CHAT, alerts=[alert])]
        assert api.calls_to("sendMessage") == []


async def test_a_photo_is_sent_with_its_caption_in_order() -> None:
    async with FakeBotApi() as api, dispatching(api) as (dispatcher, _):
        api.add_private_chat(CHAT)
        dispatcher.enqueue_message(CHAT, "<b>summary</b>")
        dispatcher.enqueue_photo(CHAT, PNG, "<b>BTC</b> 24h")
        await api.wait_until(lambda: dispatcher.stats.photos_sent == 1)
        assert api.method_names(exclude=("getUpdates", "getMe")) == ["sendMessage", "sendPhoto"]
        [photo] = api.calls_to("sendPhoto")
        assert photo.params["caption"] == "<b>BTC</b> 24h"
        assert [upload.data for upload in api.sent_photos(CHAT)] == [PNG]
        assert dispatcher.stats.messages_sent == 2
