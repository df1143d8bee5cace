"""`liquidation-bot backup FILE` copies the live database while the bot ingests."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from aggregation.store import LiquidationStore
from bot.tables.bot_store import BotStore
from tests.support.exchanges import exchanges
from tests.support.frames import binance_force_order, now_ms
from tests.support.waiting import eventually
from tests.support.ws_server import LiveFeed


def _count(path: Path) -> int:
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0])
    except sqlite3.Error:
        return 0


async def _cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_backup_while_ingesting_gives_a_database_with_the_rows(tmp_path: Path) -> None:
    feed = LiveFeed()
    database = tmp_path / "bot.db"
    async with exchanges(usdm=[feed]) as ex:
        env = {**os.environ, **ex.env(database), "EXCHANGES": "binance-usdm"}
        env["TELEGRAM_BOT_TOKEN"] = ""
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await asyncio.wait_for(feed.connected.wait(), 30)
            start = now_ms()
            for n in range(50):
                feed.push(binance_force_order("BTCUSDT", "SELL", str(n + 1), "80000", start + n))
            await eventually(lambda: _count(database) == 50, timeout=20)
            # More events keep arriving while the copy is made.
            for n in range(50, 100):
                feed.push(binance_force_order("ETHUSDT", "BUY", str(n + 1), "3000", start + n))
            copy = tmp_path / "backups" / "copy.db"
            status, out, err = await _cli("backup", str(copy), env=env, cwd=tmp_path)
            again = await _cli("backup", str(copy), env=env, cwd=tmp_path)
            assert bot.returncode is None  # the bot ran throughout
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 30)
    assert (status, err) == (0, ""), err
    assert out.startswith(f"backed up {database} to {copy}: ")
    assert out.endswith(
        f"no bot tables at {tmp_path}/bot-bot.db yet (the bot has not run with a token): "
        "the events are all there is\n"
    )
    copied = _count(copy)
    assert 50 <= copied <= 100
    assert f" {copied:,} events, " in out
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert "liquidations" in tables
    assert again == (1, "", f"backup failed: {copy} exists: choose a new file name\n")
    assert not list((tmp_path / "backups").glob("*.partial"))


async def test_backup_without_a_database_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_PATH": str(tmp_path / "none.db")}
    status, out, err = await _cli("backup", str(tmp_path / "copy.db"), env=env, cwd=tmp_path)
    assert (status, out) == (1, "")
    assert err == f"backup failed: no database at {tmp_path}/none.db (DATABASE_PATH)\n"
    assert not (tmp_path / "none.db").exists()


async def test_backup_copies_the_bot_tables_beside_the_events(tmp_path: Path) -> None:
    database = tmp_path / "data" / "liquidations.db"
    events = await LiquidationStore(database).open()
    await events.close()
    store = await BotStore(tmp_path / "data" / "liquidations-bot.db").open()
    try:
        await store.add_rule(111, frozenset({"BTC"}), 100_000.0, None, frozenset())
    finally:
        await store.close()
    env = {**os.environ, "DATABASE_PATH": str(database), "TELEGRAM_BOT_TOKEN": ""}
    copy = tmp_path / "backups" / "copy.db"
    status, out, err = await _cli("backup", str(copy), env=env, cwd=tmp_path)
    assert (status, err) == (0, ""), err
    first, second = out.splitlines()
    assert first.startswith(f"backed up {database} to {copy}: ")
    assert second.startswith(
        f"backed up {tmp_path}/data/liquidations-bot.db to {tmp_path}/backups/copy-bot.db: "
    )
    with sqlite3.connect(tmp_path / "backups" / "copy-bot.db") as db:
        assert db.execute("SELECT chat_id, assets FROM bot_rules").fetchall() == [(111, "BTC")]
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # A second backup to names of which one is taken writes nothing.
    (tmp_path / "backups" / "again-bot.db").write_bytes(b"")
    again = tmp_path / "backups" / "again.db"
    status, out, err = await _cli("backup", str(again), env=env, cwd=tmp_path)
    assert (status, out) == (1, "")
    assert err == f"backup failed: {tmp_path}/backups/again-bot.db exists: choose a new file name\n"
    assert not again.exists()
