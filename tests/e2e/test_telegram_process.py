"""The real process in Telegram mode: SIGTERM flushes the database and stores unsent alerts."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

from bot.settings import bot_sibling
from tests.support.bot_api import FakeBotApi
from tests.support.exchanges import exchanges
from tests.support.frames import binance_force_order, now_ms
from tests.support.processes import output_at_exit, spawn_bot
from tests.support.ws_server import LiveFeed

ROOT = Path(__file__).resolve().parents[2]
USER = 111
WITNESS = 222


async def test_sigterm_stops_cleanly_with_writes_flushed_and_alerts_kept(tmp_path: Path) -> None:
    feed = LiveFeed()
    async with FakeBotApi() as api, exchanges(usdm=[feed]) as ex:
        api.add_private_chat(USER)
        api.add_private_chat(WITNESS)
        env = ex.bot_env(tmp_path / "bot.db", api.token, api.base_url)
        process = await spawn_bot(env, tmp_path)
        try:
            await api.wait_for("setMyCommands", timeout=20)
            await asyncio.wait_for(feed.connected.wait(), 20)

            def seen(chat: int, count: int) -> bool:
                return len(api.calls_to("sendMessage", chat_id=chat)) >= count

            for chat in (USER, WITNESS):
                api.push_text(chat, chat, "/subscribe BTC 10k")
            await api.wait_until(lambda: seen(USER, 1) and seen(WITNESS, 1), timeout=20)

            feed.push(binance_force_order("BTCUSDT", "SELL", "1", "80000", now_ms()))
            await api.wait_until(lambda: seen(USER, 2) and seen(WITNESS, 2), timeout=20)
            # Telegram fails every send to USER from now on (502): retried, never delivered.
            api.fail_next_raw("sendMessage", 502, chat_id=USER, times=None)
            feed.push(binance_force_order("BTCUSDT", "SELL", "2", "80000", now_ms()))
            await api.wait_until(lambda: seen(USER, 3) and seen(WITNESS, 3), timeout=20)
            feed.push(binance_force_order("BTCUSDT", "BUY", "3", "80000", now_ms()))
            # The witness's alert proves the event was ingested and queued for USER too.
            await api.wait_until(lambda: seen(WITNESS, 4), timeout=20)
        finally:
            if process.returncode is None:  # (also when a step above failed)
                process.send_signal(signal.SIGTERM)
            _, log = await output_at_exit(process)
    assert process.returncode == 0, log
    # The only errors are python-telegram-bot's own report of each 502's HTML body.
    errors = [line for line in log.splitlines() if " ERROR " in line or " CRITICAL " in line]
    assert len(errors) >= 2
    assert all(
        " ERROR telegram.request.BaseRequest: Can not load invalid JSON" in e for e in errors
    ), log
    assert api.token not in log
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("SELECT COUNT(*) FROM liquidations").fetchone() == (3,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with sqlite3.connect(bot_sibling(tmp_path / "bot.db")) as db:
        [(payload,)] = db.execute("SELECT payload FROM bot_pending").fetchall()
    # Neither alert could be delivered before the stop: both are stored for the next start.
    assert b'"chat_id":111' in payload
    assert payload.count(b'"symbol":"BTCUSDT"') == 2
    assert b'"qty_base":2.0' in payload
    assert b'"qty_base":3.0' in payload
    assert "stopping with alerts still queued" in log


async def test_a_refused_token_ends_the_process_with_one_plain_line(tmp_path: Path) -> None:
    async with FakeBotApi() as api:
        env = {
            "DATABASE_PATH": str(tmp_path / "bot.db"),
            "EXCHANGES": "binance-usdm",
            "BINANCE_USDM_WS_URL": "ws://127.0.0.1:9/unused",  # refused: no feed needed here
            "WEB_ENABLED": "false",
            "TELEGRAM_BOT_TOKEN": "999:not-this-bot",  # the fake answers 401, as Telegram does
            "TELEGRAM_BASE_URL": api.base_url,
            "LOG_LEVEL": "INFO",
        }
        process = await spawn_bot(env, tmp_path)
        _, log = await output_at_exit(process)
    assert process.returncode == 1, log
    assert log.splitlines()[-1] == (
        "Telegram refused TELEGRAM_BOT_TOKEN (401/404): check the token from @BotFather"
    )
    # No traceback, and the Bot API clients were closed though getMe never succeeded.
    assert "Traceback" not in log
    assert " ERROR " not in log
    assert "Unclosed" not in log
    assert "not-this-bot" not in log
