"""A start alerts what it counted before its alerts listened, once: the events heard while
Telegram was asked who the bot is, and, after an unclean stop, those the journal shows unsent,
even when one arrives while the start reads what the last run left."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app.telegram import RunningBot, run_telegram
from bot.render import alerts
from bot.settings import bot_sibling
from collectors.record import Liquidation
from tests.e2e.test_crash_telegram import db_count
from tests.e2e.test_telegram import TUNING, USER, push_event, running_bot
from tests.support.bot_api import FakeBotApi
from tests.support.exchanges import exchanges
from tests.support.ws_server import LiveFeed


def event(feed: LiveFeed, qty: str) -> Liquidation:
    """Push a BTC long liquidated at $80,000 a coin; return the bot's record of it."""
    return push_event(feed, "BTCUSDT", "SELL", qty, "80000")


@contextlib.asynccontextmanager
async def starting(
    tmp_path: Path, api: FakeBotApi, feed: LiveFeed, ready: list[RunningBot]
) -> AsyncIterator[None]:
    """Start the bot on tmp_path's files with getMe held (`api.release_hung` lets it answer)."""
    api.hang_next("getMe")
    async with exchanges(usdm=[feed]) as ex:
        settings = ex.bot_settings(tmp_path / "bot.db", api.token, api.base_url)
        stop = asyncio.Event()
        task = asyncio.create_task(run_telegram(settings, stop, TUNING, ready.append))
        try:
            await asyncio.wait_for(feed.connected.wait(), 10)  # counting from now on
            yield
            await api.wait_until(lambda: bool(ready) or task.done(), timeout=15)
            if task.done():
                task.result()
        finally:
            api.release_hung()
            stop.set()
            await asyncio.wait_for(task, 30)


async def first_run(tmp_path: Path, api: FakeBotApi) -> Liquidation:
    """Subscribe USER to BTC from $10K; return an event alerted then (the stop is clean)."""
    async with running_bot(tmp_path, api) as h:
        await h.command(USER, USER, "/subscribe BTC 10k")
        mark = api.mark()
        record = event(h.feed, "0.5")
        await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
    return record


async def test_events_heard_before_telegram_answered_are_alerted_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app.wiring")
    async with FakeBotApi() as api:
        api.add_private_chat(USER)
        await first_run(tmp_path, api)
        mark = api.mark()
        feed = LiveFeed()
        ready: list[RunningBot] = []
        async with starting(tmp_path, api, feed, ready):
            early = event(feed, "1")  # counted while getMe is unanswered
            await api.wait_until(lambda: db_count(tmp_path / "bot.db") == 2)
            api.release_hung()
        [sent] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        assert sent.params["text"] == alerts.alert(early)  # and the first run's not again
        assert ready[0].services.dispatcher.stats.alerts_queued == 1
    assert "1 alert(s) for events that arrived while the bot started" in caplog.messages


async def test_an_event_counted_while_an_unclean_start_reads_the_journal_is_alerted_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeBotApi() as api:
        api.add_private_chat(USER)
        await first_run(tmp_path, api)
        bot_db = bot_sibling(tmp_path / "bot.db")
        with sqlite3.connect(bot_db) as db:  # as if the last run had been killed
            db.execute("DELETE FROM bot_meta WHERE name = 'clean_stop'")
        mark = api.mark()
        feed = LiveFeed()
        ready: list[RunningBot] = []
        lock = sqlite3.connect(bot_db, isolation_level=None)
        try:
            async with starting(tmp_path, api, feed, ready):
                # Another program holds the bot's tables (opened by now): the start waits for
                # them to take the clean-stop mark, after building its services.
                lock.execute("BEGIN IMMEDIATE")
                api.release_hung()
                await api.wait_until(lambda: bool(api.calls_to("getMe", status=200, since=mark)))
                await asyncio.sleep(0.3)  # the start is at the lock by now (at worst: earlier)
                late = event(feed, "1")
                await api.wait_until(lambda: db_count(tmp_path / "bot.db") == 2)
                lock.execute("ROLLBACK")
        finally:
            lock.close()
        [sent] = await api.wait_for("sendMessage", lambda c: c.chat_id == USER, since=mark)
        assert sent.params["text"] == alerts.alert(late)
        assert ready[0].services.dispatcher.stats.alerts_queued == 1
    assert (
        "recovered after an unclean stop: 1 alert(s) to send, 0 reported as uncertain"
        in caplog.messages
    )
