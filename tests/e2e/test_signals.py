"""The real process stops within 5 s of SIGTERM or SIGINT in every phase, exits 0 and keeps data."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import bot_sibling
from tests.support.bot_api import FakeBotApi
from tests.support.exchanges import exchanges
from tests.support.frames import binance_force_order, now_ms
from tests.support.processes import closed_port, output_at_exit, read_until, spawn_bot
from tests.support.ws_server import LiveFeed, Peer

STOP_WITHIN_S = 5.0


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[tuple[int, asyncio.Event]]:
    """Accept connections and never answer (a Bot API behind a black hole); the event is set
    on the first connection."""
    held: list[asyncio.StreamWriter] = []
    accepted = asyncio.Event()

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        accepted.set()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1]), accepted
    finally:
        for writer in held:
            writer.close()
        server.close()


async def _stop(process: asyncio.subprocess.Process, signum: int) -> tuple[float, str, str]:
    """Send `signum`; return the seconds until exit, stdout and the rest of stderr."""
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = await output_at_exit(process)
    return time.monotonic() - sent, out, err


@pytest.mark.parametrize(
    ("signum", "bot_api"), [(signal.SIGTERM, "refused"), (signal.SIGINT, "silent")]
)
async def test_a_signal_ends_the_startup_retries_against_an_unreachable_bot_api(
    tmp_path: Path, signum: int, bot_api: str
) -> None:
    feed = LiveFeed()
    async with exchanges(usdm=[feed]) as ex, _silent_server() as (silent_port, accepted):
        port = closed_port() if bot_api == "refused" else silent_port
        env = ex.bot_env(tmp_path / "bot.db", "123:ABC", f"http://127.0.0.1:{port}/bot")
        process = await spawn_bot(env, tmp_path)
        assert process.stderr is not None
        seen: list[str] = []
        if bot_api == "refused":
            await read_until(process.stderr, "Telegram is unreachable", seen)
        else:  # getMe is sent and never answered
            await asyncio.wait_for(accepted.wait(), 30)
        elapsed, _, err = await _stop(process, signum)
    log = "".join(seen) + err
    assert process.returncode == 0, log
    assert elapsed < STOP_WITHIN_S, log
    assert "Traceback" not in log
    # The Bot API clients are closed though getMe never succeeded (aiohttp says so otherwise:
    # "ERROR asyncio: Unclosed client session").
    assert " ERROR " not in log
    assert "Unclosed" not in log
    assert "stopped" in log


async def test_sigint_while_running_keeps_the_collected_events(tmp_path: Path) -> None:
    feed = LiveFeed()
    async with exchanges(usdm=[feed]) as ex:
        env = {**ex.env(tmp_path / "bot.db"), "EXCHANGES": "binance-usdm", "LOG_LEVEL": "INFO"}
        env["TELEGRAM_BOT_TOKEN"] = ""
        process = await spawn_bot(env, tmp_path)
        assert process.stdout is not None
        await asyncio.wait_for(feed.connected.wait(), 30)
        for qty in ("1", "2", "3"):
            feed.push(binance_force_order("BTCUSDT", "SELL", qty, "80000", now_ms()))
        seen: list[str] = []
        for _ in range(3):
            await read_until(process.stdout, "liquidated", seen)
        elapsed, out, err = await _stop(process, signal.SIGINT)
    assert process.returncode == 0, err
    assert elapsed < STOP_WITHIN_S, err
    assert "Traceback" not in err
    assert "stopped" in "".join(seen) + out
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("SELECT COUNT(*) FROM liquidations").fetchone() == (3,)


async def test_a_stop_past_the_grace_still_stores_everything_closes_and_ends(
    tmp_path: Path,
) -> None:
    # A feed whose exchange no longer reads (the network gone at the stop): closing its socket
    # waits for an answer that never comes, 5 s, past the 4 s grace that then cancels the stop.
    connected = asyncio.Event()

    async def deaf(peer: Peer) -> None:
        assert peer.ws.transport is not None
        peer.ws.transport.pause_reading()  # the bot's close frame is never read
        connected.set()
        await peer.closed.wait()

    path = tmp_path / "bot.db"
    async with FakeBotApi() as api, exchanges(usdm=[deaf]) as ex:
        process = await spawn_bot(ex.bot_env(path, api.token, api.base_url), tmp_path)
        assert process.stderr is not None
        seen: list[str] = []
        await read_until(process.stderr, "is running", seen)
        await asyncio.wait_for(connected.wait(), 30)
        elapsed, _, err = await _stop(process, signal.SIGTERM)
    log = "".join(seen) + err
    assert process.returncode == 0, log
    assert elapsed < STOP_WITHIN_S, log
    assert "stopping took longer than 4s: cancelled" in log
    assert "Traceback" not in log
    assert " ERROR " not in log
    # The alerts' bookkeeping ran to its end (before the grace ran out), and the files closed.
    with sqlite3.connect(bot_sibling(path)) as tables:
        marks = tables.execute("SELECT COUNT(*) FROM bot_meta WHERE name = 'clean_stop'")
        assert marks.fetchone() == (1,)
