"""kill -9 the bot during a heavy stream with alerts in flight, restart: no alert is sent twice,
and every alert owed is delivered, merged into a digest, or reported (dropped or uncertain)."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
from collections import Counter
from pathlib import Path

from bot.texts.formatting import format_usd
from tests.support.bot_api import FakeBotApi
from tests.support.exchanges import exchanges
from tests.support.frames import binance_force_order, now_ms
from tests.support.processes import output_at_exit, spawn_bot
from tests.support.ws_server import LiveFeed

CHATS = (111, 222, 333)
FRAMES = 150_000
MATCHING_EVERY = 500  # one $10K+ BTC liquidation every 500 frames: 300 matching events
USD = re.compile(r"\$([\d.,]+[KMB]?)")
TIME = re.compile(r"(\d\d:\d\d:\d\d) UTC")
DIGEST = re.compile(r"(\d+) liquidation alerts")
NOT_SENT = re.compile(r"(\d+) alerts? (?:was|were) not sent")
UNCERTAIN = re.compile(r"(\d+) alerts? may not have arrived")


def frames(start_ms: int) -> tuple[list[str], int]:
    """Small liquidations of many symbols, with distinct-sized BTC ones among them."""
    out = []
    matching = 0
    for i in range(FRAMES):
        ts = start_ms + i // 20
        if i % MATCHING_EVERY == 0:
            matching += 1
            qty = f"{1 + matching * 0.01:.2f}"  # $10,000 + $100 per event: every size differs
            out.append(binance_force_order("BTCUSDT", "SELL", qty, "10000", ts))
        else:
            out.append(binance_force_order(f"C{i % 300}USDT", "BUY", "1", "50", ts))
    return out, matching


def identities(text: str) -> list[tuple[str, str]]:
    """(size, time) of each alert a message shows (a single alert, or a digest's lines)."""
    if DIGEST.search(text):
        lines = [
            line
            for line in text.split("\n")
            if line.startswith(("🔴", "🟢")) and TIME.search(line)  # event lines, not totals
        ]
    else:
        lines = [text.replace("\n", " ")] if USD.search(text) and TIME.search(text) else []
    return [(USD.findall(line)[0], TIME.findall(line)[0]) for line in lines]


def carried(text: str) -> int:
    """How many alerts a message delivers."""
    digest = DIGEST.search(text)
    if digest:
        return int(digest.group(1))
    return 1 if identities(text) else 0


def reported(text: str) -> int:
    return sum(int(m) for pattern in (NOT_SENT, UNCERTAIN) for m in pattern.findall(text))


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await spawn_bot(env, cwd, stdout=asyncio.subprocess.DEVNULL)


def db_count(path: Path, where: str = "") -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM liquidations {where}").fetchone()[0])


async def test_kill_9_neither_repeats_nor_silently_loses_alerts(tmp_path: Path) -> None:
    feed = LiveFeed()
    path = tmp_path / "bot.db"
    async with FakeBotApi(latency_s=0.05) as api, exchanges(usdm=[feed]) as ex:
        env = ex.bot_env(path, api.token, api.base_url)
        for chat in CHATS:
            api.add_private_chat(chat)
        first = await start(env, tmp_path)
        try:
            await asyncio.wait_for(feed.connected.wait(), 20)
            for chat in CHATS:
                api.push_text(chat, chat, "/subscribe BTC 10k")
            await api.wait_until(
                lambda: all(api.calls_to("sendMessage", chat_id=c) for c in CHATS), timeout=20
            )
            mark = api.mark()
            stream, matching = frames(now_ms())
            feed.push(*stream)
            # Kill once alerts are flowing and a good part of the stream is stored.
            await api.wait_until(
                lambda: (
                    len(api.calls_to("sendMessage", since=mark)) >= 6
                    and db_count(path) >= FRAMES // 3
                ),
                timeout=60,
            )
            first.kill()
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored_matching = db_count(path, "WHERE notional_usd >= 10000")
        assert stored_matching >= 1

        restart = api.mark()
        second = await start(env, tmp_path)
        try:

            def settled(chat: int) -> bool:
                texts = [
                    str(c.params["text"])
                    for c in api.calls_to("sendMessage", chat_id=chat, status=200, since=mark)
                ]
                return sum(carried(t) + reported(t) for t in texts) >= stored_matching

            # The first process may have sent enough already: wait for the second to be up
            # (polling: its signal handlers are set) before the SIGTERM.
            await api.wait_until(
                lambda: (
                    bool(api.calls_to("getUpdates", since=restart))
                    and all(settled(c) for c in CHATS)
                ),
                timeout=60,
            )
        finally:
            if second.returncode is None:  # (also when a step above failed)
                second.send_signal(signal.SIGTERM)
            _, log = await output_at_exit(second)
    assert second.returncode == 0, log
    # The restart found owed alerts: some to send, some to report as uncertain.
    assert "recovered after an unclean stop" in log, log
    for chat in CHATS:
        texts = [
            str(c.params["text"])
            for c in api.calls_to("sendMessage", chat_id=chat, status=200, since=mark)
        ]
        shown = Counter(identity for t in texts for identity in identities(t))
        repeated = {identity: n for identity, n in shown.items() if n > 1}
        assert repeated == {}, f"chat {chat}: alerts sent twice: {repeated}"
        assert sum(carried(t) + reported(t) for t in texts) >= stored_matching
    expected_sizes = {format_usd(10_000 + 100 * k) for k in range(1, matching + 1)}
    assert {size for t in texts for size, _ in identities(t)} <= {
        s.lstrip("$") for s in expected_sizes
    }
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
