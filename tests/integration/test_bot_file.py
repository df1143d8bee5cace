"""The bot's tables move out of the events' file into their own, once, losing nothing (issue 16:
an alert's journal mark no longer shares a lock with the liquidation writer)."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aggregation.store import LiquidationStore
from bot.app.telegram import open_bot_store
from bot.settings import Settings, bot_sibling
from bot.tables import split
from bot.tables.split import adopt_bot_tables
from tests.integration.test_upgrade import RELEASE_DB


def _tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'bot%' ORDER BY name"
        )
        return [name for (name,) in rows]


def _rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


RULES = "SELECT rule_id, chat_id, assets, min_usd FROM bot_rules ORDER BY rule_id"
SEQUENCE = "SELECT name, seq FROM sqlite_sequence WHERE name LIKE 'bot%' ORDER BY name"


@pytest.fixture
def release_db(tmp_path: Path) -> Path:
    path = tmp_path / "liquidations.db"
    shutil.copyfile(RELEASE_DB, path)
    return path


def test_the_default_bot_file_is_beside_the_events_file() -> None:
    assert bot_sibling(Path("data/liquidations.db")) == Path("data/liquidations-bot.db")
    settings = Settings(database_path=Path("/srv/x/events.sqlite"))
    assert settings.bot_tables_path == Path("/srv/x/events-bot.sqlite")
    chosen = Settings(bot_database_path=Path("/var/lib/bot/rules.db"))
    assert chosen.bot_tables_path == Path("/var/lib/bot/rules.db")


async def test_a_previous_release_database_moves_its_bot_tables_once(
    release_db: Path, tmp_path: Path
) -> None:
    with sqlite3.connect(release_db) as db:  # a rule added and removed: the counter is ahead
        db.execute(
            "INSERT INTO bot_rules SELECT rule_id + 1, chat_id, assets, min_usd, side, "
            "exchanges, created_ms FROM bot_rules WHERE rule_id = 2"
        )
        db.execute("DELETE FROM bot_rules WHERE rule_id = 3")
    rules, sequence = _rows(release_db, RULES), _rows(release_db, SEQUENCE)
    assert dict(sequence)["bot_rules"] == 3
    moved_tables = _tables(release_db)
    events = await LiquidationStore(release_db, retention_s=10 * 365 * 86400).open()
    try:
        settings = Settings(database_path=release_db)
        store = await open_bot_store(settings)
        try:
            assert sorted((r.chat_id, r.min_usd) for r in await store.load_rules()) == [
                (-100222, 250_000.0),
                (111, 100_000.0),
            ]
            [pending] = await store.take_pending()
            assert (pending.chat_id, pending.dropped) == (111, 2)
            assert await store.take_clean_stop() is True
            # A new rule continues the old AUTOINCREMENT sequence.
            added = await store.add_rule(1, frozenset({"BTC"}), 1e6, None, frozenset())
            assert added.rule_id == 4  # not 3: ids of removed rules are never reused
        finally:
            await store.close()
    finally:
        await events.close()
    bot_path = tmp_path / "liquidations-bot.db"
    assert _tables(release_db) == []  # the events' file keeps only its own tables
    assert set(moved_tables) <= set(_tables(bot_path))
    assert _rows(bot_path, RULES)[: len(rules)] == rules
    assert _rows(release_db, "SELECT COUNT(*) FROM liquidations") == [(30,)]
    assert _rows(bot_path, "SELECT name FROM bot_meta WHERE name LIKE 'moved%'") == []
    # A second start moves nothing.
    assert adopt_bot_tables(bot_path, release_db) == 0
    assert len(_rows(bot_path, RULES)) == len(rules) + 1


def test_a_crash_between_the_copy_and_the_drop_finishes_the_drop_only(
    release_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot_path = tmp_path / "liquidations-bot.db"
    rules = _rows(release_db, RULES)

    def crash(*_: object) -> None:
        raise KeyboardInterrupt  # the process dies after the copy's commit

    with monkeypatch.context() as patched:
        patched.setattr(split, "_drop", crash)
        with pytest.raises(KeyboardInterrupt):
            adopt_bot_tables(bot_path, release_db)
    assert _rows(bot_path, RULES) == rules  # copied and committed
    assert _rows(release_db, RULES) == rules  # not dropped yet
    assert adopt_bot_tables(bot_path, release_db) == 0  # no second copy
    assert _rows(bot_path, RULES) == rules
    assert _tables(release_db) == []


def test_bot_tables_an_older_release_wrote_later_are_left_alone(
    release_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot_path = tmp_path / "liquidations-bot.db"
    with sqlite3.connect(bot_path) as db:
        db.execute("CREATE TABLE bot_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    with caplog.at_level(logging.WARNING, logger="bot.tables.split"):
        assert adopt_bot_tables(bot_path, release_db) == 0
    assert _tables(bot_path) == ["bot_meta"]
    assert "bot_rules" in _tables(release_db)  # nothing lost, nothing merged
    [message] = caplog.messages
    assert message.startswith(f"{release_db} still holds bot tables (bot_alert_log, ")
    assert message.endswith(f"the bot uses {bot_path} and leaves them untouched")


def test_nothing_to_move_from_a_new_or_missing_events_file(tmp_path: Path) -> None:
    bot_path = tmp_path / "x-bot.db"
    assert adopt_bot_tables(bot_path, tmp_path / "missing.db") == 0
    sqlite3.connect(tmp_path / "x.db").close()
    assert adopt_bot_tables(bot_path, tmp_path / "x.db") == 0
    assert _tables(bot_path) == []
