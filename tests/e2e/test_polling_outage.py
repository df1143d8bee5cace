"""Telegram unreachable while the bot runs: the long poll's outage is said like a feed's (once,
then a line a minute, then its end), not with a traceback per attempt, and a stop during it
ends cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.render import chat
from tests.e2e.test_telegram import USER, running_bot
from tests.support.bot_api import FakeBotApi
from tests.support.bot_api_objects import POLL_CONFLICT
from tests.support.exchanges import exchanges
from tests.support.frames import binance_force_order, now_ms
from tests.support.processes import closed_port, output_at_exit, read_until, spawn_bot
from tests.support.waiting import eventually
from tests.support.ws_server import LiveFeed


def _records(caplog: pytest.LogCaptureFixture, name: str) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == name]


async def test_failed_polls_are_said_once_then_their_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        # PTB retries after 1 s, 1.5 s and 2.25 s; the fourth poll is answered.
        api.fail_next("getUpdates", 502, "Bad Gateway", times=3)
        await eventually(
            lambda: any("answered again" in m for _, m in _records(caplog, "bot.app.telegram")),
            timeout=20,
        )
        assert await h.command(USER, USER, "/start") == chat.start_text()
    said = [r for r in _records(caplog, "bot.app.telegram") if "getUpdates" in r[1]]
    assert said[0] == (
        logging.WARNING,
        "Telegram (getUpdates): NetworkError: Bad Gateway; "
        "retrying (one line a minute while it persists)",
    )
    assert said[1][0] == logging.INFO
    # The outage lasted PTB's pauses (1 + 1.5 + 2.25 s) and the answered poll.
    assert re.fullmatch(
        r"Telegram \(getUpdates\): answered again after 3 failed attempts over \d+s", said[1][1]
    )
    assert len(said) == 2
    # Before: PTB's own line with a traceback, at ERROR, for each of the three.
    assert _records(caplog, "telegram.ext.Updater") == []


async def test_a_second_poller_is_said_in_telegrams_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with FakeBotApi() as api, running_bot(tmp_path, api):
        api.fail_next("getUpdates", 409, POLL_CONFLICT)  # another process polls the same token
        await eventually(
            lambda: any("getUpdates" in m for _, m in _records(caplog, "bot.app.telegram")),
            timeout=20,
        )
    said = [m for _, m in _records(caplog, "bot.app.telegram") if "getUpdates" in m]
    assert said == [
        (
            "Telegram (getUpdates): Conflict: terminated by other getUpdates request; make sure "
            "that only one bot instance is running; retrying (one line a minute while it persists)"
        )
    ]


@dataclass
class BotProcess:
    """The real process, its stderr read so far, and the feed it collects from."""

    process: asyncio.subprocess.Process
    feed: LiveFeed
    seen: list[str] = field(default_factory=list)
    log: str = ""  # the whole of stderr, once stopped

    async def read_until(self, needle: str) -> None:
        assert self.process.stderr is not None
        await read_until(self.process.stderr, needle, self.seen)

    async def stop(self) -> str:
        """SIGTERM; return the whole log (once the process has ended)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            _, rest = await output_at_exit(self.process)
            self.log = "".join(self.seen) + rest
        return self.log

    def assert_clean(self, token: str) -> None:
        assert self.process.returncode == 0, self.log
        assert "Traceback" not in self.log
        assert " ERROR " not in self.log
        assert token not in self.log


@contextlib.asynccontextmanager
async def bot_process(
    tmp_path: Path, token: str, base_url: str, **env: str
) -> AsyncIterator[BotProcess]:
    """Run the real bot (binance-usdm from a local feed) against this Bot API; stop it after."""
    feed = LiveFeed()
    async with exchanges(usdm=[feed]) as ex:
        settings = {
            **ex.bot_env(tmp_path / "bot.db", token, base_url),
            "WEB_ENABLED": "false",
            **env,
        }
        bot = BotProcess(await spawn_bot(settings, tmp_path), feed)
        try:
            yield bot
        finally:
            await bot.stop()


async def test_a_stop_while_telegram_is_unreachable_is_clean(tmp_path: Path) -> None:
    api = await FakeBotApi().__aenter__()
    async with bot_process(tmp_path, api.token, api.base_url) as bot:
        await bot.read_until("is running")
        await api.__aexit__(None, None, None)  # Telegram gone: every poll is refused
        await bot.read_until("Telegram (getUpdates): NetworkError")
        log = await bot.stop()
    bot.assert_clean(api.token)
    # PTB's last getUpdates at stop (which tells Telegram what was handled) failed: one line.
    [cleanup] = [line for line in log.splitlines() if "at stop" in line]
    assert (
        " WARNING telegram.ext.Updater: could not tell Telegram at stop which updates were "
        "handled (NetworkError: aiohttp.ClientConnectorError: Cannot connect to host "
    ) in cleanup
    assert cleanup.endswith("): the next start may receive the last ones again")


async def test_telegram_gone_between_getme_and_polling_is_waited_for(tmp_path: Path) -> None:
    """Before: the failed setMyCommands ended the process with a traceback."""
    first = await FakeBotApi().__aenter__()
    async with bot_process(tmp_path, first.token, first.base_url) as bot:
        await first.wait_for("setMyCommands", timeout=20)
        await first.__aexit__(None, None, None)  # gone after getMe and the first menu
        await bot.read_until("Telegram is unreachable")
        again = FakeBotApi()
        again.port = first.port  # back at the same address, ...
        async with again:
            # ... the menus, deleteWebhook and the long poll go on from where they failed
            await bot.read_until("Telegram bot @liquidation_test_bot is running")
            await again.wait_for("getUpdates", timeout=10)
            assert {c.method for c in again.calls} >= {"setMyCommands", "deleteWebhook"}
            await bot.stop()
    bot.assert_clean(first.token)


async def test_a_stop_while_telegram_is_gone_during_start_is_clean(tmp_path: Path) -> None:
    api = await FakeBotApi().__aenter__()
    async with bot_process(tmp_path, api.token, api.base_url) as bot:
        await api.wait_for("setMyCommands", timeout=20)
        await api.__aexit__(None, None, None)
        await bot.read_until("Telegram is unreachable")
        log = await bot.stop()
    bot.assert_clean(api.token)
    assert "liquidation-bot stopped" in log


def _stored(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not written yet
            return 0


async def test_events_are_collected_stored_and_shown_while_getme_is_unanswered(
    tmp_path: Path,
) -> None:
    """Before: the collectors and the dashboard started only once Telegram answered getMe."""
    refused = f"http://127.0.0.1:{closed_port()}/bot"  # every getMe is refused
    async with bot_process(tmp_path, "123:ABC", refused, WEB_ENABLED="true") as bot:
        await bot.read_until("Telegram is unreachable")
        [dashboard] = re.findall(r"dashboard at (http://\S+)/", "".join(bot.seen))
        await asyncio.wait_for(bot.feed.connected.wait(), 30)
        for qty in ("1", "2", "3"):
            bot.feed.push(binance_force_order("BTCUSDT", "SELL", qty, "80000", now_ms()))
        await eventually(lambda: _stored(tmp_path / "bot.db") == 3, timeout=20)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{dashboard}/healthz") as health:
                assert (health.status, await health.text()) == (200, "up\n")
            async with http.get(f"{dashboard}/metrics") as metrics:
                assert "liquidation_bot_events_counted_total 3.0" in await metrics.text()
        log = await bot.stop()
    assert "stopped before Telegram answered" in log
    bot.assert_clean("123:ABC")
    assert _stored(tmp_path / "bot.db") == 3
