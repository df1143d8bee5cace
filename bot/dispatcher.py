"""Deliver alerts and messages to chats within Telegram's limits, merging what cannot go singly.

Each chat has its own queue and pace: one message per second to a private chat, one per three
seconds (20 a minute) to a group or channel. Alerts that pile up while a chat must wait are
merged into one digest. A chat's queue is bounded: it keeps the largest alerts, and what it cannot
hold is counted and reported in the next message to that chat. python-telegram-bot's
AIORateLimiter keeps the overall rate (30 messages a second) and retries 429s first.

Telegram errors: 403 (blocked, kicked) and "chat not found" end delivery to that chat (its owner
is told through `ChatEvents`); a group upgraded to a supergroup moves the queue to the new id and
resends; 429 waits `retry_after`; a 400 "can't parse entities" is resent as plain text; a timeout
is not resent (the message may have arrived) but counted as uncertain and reported; other network
errors are retried with backoff, then counted as failed and reported.

Quiet hours: while a chat's quiet hours last, its alerts wait (still bounded) and go as one
digest when they end; messages the chat asked for (summaries, notices) still go, silently.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.render.alerts import alert, digest, dropped_notice
from bot.render.html import plain_text
from bot.tables.journal import event_key
from bot.tables.outbox import PendingChat, Photo
from bot.texts.catalog import DEFAULT_LOCALE, Locale
from collectors.record import Liquidation

log = logging.getLogger(__name__)


class ChatEvents(Protocol):
    """What the dispatcher tells the rest of the bot about chats."""

    async def chat_gone(self, chat_id: int, reason: str) -> None:
        """The bot may no longer write to this chat (blocked, kicked, deleted)."""

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup with a new id."""


class ChatPrefsView(Protocol):
    """How each chat reads its messages, and when it wants no alerts."""

    def locale(self, chat_id: int) -> Locale:
        """Return the chat's language and time zone."""

    def quiet_until_ms(self, chat_id: int, now_ms: int) -> int | None:
        """Return when the chat's current quiet hours end (wall ms), or None if not quiet."""


class _NoPrefs:
    def locale(self, chat_id: int) -> Locale:
        return DEFAULT_LOCALE

    def quiet_until_ms(self, chat_id: int, now_ms: int) -> int | None:
        return None


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Journal(Protocol):
    """Where the dispatcher records deliveries for crash recovery."""

    async def on_wire(self, chat_id: int, keys: list[str]) -> None:
        """Durably mark alerts as being sent (before the send)."""

    def done(self, chat_id: int, keys: list[str]) -> None:
        """Mark alerts as settled."""

    def not_sent(self, chat_id: int, keys: list[str]) -> None:
        """Unmark alerts known not to have arrived."""


@dataclass(slots=True)
class DispatchStats:
    """What the dispatcher did."""

    alerts_queued: int = 0
    alerts_delivered: int = 0  # alerts carried by messages Telegram accepted
    messages_sent: int = 0
    digests_sent: int = 0
    alerts_dropped: int = 0  # a chat's bounded queue was full (reported to the chat)
    alerts_uncertain: int = 0  # Telegram timed out: maybe delivered (reported)
    alerts_failed: int = 0  # undeliverable after retries (reported)
    alerts_undeliverable: int = 0  # the chat blocked or removed the bot
    rate_limited: int = 0  # 429s that outlasted the rate limiter's own retries
    network_retries: int = 0
    plain_text_resends: int = 0
    chats_gone: int = 0
    migrations: int = 0
    photos_sent: int = 0
    quiet_holds: int = 0  # times a chat's alerts were held for its quiet hours


class _Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"
    MIGRATED = "migrated"
    RETRY_AFTER = "retry_after"
    NETWORK = "network"
    UNCERTAIN = "uncertain"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class _Result:
    outcome: _Outcome
    detail: str = ""
    delay_s: float = 0.0
    new_chat_id: int = 0


