"""Measure alert matching and delivery; print the issue-4 figures in one run.

    python bench/bench_alerts.py            # 10,000 chats; delivery of 1,000 alerts (~35 s)
    python bench/bench_alerts.py --quick    # delivery of 100 alerts (CI smoke)

1. Matching: 10,000 chats with rules, one event that matches 1,000 of them: time to match it
   and queue every alert. 2. The cost of an event that matches nothing. 3. Delivery: alerts to
   distinct chats through python-telegram-bot's AIORateLimiter (Telegram's 30 messages/s) to the
   local fake Bot API, which enforces Telegram's flood limits and answers 429 when they are
   exceeded: elapsed time, 429s seen, alerts lost.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram.ext import AIORateLimiter, ExtBot  # noqa: E402

from bot.delivery.dispatcher import AlertDispatcher  # noqa: E402
from bot.rules.matching import Rule, RuleIndex  # noqa: E402
from collectors.record import Liquidation, Side  # noqa: E402
from tests.support.bot_api import FakeBotApi  # noqa: E402
from tests.support.flood import FloodLimits  # noqa: E402

ASSETS = [f"A{i}" for i in range(500)]


class _NoChatEvents:
    async def chat_gone(self, chat_id: int, reason: str) -> None:
        raise AssertionError(f"chat {chat_id} gone: {reason}")

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        raise AssertionError("no migration expected")

    async def topic_gone(self, chat_id: int, topic: int, reason: str) -> None:
        raise AssertionError("no deleted topic expected")


def build_rules(chats: int, matching: int, rng: random.Random) -> RuleIndex:
    """`matching` chats alert on BTC >= $100K; the others watch other assets or bigger BTC."""
    rules = []
    for chat in range(1, chats + 1):
        if chat <= matching:
            rules.append(Rule(chat, chat, frozenset({"BTC"}), 100_000.0))
        elif chat % 3 == 0:
            rules.append(Rule(chat, chat, frozenset({"BTC"}), 50_000_000.0))  # too big to match
        elif chat % 3 == 1:
            assets = frozenset(rng.sample(ASSETS, 3))
            rules.append(Rule(chat, chat, assets, rng.choice([1e4, 1e5, 1e6])))
        else:
            rules.append(Rule(chat, chat, frozenset(), 5_000_000.0, Side.SHORT))  # every asset
    return RuleIndex(rules)


def event(base: str, usd: float, side: Side = Side.LONG) -> Liquidation:
    return Liquidation("binance", "usdm", f"{base}USDT", base, side, usd, 1.0, usd, 0, 0)


def measure_matching(chats: int, matching: int) -> None:
    """Print the time to match one event to `matching` chats and queue their alerts."""
    rng = random.Random(7)
    index = build_rules(chats, matching, rng)
    big = event("BTC", 1_000_000.0)
    samples = []
    for _ in range(50):
        dispatcher = AlertDispatcher(None, _NoChatEvents())  # type: ignore[arg-type]  # not run
        started = time.perf_counter()
        for chat_id, topic in index.match(big):
            dispatcher.enqueue_alert(chat_id, big, topic)
        samples.append(time.perf_counter() - started)
        assert dispatcher.stats.alerts_queued == matching
    print(f"match + queue one event matching {matching:,} of {chats:,} chats: "
          f"median {statistics.median(samples) * 1000:.2f} ms (goal <= 20 ms)")  # fmt: skip
    misses = [event(rng.choice(ASSETS[1:]), rng.uniform(10, 9_000)) for _ in range(10_000)]
    misses += [event("BTC", rng.uniform(10, 90_000), Side.SHORT) for _ in range(10_000)]
    started = time.perf_counter()
    for record in misses:
        assert not index.match(record)
    per_event_us = (time.perf_counter() - started) / len(misses) * 1e6
    print(f"cost of an event that matches nothing: {per_event_us:.2f} us (goal <= 20 us)")


async def measure_delivery(alerts: int) -> None:
    """Deliver one alert to each of `alerts` private chats at Telegram's limits."""
    async with FakeBotApi(flood=FloodLimits()) as api:
        bot = ExtBot(
            api.token,
            base_url=api.base_url,
            base_file_url=api.base_file_url,
            rate_limiter=AIORateLimiter(max_retries=3),
        )
        async with bot:
            dispatcher = AlertDispatcher(bot, _NoChatEvents())
            for chat_id in range(1, alerts + 1):
                api.add_private_chat(chat_id)
            record = event("BTC", 1_234_567.0)
            running = asyncio.create_task(dispatcher.run())
            started = time.perf_counter()
            for chat_id in range(1, alerts + 1):
                dispatcher.enqueue_alert(chat_id, record)
            await api.wait_until(lambda: dispatcher.stats.alerts_delivered == alerts, timeout=600)
            elapsed = time.perf_counter() - started
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        delivered = len(api.calls_to("sendMessage", status=200))
        stats = dispatcher.stats
        print(
            f"delivery of {alerts:,} alerts to {alerts:,} chats: {elapsed:.1f} s "
            f"({alerts / elapsed:.1f} messages/s; Telegram allows 30), "
            f"{api.flood_rejections} answered 429 by the flood-limited fake, "
            f"{delivered:,} delivered, "
            f"{alerts - stats.alerts_delivered:,} lost, {stats.alerts_dropped} dropped"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="deliver 100 alerts, not 1,000")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}")
    measure_matching(10_000, 1_000)
    await measure_delivery(100 if args.quick else 1_000)


if __name__ == "__main__":
    asyncio.run(main())
