"""The bot's store under concurrent use: each write is its own transaction."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.prefs.schedules import Schedule
from bot.tables.bot_store import BotStore


async def test_a_failed_write_takes_no_other_coroutine_s_write_with_it(tmp_path: Path) -> None:
    store = await BotStore(tmp_path / "bot.db").open()
    started, release = asyncio.Event(), asyncio.Event()

    async def failing() -> None:
        async with store._transaction() as db:
            await db.execute(
                "INSERT INTO bot_alert_log (chat_id, event_key, state, updated_ms) VALUES (1, 'half-done', 1, 0)"
            )
            started.set()
            await release.wait()
            raise sqlite3.OperationalError("database is locked")

    first = asyncio.create_task(failing())
    await started.wait()
    # Another coroutine writes while the first one's transaction is open ...
    second = asyncio.create_task(store.mark_on_wire([(2, "kept")]))
    await asyncio.sleep(0)  # let it start: it must wait, not join the open transaction
    release.set()
    with pytest.raises(sqlite3.OperationalError):
        await first
    await second
    await store.close()
    # ... and keeps its write while the failed one leaves nothing behind.
    with sqlite3.connect(tmp_path / "bot.db") as db:
        rows = db.execute("SELECT chat_id, event_key FROM bot_alert_log").fetchall()
    assert rows == [(2, "kept")]


async def test_many_concurrent_marks_all_land(tmp_path: Path) -> None:
    store = await BotStore(tmp_path / "bot.db").open()
    await asyncio.gather(*(store.mark_on_wire([(chat, f"k{chat}")]) for chat in range(300)))
    await store.mark_done([(chat, f"k{chat}") for chat in range(0, 300, 2)])
    journal = await store.journal()
    await store.close()
    assert len(journal) == 300
    assert sum(len(keys) for keys in journal.values()) == 300


async def test_a_summary_every_n_days_keeps_its_days_and_time_across_a_restart(
    tmp_path: Path,
) -> None:
    weekly = Schedule(-1007, every_s=7 * 86_400, daily_minute=480, topic=3)
    store = await BotStore(tmp_path / "bot.db").open()
    await store.set_schedule(weekly)
    await store.close()
    store = await BotStore(tmp_path / "bot.db").open()
    assert await store.load_schedules() == [(weekly, "command")]
    assert await store.schedule_of(weekly.chat_id) == weekly
    await store.close()