@dataclass(slots=True)
class _ChatQueue:
    alerts: list[tuple[float, int, Liquidation]] = field(default_factory=list)  # min-heap
    messages: deque[str | Photo] = field(default_factory=deque)
    dropped: int = 0  # not reported yet
    uncertain: int = 0
    failed: int = 0
    ready_at: float = 0.0  # pacing and backoff (monotonic)
    hold_until: float = 0.0  # quiet hours: alerts wait until then (monotonic)
    held: bool = False  # the pending alerts waited for quiet hours
    attempts: int = 0
    scheduled: bool = False
    due: float = 0.0  # when the live entry in the ready heap is due
    token: int = 0  # identifies the live entry; older entries are stale
    in_flight: bool = False

    def has_work(self) -> bool:
        return bool(self.alerts or self.messages)

    def next_due(self) -> float:
        return self.ready_at if self.messages else max(self.ready_at, self.hold_until)


def retry_after_seconds(exc: RetryAfter) -> float:
    """Return RetryAfter's delay (an int today, a timedelta in later PTB versions)."""
    with warnings.catch_warnings():
        # PTB 22 warns that the int becomes a timedelta; both are handled below.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: object = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    assert isinstance(value, int | float)
    return float(value)


class AlertDispatcher:
    """Per-chat queues and pacing in front of the Bot API."""

    def __init__(
        self,
        bot: Bot,
        events: ChatEvents,
        *,
        private_interval_s: float = 1.0,
        group_interval_s: float = 3.0,
        max_alerts_per_chat: int = 200,
        workers: int = 8,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], int] = _wall_ms,
        journal: Journal | None = None,
        prefs: ChatPrefsView | None = None,
    ) -> None:
        self._bot = bot
        self._events = events
        self._journal = journal
        self._prefs: ChatPrefsView = prefs if prefs is not None else _NoPrefs()
        self._wall_clock = wall_clock
        self._private_interval_s = private_interval_s
        self._group_interval_s = group_interval_s
        self._max_alerts = max_alerts_per_chat
        self._workers = workers
        self._max_attempts = max_attempts
        self._clock = clock
        self._queues: dict[int, _ChatQueue] = {}
        self._ready: list[tuple[float, int, int, int]] = []  # (due, seq, chat_id, token)
        self._seq = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self.stats = DispatchStats()

    # --- queueing (never blocks) ----------------------------------------------------------

    def enqueue_alert(self, chat_id: int, record: Liquidation) -> None:
        """Queue an alert; a full queue keeps the largest alerts and counts the rest."""
        queue = self._queue(chat_id)
        self.stats.alerts_queued += 1
        self._seq += 1
        item = (record.notional_usd, self._seq, record)
        if len(queue.alerts) < self._max_alerts:
            heapq.heappush(queue.alerts, item)
        else:
            heapq.heappushpop(queue.alerts, item)  # the smallest alert goes
            queue.dropped += 1
            self.stats.alerts_dropped += 1
        self._schedule(chat_id, queue)

    def enqueue_message(self, chat_id: int, html: str) -> None:
        """Queue one message (a summary, a notice); messages go before pending alerts."""
        queue = self._queue(chat_id)
        queue.messages.append(html)
        self._schedule(chat_id, queue)

    def enqueue_photo(self, chat_id: int, png: bytes, caption: str = "") -> None:
        """Queue a picture (a chart) with an HTML caption, in order with the messages."""
        queue = self._queue(chat_id)
        queue.messages.append(Photo(png, caption))
        self._schedule(chat_id, queue)

    def note_uncertain(self, chat_id: int, count: int) -> None:
        """Tell a chat that `count` alerts may not have arrived (a crash recovery found them)."""
        self.stats.alerts_uncertain += count
        loc = self._prefs.locale(chat_id)
        self.enqueue_message(chat_id, dropped_notice(0, count, loc=loc))

    def release(self, chat_id: int) -> None:
        """Stop holding a chat's alerts (its quiet hours changed): re-check them now."""
        queue = self._queues.get(chat_id)
        if queue is not None and queue.hold_until:
            queue.hold_until = 0.0
            self._schedule(chat_id, queue)

    def forget(self, chat_id: int) -> int:
        """Drop everything queued for a chat; return how many alerts were dropped."""
        queue = self._queues.pop(chat_id, None)
        if queue is None:
            return 0
        self.stats.alerts_undeliverable += len(queue.alerts)
        return len(queue.alerts)

    def restore(self, pending: list[PendingChat]) -> None:
        """Queue what a previous run could not send."""
        for owed in pending:
            queue = self._queue(owed.chat_id)
            queue.messages.extend(owed.messages)
            for record in owed.alerts:
                self._seq += 1
                heapq.heappush(queue.alerts, (record.notional_usd, self._seq, record))
            queue.dropped += owed.dropped
            queue.uncertain += owed.uncertain
            self._schedule(owed.chat_id, queue)

    def snapshot(self) -> list[PendingChat]:
        """Return everything still owed, to persist at shutdown."""
        return [
            PendingChat(
                chat_id=chat_id,
                alerts=[item[2] for item in sorted(queue.alerts, key=lambda i: i[1])],
                messages=list(queue.messages),
                dropped=queue.dropped,
                uncertain=queue.uncertain + queue.failed,
            )
            for chat_id, queue in sorted(self._queues.items())
            if queue.has_work() or queue.dropped or queue.uncertain or queue.failed
        ]

    def pending_alerts(self) -> int:
        """Return how many alerts wait, over all chats."""
        return sum(len(queue.alerts) for queue in self._queues.values())

    def pending_chats(self) -> int:
        """Return how many chats have something waiting."""
        return sum(1 for queue in self._queues.values() if queue.has_work())

    def _queue(self, chat_id: int) -> _ChatQueue:
        queue = self._queues.get(chat_id)
        if queue is None:
            queue = self._queues[chat_id] = _ChatQueue()
        return queue

    def _schedule(self, chat_id: int, queue: _ChatQueue) -> None:
        """Put a chat in the ready heap, or move it earlier (a message while alerts are held)."""
        if queue.in_flight or not queue.has_work():
            return
        due = queue.next_due()
        if queue.scheduled and due >= queue.due:
            return
        queue.scheduled = True
        queue.due = due
        queue.token += 1  # an older entry of this chat is now stale
        self._seq += 1
        heapq.heappush(self._ready, (due, self._seq, chat_id, queue.token))
        self._idle.clear()
        self._wake.set()

    # --- delivery -------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver forever with a few concurrent workers."""
        async with asyncio.TaskGroup() as group:
            for number in range(self._workers):
                group.create_task(self._worker(), name=f"dispatch-{number}")

    async def drain(self, timeout_s: float, grace_s: float = 2.0) -> bool:
        """Deliver what can go within `timeout_s`, then stop taking work.

        Return True if nothing was left. Sends already on the wire at the deadline get
        `grace_s` to finish: an answer beats guessing whether Telegram delivered them.
        """
        drained = True
        try:
            async with asyncio.timeout(timeout_s):
                while self._busy():
                    self._idle.clear()
                    await self._idle.wait()
        except TimeoutError:
            drained = False
        self._closing = True
        self._wake.set()  # idle workers return
        try:
            async with asyncio.timeout(grace_s):
                while any(q.in_flight for q in self._queues.values()):
                    self._idle.clear()
                    await self._idle.wait()
        except TimeoutError:
            pass
        return drained and not self._busy()

    def _busy(self) -> bool:
        """Return True while something is being sent or can be sent without waiting for
        quiet hours to end."""
        now = self._clock()
        return any(
            q.in_flight or (q.scheduled and (q.messages or q.hold_until <= now))
            for q in self._queues.values()
        )

    async def _worker(self) -> None:
        while True:
            entry = await self._next_ready()
            if entry is None:
                return  # closing
            chat_id, token = entry
            queue = self._queues.get(chat_id)
            if queue is None or queue.token != token or not queue.scheduled:
                continue  # stale: the chat was rescheduled, moved or dropped
            queue.scheduled = False
            queue.in_flight = True
            try:
                await self._deliver(chat_id, queue)
            except Exception:  # a bug must not stop delivery to every other chat
                log.exception("delivery to chat %d failed", chat_id)
            finally:
                queue.in_flight = False
                current = self._queues.get(chat_id)
                if current is not None:
                    self._schedule(chat_id, current)
                if self._closing or not self._busy():
                    self._idle.set()

    async def _next_ready(self) -> tuple[int, int] | None:
        while not self._closing:
            now = self._clock()
            if self._ready and self._ready[0][0] <= now:
                _, _, chat_id, token = heapq.heappop(self._ready)
                return chat_id, token
            timeout = self._ready[0][0] - now if self._ready else None
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
        return None

    def _interval(self, chat_id: int) -> float:
        # Negative ids are groups, supergroups and channels: Telegram allows 20 a minute.
        return self._group_interval_s if chat_id < 0 else self._private_interval_s

    async def _deliver(self, chat_id: int, queue: _ChatQueue) -> None:
        taken: list[tuple[float, int, Liquidation]] = []
        reported = (0, 0, 0)  # (dropped, uncertain, failed) that this message tells the chat
        now_ms = self._wall_clock()
        quiet_until = self._prefs.quiet_until_ms(chat_id, now_ms)
        loc = self._prefs.locale(chat_id)
        item: str | Photo
        if queue.messages:
            item = queue.messages[0]
        elif quiet_until is not None:
            # Quiet hours: the alerts wait (still bounded) and go as one digest at the end.
            queue.hold_until = self._clock() + (quiet_until - now_ms) / 1000
            if not queue.held:
                queue.held = True
                self.stats.quiet_holds += 1
            return
        else:
            queue.hold_until = 0.0
            taken, queue.alerts = queue.alerts, []
            records = [entry[2] for entry in sorted(taken, key=lambda i: i[1])]
            reported = (queue.dropped, queue.uncertain, queue.failed)
            unreported = queue.uncertain + queue.failed
            if len(records) == 1 and not queue.held:
                notice = dropped_notice(queue.dropped, unreported, loc=loc)
                item = alert(records[0], loc=loc)
                item = f"{notice}\n{item}" if notice else item
            else:
                item = digest(
                    records, dropped=queue.dropped, uncertain=unreported, held=queue.held, loc=loc
                )
        keys = [event_key(entry[2]) for entry in taken] if taken and self._journal else []
        if keys and self._journal is not None:
            await self._journal.on_wire(chat_id, keys)
        try:
            result = await self._send(chat_id, item, silent=quiet_until is not None)
        except asyncio.CancelledError:
            # Stopping mid-send: Telegram may or may not have it. Resending could duplicate, so
            # count it as uncertain; the count is stored and reported to the chat next time.
            if taken:
                queue.uncertain += len(taken)
                self.stats.alerts_uncertain += len(taken)
            raise
        await self._settle(chat_id, queue, taken, reported, result)
        if keys and self._journal is not None:
            if result.outcome in (
                _Outcome.SENT,
                _Outcome.UNCERTAIN,
                _Outcome.FAILED,
                _Outcome.GONE,
            ):
                self._journal.done(chat_id, keys)
            else:  # retryable: it did not arrive, and goes again (maybe to a new chat id)
                self._journal.not_sent(chat_id, keys)

    async def _settle(
        self,
        chat_id: int,
        queue: _ChatQueue,
        taken: list[tuple[float, int, Liquidation]],
        reported: tuple[int, int, int],
        result: _Result,
    ) -> None:
        outcome = result.outcome
        if outcome in (_Outcome.SENT, _Outcome.UNCERTAIN, _Outcome.FAILED):
            self._settle_done(chat_id, queue, len(taken), reported, result)
        elif outcome is _Outcome.GONE:
            self.stats.chats_gone += 1
            self.stats.alerts_undeliverable += len(taken) + len(queue.alerts)
            self._queues.pop(chat_id, None)
            log.warning("chat %d is gone (%s); alerts and schedule stop", chat_id, result.detail)
            await self._events.chat_gone(chat_id, result.detail)
        else:
            # Retryable: put the alerts back (merged with what arrived meanwhile) and wait.
            for item in taken:
                heapq.heappush(queue.alerts, item)
            while len(queue.alerts) > self._max_alerts:
                heapq.heappop(queue.alerts)
                queue.dropped += 1
                self.stats.alerts_dropped += 1
            if outcome is _Outcome.MIGRATED:
                await self._move(chat_id, queue, result.new_chat_id)
            elif outcome is _Outcome.RETRY_AFTER:
                self.stats.rate_limited += 1
                queue.ready_at = self._clock() + result.delay_s
            else:
                self._retry_later(chat_id, queue, bool(taken), result.detail)

    def _settle_done(
        self,
        chat_id: int,
        queue: _ChatQueue,
        carried: int,
        reported: tuple[int, int, int],
        result: _Result,
    ) -> None:
        """The message left the queue: sent, refused, or maybe delivered (timeout)."""
        stats = self.stats
        if carried:
            # What this message told the chat is reported; what piled up meanwhile is not.
            queue.dropped -= reported[0]
            queue.uncertain -= reported[1]
            queue.failed -= reported[2]
            queue.held = False
        else:
            sent = queue.messages.popleft()
            stats.photos_sent += int(isinstance(sent, Photo) and result.outcome is _Outcome.SENT)
        queue.attempts = 0
        queue.ready_at = self._clock() + self._interval(chat_id)
        if result.outcome is _Outcome.SENT:
            stats.messages_sent += 1
            stats.alerts_delivered += carried
            stats.digests_sent += int(carried > 1)
        elif result.outcome is _Outcome.UNCERTAIN:
            queue.uncertain += carried
            stats.alerts_uncertain += carried
            log.warning("chat %d: Telegram timed out; not resending", chat_id)
        else:
            queue.failed += carried
            stats.alerts_failed += carried
            log.error("chat %d: message refused: %s", chat_id, result.detail)

    async def _move(self, chat_id: int, queue: _ChatQueue, new_chat_id: int) -> None:
        """Carry a migrated group's queue to its supergroup id and send there."""
        self.stats.migrations += 1
        self._queues.pop(chat_id, None)
        target = self._queue(new_chat_id)
        for item in queue.alerts:
            heapq.heappush(target.alerts, item)
        target.messages.extend(queue.messages)
        target.dropped += queue.dropped
        target.uncertain += queue.uncertain
        target.failed += queue.failed
        target.held = target.held or queue.held
        log.info("chat %d became supergroup %d; resending there", chat_id, new_chat_id)
        await self._events.chat_migrated(chat_id, new_chat_id)
        self._schedule(new_chat_id, target)

    def _retry_later(self, chat_id: int, queue: _ChatQueue, alerts: bool, detail: str) -> None:
        """Back off after a network error; give the message up after max_attempts."""
        queue.attempts += 1
        self.stats.network_retries += 1
        if queue.attempts >= self._max_attempts:
            queue.attempts = 0
            if alerts:  # count what it carried, to report it in the next message
                carried = len(queue.alerts)
                queue.alerts = []
                queue.failed += carried
                self.stats.alerts_failed += carried
            else:
                queue.messages.popleft()
            log.error(
                "chat %d: giving up after %d attempts: %s", chat_id, self._max_attempts, detail
            )
        queue.ready_at = self._clock() + min(60.0, 2.0**queue.attempts)

    async def _send(self, chat_id: int, item: str | Photo, *, silent: bool) -> _Result:
        html = True
        text = item.caption if isinstance(item, Photo) else item
        while True:
            try:
                mode = ParseMode.HTML if html else None
                if isinstance(item, Photo):
                    await self._bot.send_photo(
                        chat_id=chat_id,
                        photo=item.png,
                        caption=text or None,
                        parse_mode=mode,
                        disable_notification=True if silent else None,
                    )
                else:
                    await self._bot.send_message(
                        chat_id=chat_id,
                        text=text,
                        parse_mode=mode,
                        disable_notification=True if silent else None,
                    )
            except Forbidden as exc:
                return _Result(_Outcome.GONE, exc.message)
            except ChatMigrated as exc:
                return _Result(_Outcome.MIGRATED, new_chat_id=int(exc.new_chat_id))
            except RetryAfter as exc:
                return _Result(_Outcome.RETRY_AFTER, delay_s=retry_after_seconds(exc))
            except BadRequest as exc:
                lowered = exc.message.lower()
                if html and "can't parse entities" in lowered:
                    # An escaping bug: the content still matters, so send it without markup.
                    log.error("chat %d: %s; resending as plain text", chat_id, exc.message)
                    self.stats.plain_text_resends += 1
                    html = False
                    text = plain_text(text)
                    continue
                if "chat not found" in lowered:
                    return _Result(_Outcome.GONE, exc.message)
                return _Result(_Outcome.FAILED, exc.message)
            except TimedOut:
                return _Result(_Outcome.UNCERTAIN)
            except NetworkError as exc:
                return _Result(_Outcome.NETWORK, exc.message)
            except TelegramError as exc:  # e.g. InvalidToken: nothing to retry
                return _Result(_Outcome.FAILED, exc.message)
            return _Result(_Outcome.SENT)
