"""The cascade notifier against the fake Bot API: pacing per chat, lost messages, gone chats.

The notifier is driven by hand (`flush`) with a clock the test moves, so every pace is exact;
the bot is python-telegram-bot's real ExtBot and the store a real SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from telegram.ext import ExtBot

from bot.delivery.cascades import CascadeNotifier
from bot.delivery.ports import _NoPrefs
from bot.render import cascades
from bot.rules.cascade import CascadeRule
from bot.rules.detector import CascadeDetector
from bot.rules.volumes import DailyVolumes
from bot.tables.bot_store import BotStore
from collectors.record import Liquidation, Side
from tests.support import bot_api_objects as tg
from tests.support.bot_api import FakeBotApi

T0 = 1_800_000_000_000
KICKED = "Forbidden: bot was kicked from the group chat"
GROUP = -1001
USER = 7


@dataclass
class Chats:
    """What the notifier reported about chats."""

    gone: list[tuple[int, str]] = field(default_factory=list)
    migrated: list[tuple[int, int]] = field(default_factory=list)
    topics_gone: list[tuple[int, int]] = field(default_factory=list)

    async def chat_gone(self, chat_id: int, reason: str) -> None:
        self.gone.append((chat_id, reason))

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        self.migrated.append((old_chat_id, new_chat_id))

    async def topic_gone(self, chat_id: int, topic: int, reason: str) -> None:
        self.topics_gone.append((chat_id, topic))


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


def event(asset: str, usd: float, ts_ms: int) -> Liquidation:
    return Liquidation(
        "okx", "swap", f"{asset}-USDT-SWAP", asset, Side.LONG, usd, 1.0, usd, ts_ms, ts_ms
    )


@dataclass
class Rig:
    api: FakeBotApi
    notifier: CascadeNotifier
    clock: Clock
    chats: Chats
    store: BotStore


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, rules: list[CascadeRule]) -> AsyncIterator[Rig]:
    async with FakeBotApi() as api:
        api.add_group(GROUP)
        api.add_private_chat(USER)
        store = await BotStore(tmp_path / "bot.db").open()
        bot = ExtBot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
        clock, chats = Clock(), Chats()
        detector = CascadeDetector(DailyVolumes(dict), rules=rules)
        notifier = CascadeNotifier(
            bot, detector, store, _NoPrefs(), chats, clock=clock, wall_clock=lambda: T0 + 60_000
        )
        try:
            async with bot:
                yield Rig(api, notifier, clock, chats, store)
        finally:
            await store.close()


async def test_a_group_gets_one_cascade_call_per_gap_new_cascades_first(tmp_path: Path) -> None:
    rules = [CascadeRule(GROUP, i, asset, 60_000, min_usd=100.0) for i, asset in enumerate("ABC")]
    async with rig(tmp_path, rules) as r:
        n = r.notifier
        for asset in "ABC":
            n.on_liquidation(event(asset, 150.0, T0))
        await n.flush()
        assert [c.params["text"] for c in r.api.calls_to("sendMessage")] == [
            cascades.cascade(n.detector.active()[0].snapshot())
        ]  # A first (by rule, all equal), B and C wait for the group's gap
        r.clock.now += n.group_gap_s - 0.01
        await n.flush()
        assert len(r.api.calls_to("sendMessage")) == 1
        r.clock.now += 0.01
        await n.flush()
        r.clock.now += n.group_gap_s
        n.on_liquidation(event("A", 50.0, T0 + 1))  # A grows, but C is new: C goes first
        await n.flush()
        sent = [str(c.params["text"]) for c in r.api.calls_to("sendMessage")]
        assert [t.split("</b>")[0] for t in sent] == [
            "🌊 <b>A liquidation cascade",
            "🌊 <b>B liquidation cascade",
            "🌊 <b>C liquidation cascade",
        ]
        assert r.api.calls_to("editMessageText") == []
        r.clock.now += n.group_gap_s
        await n.flush()
        [edit] = r.api.calls_to("editMessageText")
        assert "<b>$200</b>" in str(edit.params["text"])
        # Every open message is stored for a restart, with its latest body.
        assert [key for key, *_ in await r.store.load_cascade_messages()] == [
            (GROUP, 0, "A"),
            (GROUP, 1, "B"),
            (GROUP, 2, "C"),
        ]


async def test_a_deleted_message_is_replaced_and_a_blocked_chat_is_dropped(tmp_path: Path) -> None:
    rules = [
        CascadeRule(USER, 1, "A", 60_000, min_usd=100.0),
        CascadeRule(GROUP, 2, "A", 60_000, min_usd=100.0),
    ]
    async with rig(tmp_path, rules) as r:
        n = r.notifier
        n.on_liquidation(event("A", 150.0, T0))
        await n.flush()
        assert len(r.api.calls_to("sendMessage")) == 2
        r.api.fail_next("editMessageText", 400, tg.EDIT_NOT_FOUND, chat_id=USER)
        r.api.fail_next("editMessageText", 403, KICKED, chat_id=GROUP)
        r.clock.now += 10
        n.on_liquidation(event("A", 60.0, T0 + 1))
        await n.flush()
        assert [chat for chat, _ in r.chats.gone] == [GROUP]
        assert "bot was kicked from the group chat" in r.chats.gone[0][1]
        assert n.active() == 1  # the group's cascade is no longer followed
        r.clock.now += 10
        await n.flush()  # the private message was gone: a new one carries the cascade
        [_, again] = r.api.calls_to("sendMessage", chat_id=USER)
        assert "<b>$210</b>" in str(again.params["text"])
        assert (n.stats.replaced, n.stats.messages_sent, n.stats.abandoned) == (1, 3, 0)


async def test_finish_ends_the_run_after_the_message_in_flight_is_on_record(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, [CascadeRule(USER, 1, "A", 60_000, min_usd=100.0)]) as r:
        n = r.notifier
        r.api.delay_next("sendMessage", 0.3, chat_id=USER)
        running = asyncio.create_task(n.run())
        n.on_liquidation(event("A", 150.0, T0 + 30_000))  # 30 s before the notifier's now
        await r.api.wait_for("sendMessage", lambda c: c.chat_id == USER)  # received, held
        n.finish()  # the bot stops while Telegram has not answered yet
        async with asyncio.timeout(5):
            await running  # returns (not cancelled) once the round is over
        [sent] = r.api.calls_to("sendMessage")
        assert [
            (key, message_id) for key, message_id, *_ in await r.store.load_cascade_messages()
        ] == [((USER, 1, "A"), sent.result["message_id"])]


async def test_a_cascade_that_starts_during_a_round_goes_out_right_after_it(
    tmp_path: Path,
) -> None:
    rules = [
        CascadeRule(USER, 1, "A", 60_000, min_usd=100.0),
        CascadeRule(GROUP, 2, "B", 60_000, min_usd=100.0),
    ]
    async with rig(tmp_path, rules) as r:
        n = r.notifier
        n.tick_s = 60.0  # a round only when woken, within this test
        r.api.delay_next("sendMessage", 0.3, chat_id=USER)
        running = asyncio.create_task(n.run())
        try:
            n.on_liquidation(event("A", 150.0, T0 + 30_000))
            await r.api.wait_for("sendMessage", lambda c: c.chat_id == USER)  # in flight, held
            n.on_liquidation(event("B", 150.0, T0 + 30_000))  # starts during that round
            # Before: the next tick, 60 s on.
            await r.api.wait_for("sendMessage", lambda c: c.chat_id == GROUP, timeout=5)
            assert n.stats.started == 2
        finally:
            n.finish()
            async with asyncio.timeout(5):
                await running
