"""Deliver alerts and messages to chats within Telegram's limits, merging what cannot go singly.

Each chat has its own queue and pace: one message per second to a private chat, one per three
seconds (20 a minute) to a group or channel. Alerts that pile up while a chat must wait are
merged into one digest. A chat's queue is bounded: it keeps the largest alerts, and what it cannot
hold is counted and reported in the next message to that chat. python-telegram-bot's
AIORateLimiter keeps the overall rate (30 messages a second) and retries 429s first.

Telegram's answers are classified by `bot.delivery.outcome` through the `Sender`: a chat that is
gone ends delivery to that chat (the sender tells its owner through `ChatEvents`); a group
turned into a supergroup moves the queue to the new id and resends; 429 waits `retry_after`;
refused HTML is resent as plain text; a timeout is not resent (the message may have arrived) but
counted as uncertain and reported; other network errors are retried with the jittered delivery
backoff, then counted as failed and reported.

Quiet hours: while a chat's quiet hours last, its alerts wait (still bounded) and go as one
digest when they end; messages the chat asked for (summaries, notices) still go, silently.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable

from telegram import Bot

from bot.delivery.outcome import Outcome
from bot.delivery.ports import ChatEvents, ChatPrefsView, Journal, _NoPrefs
from bot.delivery.queue import ChatQueue, ChatQueues, Queued
from bot.delivery.sender import Delivery, Sender
from bot.render.alerts import alert, digest, dropped_notice
from bot.tables.journal import event_key
from bot.tables.outbox import Photo
from collectors.clock import now_ms
from collectors.outage import OutageLog

log = logging.getLogger(__name__)


class AlertDispatcher(ChatQueues):
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
        wall_clock: Callable[[], int] = now_ms,
        journal: Journal | None = None,
        prefs: ChatPrefsView | None = None,
        sender: Sender | None = None,
    ) -> None:
        super().__init__(max_alerts_per_chat=max_alerts_per_chat, clock=clock)
        self.sender = sender if sender is not None else Sender(bot, events)
        self._journal = journal
        self._prefs: ChatPrefsView = prefs if prefs is not None else _NoPrefs()
        self._wall_clock = wall_clock
        self._private_interval_s = private_interval_s
        self._group_interval_s = group_interval_s
        self._workers = workers
        self._max_attempts = max_attempts
        # Sends failing (Telegram unreachable): said once, then a line a minute, then the end,
        # not a line per chat.
        self._failing = OutageLog("Telegram (sends)", log, recovered_as="delivering again")

    def note_uncertain(self, chat_id: int, count: int) -> None:
        """Tell a chat that `count` alerts may not have arrived (a crash recovery found them)."""
        self.stats.alerts_uncertain += count
        loc = self._prefs.locale(chat_id)
        self.enqueue_message(chat_id, dropped_notice(0, count, loc=loc))

    def _note_plain_text(self) -> None:
        self.stats.plain_text_resends += 1

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

    def _interval(self, chat_id: int) -> float:
        # Negative ids are groups, supergroups and channels: Telegram allows 20 a minute.
        return self._group_interval_s if chat_id < 0 else self._private_interval_s

    async def _deliver(self, chat_id: int, queue: ChatQueue) -> None:
        taken: list[Queued] = []
        reported = (0, 0, 0)  # (dropped, uncertain, failed) that this message tells the chat
        now_ms = self._wall_clock()
        quiet_until = self._prefs.quiet_until_ms(chat_id, now_ms)
        loc = self._prefs.locale(chat_id)
        item: str | Photo
        topic: int | None = None
        if queue.messages:
            item, topic = queue.messages[0]
        elif quiet_until is not None:
            # Quiet hours: the alerts wait (still bounded) and go as one digest at the end.
            queue.hold_until = self._clock() + (quiet_until - now_ms) / 1000
            if not queue.held:
                queue.held = True
                self.stats.quiet_holds += 1
            return
        else:
            queue.hold_until = 0.0
            taken, topic = _take_one_topic(queue)
            records = [entry.record for entry in sorted(taken, key=lambda i: i.seq)]
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
        journaled = taken if self._journal is not None else []
        keys = [event_key(entry.record, topic) for entry in journaled]
        if keys and self._journal is not None:
            await self._journal.on_wire(chat_id, keys)
        try:
            silent = quiet_until is not None
            if isinstance(item, Photo):
                png, caption = item.png, item.caption
                call = self.sender.photo(chat_id, png, caption, silent=silent, topic=topic)
            else:
                call = self.sender.message(chat_id, item, silent=silent, topic=topic)
            done = await self.sender.once(call, self._note_plain_text)
        except asyncio.CancelledError:
            # Stopping mid-send: Telegram may or may not have it. Resending could duplicate, so
            # count it as uncertain; the count is stored and reported to the chat next time.
            if taken:
                queue.uncertain += len(taken)
                self.stats.alerts_uncertain += len(taken)
            raise
        self._settle(chat_id, queue, taken, reported, done, topic)
        if keys and self._journal is not None:
            if done.result.retryable or done.outcome is Outcome.MIGRATED:
                # It did not arrive, and goes again (maybe to a new chat id).
                self._journal.not_sent(chat_id, keys)
            else:
                self._journal.done(chat_id, keys)

    def _settle(
        self,
        chat_id: int,
        queue: ChatQueue,
        taken: list[Queued],
        reported: tuple[int, int, int],
        done: Delivery,
        topic: int | None,
    ) -> None:
        result = done.result
        outcome = result.outcome
        if outcome is Outcome.GONE:  # the sender told the chat's owner
            self.stats.chats_gone += 1
            self.stats.alerts_undeliverable += len(taken) + len(queue.alerts)
            self._queues.pop(chat_id, None)
        elif outcome is Outcome.TOPIC_GONE and topic is not None:
            self._drop_topic(chat_id, queue, topic, carried=len(taken))
        elif not result.retryable and outcome is not Outcome.MIGRATED:
            self._settle_done(chat_id, queue, len(taken), reported, done)
        else:
            # Retryable: put the alerts back (merged with what arrived meanwhile) and wait.
            for item in taken:
                heapq.heappush(queue.alerts, item)
            while len(queue.alerts) > self._max_alerts:
                heapq.heappop(queue.alerts)
                queue.dropped += 1
                self.stats.alerts_dropped += 1
            if outcome is Outcome.MIGRATED:
                self._move(chat_id, queue, result.new_chat_id)
            elif outcome is Outcome.RETRY_AFTER:
                self.stats.rate_limited += 1
                queue.ready_at = self._clock() + result.delay_s
            else:
                self._retry_later(chat_id, queue, bool(taken), result.detail)

    def _settle_done(
        self,
        chat_id: int,
        queue: ChatQueue,
        carried: int,
        reported: tuple[int, int, int],
        done: Delivery,
    ) -> None:
        """The message left the queue: sent, refused, or maybe delivered (timeout)."""
        result = done.result
        stats = self.stats
        if carried:
            # What this message told the chat is reported; what piled up meanwhile is not.
            queue.dropped -= reported[0]
            queue.uncertain -= reported[1]
            queue.failed -= reported[2]
            queue.held = False
        else:
            sent = queue.messages.popleft().item
            stats.photos_sent += int(isinstance(sent, Photo) and result.outcome is Outcome.SENT)
        queue.attempts = 0
        queue.ready_at = self._clock() + self._interval(chat_id)
        if result.outcome is Outcome.SENT:
            self._failing.recovered()
            stats.messages_sent += 1
            stats.alerts_delivered += carried
            stats.digests_sent += int(carried > 1)
        elif result.outcome is Outcome.UNCERTAIN:
            queue.uncertain += carried
            stats.alerts_uncertain += carried
        else:  # refused (logged by the sender)
            queue.failed += carried
            stats.alerts_failed += carried

    def _drop_topic(self, chat_id: int, queue: ChatQueue, topic: int, *, carried: int) -> None:
        """A forum topic was deleted (the sender told the chat's owner): drop what waits for
        it, and the message that went there; the chat's other topics go on."""
        self.stats.topics_gone += 1
        if not carried:
            queue.messages.popleft()
        self.stats.alerts_undeliverable += carried + len(_take_topic(queue, topic))
        queue.messages = deque(out for out in queue.messages if out.topic != topic)
        queue.attempts = 0
        queue.ready_at = self._clock() + self._interval(chat_id)

    def _move(self, chat_id: int, queue: ChatQueue, new_chat_id: int) -> None:
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
        self._schedule(new_chat_id, target)

    def _retry_later(self, chat_id: int, queue: ChatQueue, alerts: bool, detail: str) -> None:
        """Back off after a network error; give the message up after max_attempts."""
        queue.attempts += 1
        self.stats.network_retries += 1
        failure = f"chat {chat_id}: {detail}"
        if queue.attempts >= self._max_attempts:
            queue.attempts = 0
            if alerts:  # count what it carried, to report it in the next message
                carried = len(queue.alerts)
                queue.alerts = []
                queue.failed += carried
                self.stats.alerts_failed += carried
                given_up = f"{carried} alert(s) given up (the chat is told)"
            else:
                queue.messages.popleft()
                given_up = "a message given up"
            failure = f"chat {chat_id}: {given_up} after {self._max_attempts} attempt(s): {detail}"
        self._failing.failed(failure)
        queue.ready_at = self._clock() + self.sender.backoff.delay(queue.attempts - 1)


def _take_one_topic(queue: ChatQueue) -> tuple[list[Queued], int | None]:
    """Take the waiting alerts bound for one topic: the topic of the oldest alert.

    Alerts for the chat's other topics stay queued for the next message: a digest never
    mixes topics.
    """
    if not queue.alerts:
        return [], None
    topic = min(queue.alerts, key=lambda entry: entry.seq).topic
    return _take_topic(queue, topic), topic


def _take_topic(queue: ChatQueue, topic: int | None) -> list[Queued]:
    """Remove and return the waiting alerts bound for `topic`; the rest stay a heap."""
    taken = [entry for entry in queue.alerts if entry.topic == topic]
    if len(taken) == len(queue.alerts):
        queue.alerts = []
    elif taken:
        queue.alerts = [entry for entry in queue.alerts if entry.topic != topic]
        heapq.heapify(queue.alerts)
    return taken
