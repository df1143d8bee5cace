"""Telegram unreachable while the bot runs: the long poll's outage is said like a feed's (once,
then a line a minute, then its end), not with a traceback per attempt, and a stop during it
ends cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.render import chat
from tests.e2e.test_telegram import USER, running_bot
from tests.support.bot_api import FakeBotApi
from tests.support.exchanges import exchanges
from tests.support.frames import binance_force_order, now_ms
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


async def _start(api: FakeBotApi, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        **env,
        "EXCHANGES": "binance-usdm",
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "LOG_LEVEL": "INFO",
        "WEB_ENABLED": "false",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _read_until(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> None:
    async with asyncio.timeout(30):
        while needle not in "".join(seen):
            line = (await stream.readline()).decode()
            assert line, f"the process ended before {needle!r}: {''.join(seen)}"
            seen.append(line)


async def _stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(30):
            _, rest = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return rest.decode()


def _assert_clean(process: asyncio.subprocess.Process, log: str, token: str) -> None:
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert " ERROR " not in log
    assert token not in log


async def test_a_stop_while_telegram_is_unreachable_is_clean(tmp_path: Path) -> None:
    feed = LiveFeed()
    api = FakeBotApi()
    async with exchanges(usdm=[feed]) as ex:
        await api.__aenter__()
        process = await _start(api, ex.env(tmp_path / "bot.db"), tmp_path)
        assert process.stderr is not None
        seen: list[str] = []
        try:
            await _read_until(process.stderr, "is running", seen)
            await api.__aexit__(None, None, None)  # Telegram gone: every poll is refused
            await _read_until(process.stderr, "Telegram (getUpdates): NetworkError", seen)
        finally:
            log = "".join(seen) + await _stop(process)
    _assert_clean(process, log, api.token)
    # PTB's last getUpdates at stop (which tells Telegram what was handled) failed: one line.
    [cleanup] = [line for line in log.splitlines() if "at stop" in line]
    assert (
        " WARNING telegram.ext.Updater: could not tell Telegram at stop which updates were "
        "handled (NetworkError: aiohttp.ClientConnectorError: Cannot connect to host "
    ) in cleanup
    assert cleanup.endswith("): the next start may receive the last ones again")


async def test_telegram_gone_between_getme_and_polling_is_waited_for(tmp_path: Path) -> None:
    """Before: the failed setMyCommands ended the process with a traceback."""
    feed = LiveFeed()
    first = FakeBotApi()
    again = FakeBotApi()
    async with exchanges(usdm=[feed]) as ex:
        await first.__aenter__()
        process = await _start(first, ex.env(tmp_path / "bot.db"), tmp_path)
        assert process.stderr is not None
        seen: list[str] = []
        try:
            await first.wait_for("setMyCommands", timeout=20)
            await first.__aexit__(None, None, None)  # gone after getMe and the first menu
            await _read_until(process.stderr, "Telegram is unreachable", seen)
            again.port = first.port  # back at the same address, ...
            async with again:
                # ... the menus, deleteWebhook and the long poll go on from where they failed
                await _read_until(
                    process.stderr, "Telegram bot @liquidation_test_bot is running", seen
                )
                await again.wait_for("getUpdates", timeout=10)
                assert {c.method for c in again.calls} >= {"setMyCommands", "deleteWebhook"}
                log = "".join(seen) + await _stop(process)
        finally:
            if process.returncode is None:
                log = "".join(seen) + await _stop(process)
    _assert_clean(process, log, first.token)


async def test_a_stop_while_telegram_is_gone_during_start_is_clean(tmp_path: Path) -> None:
    feed = LiveFeed()
    api = FakeBotApi()
    async with exchanges(usdm=[feed]) as ex:
        await api.__aenter__()
        process = await _start(api, ex.env(tmp_path / "bot.db"), tmp_path)
        assert process.stderr is not None
        seen: list[str] = []
        try:
            await api.wait_for("setMyCommands", timeout=20)
            await api.__aexit__(None, None, None)
            await _read_until(process.stderr, "Telegram is unreachable", seen)
        finally:
            log = "".join(seen) + await _stop(process)
    _assert_clean(process, log, api.token)
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
    feed = LiveFeed()
    with socket.socket() as probe:  # a port nothing listens on: every getMe is refused
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    async with exchanges(usdm=[feed]) as ex:
        env = {
            **os.environ,
            **ex.env(tmp_path / "bot.db"),
            "EXCHANGES": "binance-usdm",
            "TELEGRAM_BOT_TOKEN": "123:ABC",
            "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
            "LOG_LEVEL": "INFO",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        seen: list[str] = []
        try:
            assert process.stderr is not None
            await _read_until(process.stderr, "Telegram is unreachable", seen)
            [dashboard] = re.findall(r"dashboard at (http://\S+)/", "".join(seen))
            await asyncio.wait_for(feed.connected.wait(), 30)
            for qty in ("1", "2", "3"):
                feed.push(binance_force_order("BTCUSDT", "SELL", qty, "80000", now_ms()))
            await eventually(lambda: _stored(tmp_path / "bot.db") == 3, timeout=20)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{dashboard}/healthz") as health:
                    assert (health.status, await health.text()) == (200, "up\n")
                async with http.get(f"{dashboard}/metrics") as metrics:
                    assert "liquidation_bot_events_counted_total 3.0" in await metrics.text()
        finally:
            log = "".join(seen) + await _stop(process)
    assert "Telegram is unreachable" in log
    assert "stopped before Telegram answered" in log
    _assert_clean(process, log, "123:ABC")
    assert _stored(tmp_path / "bot.db") == 3
