"""Faults from Telegram end to end: 429 bursts, 500s, timeouts, slow replies, 403s and a group
migration while alerts stream. Every alert is delivered once, merged into a digest, or counted
and reported; none is sent twice and none is lost without a count. The collectors and the
database keep up while Telegram hangs.

Each event has its own asset name (EV0000, EV0001, ...) and size, so every message a chat got
can be read back into the events it carries: a single alert names one, a digest names its 25
largest and counts the rest ("…and N more"), and a notice counts alerts not sent ("queue was
full") or not confirmed (a timeout: the message may have arrived, so it is not sent again).
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.delivery.queue import DispatchStats
from bot.render import alerts
from collectors.record import Liquidation
from tests.e2e.test_telegram import Harness, running_bot
from tests.support.bot_api import FakeBotApi
from tests.support.bot_api_objects import Call

NOTICE = re.compile(r"^⚠️ .*$", re.MULTILINE)
NOT_SENT = re.compile(r"(\d+) alerts? (?:was|were) not sent")
UNCERTAIN = re.compile(r"(\d+) alerts? may not have arrived")
DIGEST_HEAD = re.compile(r"^⚡ <b>(\d+) liquidation alerts?</b>$", re.MULTILINE)
DIGEST_LINE = re.compile(r"^(?:🔴|🟢) (EV\d{4}) (?:long|short) ", re.MULTILINE)
DIGEST_MORE = re.compile(r"^…and (\d+) more \(", re.MULTILINE)
ALERT_HEAD = re.compile(r"^(?:🔴|🟢) <b>(EV\d{4})</b> ", re.MULTILINE)

ADMIN = 301  # administrator of the test groups


@dataclass(frozen=True)
class Received:
    """What one message told a chat."""

    names: tuple[str, ...]  # the events it shows
    carried: int  # the alerts it delivers: shown, plus a digest's "…and N more"
    dropped: int  # reported as not sent (the chat's queue was full)
    uncertain: int  # reported as maybe not arrived (a timeout)


def read(text: str, records: dict[str, Liquidation]) -> Received:
    """Read a message back into events and counts; check it is exactly what the bot renders."""
    notices = NOTICE.findall(text)
    assert len(notices) <= 1, text
    dropped = sum(int(n) for n in NOT_SENT.findall(text))
    uncertain = sum(int(n) for n in UNCERTAIN.findall(text))
    head = DIGEST_HEAD.search(text)
    if head is None:
        [name] = ALERT_HEAD.findall(text)
        notice = alerts.dropped_notice(dropped, uncertain)
        alert = alerts.alert(records[name])
        assert text == (f"{notice}\n{alert}" if notice else alert)
        return Received((name,), 1, dropped, uncertain)
    names = tuple(DIGEST_LINE.findall(text))
    more = sum(int(n) for n in DIGEST_MORE.findall(text))
    carried = int(head.group(1))
    assert carried == len(names) + more, text
    assert len(names) == (min(carried, alerts.DIGEST_MAX_LINES)), text
    if not more:  # every event is named: the whole digest can be rendered again
        shown = [records[name] for name in names]
        assert text == alerts.digest(shown, dropped=dropped, uncertain=uncertain)
    return Received(names, carried, dropped, uncertain)


@dataclass(frozen=True)
class Ledger:
    """Everything a chat (or a group and its supergroup) got, read back."""

    confirmed: list[Received]  # messages Telegram accepted and answered
    unconfirmed: list[Received]  # messages Telegram stored but never answered (timeouts)

    @property
    def names(self) -> Counter[str]:
        return Counter(n for r in [*self.confirmed, *self.unconfirmed] for n in r.names)

    @property
    def delivered(self) -> int:
        return sum(r.carried for r in self.confirmed)

    @property
    def dropped(self) -> int:
        return sum(r.dropped for r in self.confirmed)

    @property
    def uncertain(self) -> int:
        return sum(r.uncertain for r in self.confirmed)

    @property
    def accounted(self) -> int:
        """Alerts delivered, plus those reported as not sent or not confirmed."""
        return self.delivered + self.dropped + self.uncertain


def ledger(
    api: FakeBotApi,
    chats: Iterable[int],
    records: dict[str, Liquidation],
    since: int,
    hung: Sequence[Call] = (),
) -> Ledger:
    """Read every message the chats got since `since`; `hung` were never answered."""
    calls = [
        call
        for chat in chats
        for call in api.calls_to("sendMessage", chat_id=chat, status=200, since=since)
    ]
    confirmed = [read(str(c.params["text"]), records) for c in calls if c not in hung]
    unconfirmed = [read(str(c.params["text"]), records) for c in calls if c in hung]
    return Ledger(confirmed, unconfirmed)


def statuses(api: FakeBotApi, chat: int, since: int) -> list[int]:
    return [call.status for call in api.calls_to("sendMessage", chat_id=chat, since=since)]


def push_wave(h: Harness, first: int, count: int) -> dict[str, Liquidation]:
    """Push `count` liquidations, each its own asset and size ($10,000 + its number)."""
    wave = {}
    for number in range(first, first + count):
        side = "SELL" if number % 2 else "BUY"
        record = h.event(f"EV{number:04d}USDT", side, "1", str(10_000 + number))
        wave[record.base] = record
    return wave


async def subscribe(h: Harness, chat: int, user: int) -> None:
    reply = await h.command(chat, user, "/subscribe all 1k")
    assert reply.startswith("✅"), reply


async def test_a_storm_of_telegram_faults_loses_and_repeats_nothing(tmp_path: Path) -> None:
    flooded, errors_500, errors_502, timing_out, slow, blocking, absorbed = (
        201, 202, 203, 204, 205, 206, 207,
    )  # fmt: skip
    group, supergroup, kicked = -4300, -1001000004300, -4400
    private = (flooded, errors_500, errors_502, timing_out, slow, blocking, absorbed)
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        for chat in private:
            api.add_private_chat(chat)
            await subscribe(h, chat, chat)
        for chat in (group, kicked):
            api.add_group(chat)
            api.add_admin(chat, ADMIN)
            await subscribe(h, chat, ADMIN)
        dispatcher = h.bot.services.dispatcher
        stats = dispatcher.stats
        mark = api.mark()
        # Four 429s outlast python-telegram-bot's three retries: the dispatcher waits the fourth.
        api.flood_next("sendMessage", retry_after=1, chat_id=flooded, times=4)
        api.flood_next("sendMessage", retry_after=1, chat_id=absorbed, times=2)  # PTB retries
        api.fail_next("sendMessage", 500, "Internal Server Error", chat_id=errors_500)
        api.fail_next_raw("sendMessage", 502, chat_id=errors_502)
        api.hang_next("sendMessage", chat_id=timing_out)  # past the 5 s read timeout
        api.delay_next("sendMessage", 1.0, chat_id=slow, times=2)
        records = push_wave(h, 0, 30)

        def settled(chats: Sequence[int], count: int) -> bool:
            return all(ledger(api, [c], records, mark).delivered == count for c in chats)

        # Mid-stream: once the first wave reached them, a user blocks the bot, the bot is
        # kicked from a group, and another group becomes a supergroup.
        await api.wait_until(lambda: settled((group, kicked, blocking), 30), timeout=15)
        api.block(blocking)
        api.set_bot_status(kicked, "kicked")
        api.migrate(group, supergroup)
        records |= push_wave(h, 30, 30)
        # The hung message times out; the next wave carries the report of it.
        await api.wait_until(lambda: stats.alerts_uncertain > 0, timeout=15)
        records |= push_wave(h, 60, 30)
        [hung, *_] = api.calls_to("sendMessage", chat_id=timing_out, since=mark)
        live = {chat: [chat] for chat in private if chat != blocking} | {group: [group, supergroup]}

        def accounted() -> bool:
            return all(
                ledger(api, ids, records, mark, [hung]).accounted == 90 for ids in live.values()
            )

        await api.wait_until(accounted, timeout=20)

        def settled_all() -> bool:  # every queued alert has an outcome (none in flight)
            done = (
                stats.alerts_delivered
                + stats.alerts_uncertain
                + stats.alerts_undeliverable
                + stats.alerts_dropped
                + stats.alerts_failed
            )
            return done == stats.alerts_queued

        await api.wait_until(settled_all)

        books = {chat: ledger(api, ids, records, mark, [hung]) for chat, ids in live.items()}
        for chat, book in books.items():
            # Each event at most once per chat, counting the message that timed out ...
            assert book.names.most_common(1)[0][1] == 1, chat
            # ... and each one delivered, or reported as not sent or not confirmed.
            assert book.accounted == len(records) == 90, chat
            assert book.dropped == 0, chat
        [timed_out] = books[timing_out].unconfirmed
        assert books[timing_out].uncertain == timed_out.carried  # reported, never resent
        assert not set(timed_out.names) & {n for r in books[timing_out].confirmed for n in r.names}
        for chat in set(live) - {timing_out}:
            assert books[chat].uncertain == 0, chat

        # The scripted failures, each once, then only successes.
        for chat, failures in {
            flooded: [429, 429, 429, 429],
            absorbed: [429, 429],
            errors_500: [500],
            errors_502: [502],
            timing_out: [],
            slow: [],
        }.items():
            seen = statuses(api, chat, mark)
            assert seen[: len(failures)] == failures, chat
            assert set(seen[len(failures) :]) == {200}, chat
        # A 403 ends delivery: exactly one refused send, never a second.
        gone = {}
        for chat in (blocking, kicked):
            *before, refused = statuses(api, chat, mark)
            assert (set(before), refused) == ({200}, 403), chat
            gone[chat] = ledger(api, [chat], records, mark)
            assert gone[chat].delivered == 30, chat  # the first wave, before the 403
            assert gone[chat].names.most_common(1)[0][1] == 1, chat
            assert set(gone[chat].names) <= {f"EV{n:04d}" for n in range(30)}, chat
        *before, moved = statuses(api, group, mark)
        assert (set(before), moved) == ({200}, 400)
        assert set(statuses(api, supergroup, mark)) == {200}
        assert h.bot.services.rules.rules_for(blocking) == []
        assert h.bot.services.rules.rules_for(kicked) == []
        assert [r.chat_id for r in h.bot.services.rules.rules_for(supergroup)] == [supergroup]

        confirmed = [r for b in [*books.values(), *gone.values()] for r in b.confirmed]
        delivered = sum(r.carried for r in confirmed)
        # Alerts for chats that went away: what was queued for them and never delivered.
        undeliverable = stats.alerts_queued - 90 * len(live) - 30 * len(gone)
        assert undeliverable >= len(gone)
        assert stats == DispatchStats(
            alerts_queued=stats.alerts_queued,
            alerts_delivered=delivered,
            messages_sent=len(confirmed),
            digests_sent=sum(1 for r in confirmed if r.carried > 1),
            alerts_dropped=0,
            alerts_uncertain=timed_out.carried,
            alerts_failed=0,
            alerts_undeliverable=undeliverable,
            rate_limited=1,
            network_retries=2,
            plain_text_resends=0,
            chats_gone=2,
            migrations=1,
        )
        assert delivered + timed_out.carried + undeliverable == stats.alerts_queued
        assert any(r.carried > alerts.DIGEST_MAX_LINES for r in confirmed)  # "…and N more"


async def test_collectors_and_database_keep_up_while_telegram_hangs(tmp_path: Path) -> None:
    user, burst = 111, 2000
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(user)
        await subscribe(h, user, user)
        dispatcher = h.bot.services.dispatcher
        stats = dispatcher.stats
        runtime = h.bot.runtime
        mark = api.mark()
        api.hang_next("sendMessage", chat_id=user, times=None)  # Telegram answers nothing
        first = push_wave(h, 9000, 1)
        [held] = await api.wait_for("sendMessage", lambda c: c.chat_id == user, since=mark)
        wave = push_wave(h, 0, burst)

        def stored() -> int:
            with sqlite3.connect(f"file:{h.path}?mode=ro", uri=True) as db:
                return int(db.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0])

        # Every event is parsed, counted, stored and matched while Telegram holds the first
        # alert's reply: nothing on the ingest path waits for Telegram.
        await api.wait_until(lambda: runtime.aggregation.store.stats.written == burst + 1)
        assert stored() == burst + 1
        assert runtime.aggregation.windows.counters.counted == burst + 1
        assert [s.events for s in runtime.feed_stats()] == [burst + 1]
        assert api.calls_to("sendMessage", chat_id=user, since=mark) == [held]
        assert (stats.alerts_queued, stats.messages_sent, stats.alerts_uncertain) == (2001, 0, 0)
        assert dispatcher.pending_alerts() == 200  # the bound: the largest 200 wait
        assert stats.alerts_dropped == burst - 200

        # The held alert times out: not resent, reported in the next message (a digest of the
        # 200 largest, which also says how many were left out).
        await api.wait_until(lambda: stats.alerts_uncertain == 1, timeout=10)
        [_, digest] = await api.wait_for(
            "sendMessage", lambda c: c.chat_id == user, count=2, since=mark
        )
        api.release_hung()
        await api.wait_until(lambda: stats.alerts_delivered == 200)
        largest = sorted(wave.values(), key=lambda r: r.notional_usd)[-200:]
        assert [c.params["text"] for c in api.calls_to("sendMessage", since=mark)] == [
            alerts.alert(first["EV9000"]),
            alerts.digest(largest, dropped=burst - 200, uncertain=1),
        ]
        assert digest.params["text"].startswith(
            "⚠️ 1,800 alerts were not sent: this chat's alert queue was full. 1 alert may not "
            "have arrived: Telegram did not confirm it.\n⚡ <b>200 liquidation alerts</b>"
        )
        assert "…and 175 more" in str(digest.params["text"])
        assert stats == DispatchStats(
            alerts_queued=burst + 1,
            alerts_delivered=200,
            messages_sent=1,
            digests_sent=1,
            alerts_dropped=burst - 200,
            alerts_uncertain=1,
        )
