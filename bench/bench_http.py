"""CPU on the event loop per Bot API request: the bot's aiohttp backend against PTB's httpx default.

    python bench/bench_http.py            # 600 sendMessage per backend and pattern
    python bench/bench_http.py --quick    # 100 (CI smoke)

Each alert is one sendMessage made on the event loop that also reads the exchanges, so its CPU
there is paid by every alert behind it (a large liquidation fans out to many chats at once). The
fake Bot API (tests/support/bot_api.py) runs in a child process, as Telegram is another machine,
so the CPU measured (getrusage of this process, which makes only these requests) is the client's:
python-telegram-bot's Bot.send_message through its rate limiter, the HTTP backend, and parsing
the answer into a Message. Two patterns: one request at a time, and 20 at once (a fan-out). The
backends alternate in rounds, so a change in the machine's speed affects them alike; the ratios
are the figures to compare. A third backend is the bot's as it was until ba5696d: aiohttp's
`trust_env`, which reads the proxy settings and ~/.netrc in the thread pool at every request.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.constants import ParseMode  # noqa: E402
from telegram.ext import AIORateLimiter, ExtBot  # noqa: E402
from telegram.request import BaseRequest, HTTPXRequest  # noqa: E402

from bench.bench_load import TelegramPeer, cpu_s  # noqa: E402
from bot.app.http import AiohttpRequest  # noqa: E402

BOTS = "aiohttp (the bot's)"
FIRST_CHAT = 30_001
CHATS = 600
TEXT = (
    "🔴 <b>#BTC long liquidated: $1.2M</b>\n1,500 BTC at $80,000.0 on Binance USDⓈ-M "
    "(BTCUSDT)\n<i>Binance sends at most one liquidation per symbol per second</i>"
)
# Under the fake's flood limits (30/s overall, 1/s per chat): sends are spread over chats and time.
PAUSE_ONE_S = 0.04
PAUSE_FAN_OUT_S = 0.7


class TrustEnvRequest(AiohttpRequest):
    """The bot's backend until ba5696d: the session's `trust_env` on, the rest the same."""

    async def initialize(self) -> None:
        await super().initialize()
        assert self._session is not None
        assert self.ssl_context is not None
        await self._session.close()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=self.ssl_context),
            trust_env=True,
        )


async def measure(bot: Bot, sends: int, at_once: int, pause_s: float, first: int) -> float:
    """Return the CPU ms per send of `sends` sendMessage, `at_once` together, idle time removed."""
    idle_before = cpu_s()
    for _ in range(sends // at_once):
        await asyncio.sleep(pause_s)
    idle_ms = (cpu_s() - idle_before) * 1000  # what the pauses alone cost (the loop's wake-ups)
    before = cpu_s()
    for start in range(0, sends, at_once):
        chats = [FIRST_CHAT + (first + start + j) % CHATS for j in range(at_once)]
        await asyncio.gather(
            *(bot.send_message(chat, TEXT, parse_mode=ParseMode.HTML) for chat in chats)
        )
        await asyncio.sleep(pause_s)
    return ((cpu_s() - before) * 1000 - idle_ms) / sends


async def run(sends: int, rounds: int) -> None:
    api = await TelegramPeer.start()
    token, base_url = api.token, api.base_url
    api.push_commands([(FIRST_CHAT + i, "/start") for i in range(CHATS)])  # the chats exist
    backends: dict[str, Callable[[], BaseRequest]] = {
        BOTS: AiohttpRequest,
        "aiohttp, trust_env": TrustEnvRequest,
        "httpx (PTB's default)": HTTPXRequest,
    }
    bots = {
        name: ExtBot(token, base_url=base_url, request=make(), rate_limiter=AIORateLimiter())
        for name, make in backends.items()
    }
    try:
        for bot in bots.values():
            await bot.initialize()
        await asyncio.sleep(1.0)  # the /start replies go out
        results: dict[tuple[str, str], list[float]] = {}
        for number in range(rounds):
            for pattern, at_once, pause in (
                ("one at a time", 1, PAUSE_ONE_S),
                ("20 at once", 20, PAUSE_FAN_OUT_S),
            ):
                for name, bot in bots.items():
                    ms = await measure(bot, sends, at_once, pause, first=number * sends)
                    results.setdefault((pattern, name), []).append(ms)
        calls = api.take()
        failed = [c for c in calls if c.method == "sendMessage" and not c.ok]
        print(
            f"python {sys.version.split()[0]}; {sends:,} sendMessage per backend, pattern and "
            f"round; {rounds} rounds; {len(failed)} refused by the fake"
        )
        for pattern in ("one at a time", "20 at once"):
            medians = {name: statistics.median(results[(pattern, name)]) for name in backends}
            for name, ms in medians.items():
                rounds_ms = ", ".join(f"{v:.2f}" for v in results[(pattern, name)])
                ratio = "" if name == BOTS else f", {ms / medians[BOTS]:.2f}x the bot's"
                print(
                    f"  {pattern:13}  {name:22} {ms:5.2f} ms CPU per send{ratio} "
                    f"(rounds: {rounds_ms})"
                )
        if failed:
            sys.exit(f"FAIL: {len(failed)} sends refused by the fake Bot API")
    finally:
        for bot in bots.values():
            await bot.shutdown()
        await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 sends, 1 round (CI smoke)")
    parser.add_argument("--sends", type=int, help="per backend, pattern and round (600)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (3; quick 1)")
    args = parser.parse_args()
    sends = args.sends or (100 if args.quick else 600)
    rounds = args.rounds or (1 if args.quick else 3)
    asyncio.run(run(sends - sends % 20, rounds))


if __name__ == "__main__":
    main()
