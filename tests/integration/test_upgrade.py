"""A database written by the previous release (65aa976) opens with today's code, nothing lost."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from aggregation.store import LiquidationStore
from bot.tables.bot_store import BotStore
from bot.tables.db import BOT_SCHEMA_VERSION, NewerSchemaError, migrate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RELEASE_DB = FIXTURES / "release_65aa976.db"  # written by release_65aa976_db.py


def _bot_version(path: Path) -> int | None:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM bot_meta WHERE name = 'schema_version'").fetchone()
    return None if row is None else int(row[0])


@pytest.fixture
def release_db(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    shutil.copyfile(RELEASE_DB, path)
    return path


async def test_the_previous_release_database_keeps_everything(release_db: Path) -> None:
    assert _bot_version(release_db) is None  # that release stored no version for its tables
    events = await LiquidationStore(release_db, retention_s=10 * 365 * 86400).open()
    await events.close()
    store = await BotStore(release_db).open()
    try:
        rules = sorted(
            (r.chat_id, sorted(r.assets), r.min_usd, r.topic) for r in await store.load_rules()
        )
        cascades = [
            (r.chat_id, r.asset, r.window_ms, r.topic) for r in await store.load_cascade_rules()
        ]
        [prefs] = await store.load_prefs()
        schedules = [
            (s.chat_id, s.every_s, s.topic, source) for s, source in await store.load_schedules()
        ]
        [pending] = await store.take_pending()
        clean = await store.take_clean_stop()
    finally:
        await store.close()
    # Schema 2 added the forum topic: rules of that release post to the chat itself.
    assert rules == [(-100222, ["ETH", "SOL"], 250_000.0, None), (111, ["BTC"], 100_000.0, None)]
    assert cascades == [(111, "BTC", 300_000, None)]
    assert (prefs.chat_id, prefs.lang, prefs.tz) == (111, "zh", "Asia/Shanghai")
    assert schedules == [(-100222, 3600, None, "command")]
    assert (pending.chat_id, pending.messages, pending.dropped) == (111, ["<b>queued</b>"], 2)
    assert clean is True
    assert _bot_version(release_db) == BOT_SCHEMA_VERSION
    with sqlite3.connect(release_db) as db:
        assert db.execute("SELECT COUNT(*) FROM liquidations").fetchone() == (30,)
        assert db.execute("SELECT COUNT(*) FROM bot_chats").fetchone() == (2,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_a_new_database_stores_the_version(tmp_path: Path) -> None:
    store = await BotStore(tmp_path / "new.db").open()
    await store.close()
    assert _bot_version(tmp_path / "new.db") == BOT_SCHEMA_VERSION


async def test_migrations_run_once_in_order(tmp_path: Path) -> None:
    steps = (
        "ALTER TABLE bot_rules ADD COLUMN thread_id INTEGER;",
        "CREATE TABLE bot_extra (x INTEGER); INSERT INTO bot_extra VALUES (7);",
    )
    path = tmp_path / "m.db"
    async with aiosqlite.connect(path) as db:
        assert await migrate(db, path, steps[:1]) == 2
        assert await migrate(db, path, steps[:1]) == 2  # nothing to do: no duplicate column
        assert await migrate(db, path, steps) == 3
        assert await migrate(db, path, steps) == 3
        async with db.execute("SELECT COUNT(*) FROM bot_extra") as cur:
            assert await cur.fetchone() == (1,)


async def test_a_newer_database_is_refused_plainly(release_db: Path) -> None:
    with sqlite3.connect(release_db) as db:
        db.execute("INSERT INTO bot_meta VALUES ('schema_version', 99)")
    with pytest.raises(NewerSchemaError, match=r"newer version of the bot .* schema 99"):
        await BotStore(release_db).open()
