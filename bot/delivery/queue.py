"""Each chat's bounded queue of alerts and messages, and which chat may send next.

An alert or a message may be bound for a forum topic of the chat (message_thread_id, from the
rule or schedule set in that topic). The queue, its bound and its pace stay per chat: Telegram's
limits count per chat, whatever the topic. One message carries the alerts of one topic only.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.tables.outbox import PendingChat, Photo
from collectors.record import Liquidation


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
    topics_gone: int = 0  # forum topics deleted: what was set in them dropped
    migrations: int = 0
    photos_sent: int = 0
    quiet_holds: int = 0  # times a chat's alerts were held for its quiet hours


class Queued(NamedTuple):
    """An alert waiting in a chat's heap: ordered by size, then by arrival."""

    usd: float
    seq: int
    record: Liquidation
    topic: int | None  # the forum topic it goes to (None: the chat itself)


class Outgoing(NamedTuple):
    """A message or picture waiting for its chat, and the forum topic it goes to."""

    item: str | Photo
    topic: int | None = None


@dataclass(slots=True)
class ChatQueue:
    """One chat's alerts (a min-heap by size, bounded), messages, and pacing state."""

    alerts: list[Queued] = field(default_factory=list)  # min-heap
    messages: deque[Outgoing] = field(default_factory=deque)
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
        """Return True if alerts or messages wait."""
        return bool(self.alerts or self.messages)

    def next_due(self) -> float:
        """Return when the chat may send next (held alerts wait for quiet hours to end)."""
        return self.ready_at if self.messages else max(self.ready_at, self.hold_until)


class ChatQueues:
    """Per-chat bounded queues and the heap of chats due to send: the dispatcher's state."""

    def __init__(self, *, max_alerts_per_chat: int, clock: Callable[[], float]) -> None:
        self._max_alerts = max_alerts_per_chat
        self._clock = clock
        self._queues: dict[int, ChatQueue] = {}
        self._ready: list[tuple[float, int, int, int]] = []  # (due, seq, chat_id, token)
        self._seq = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self.stats = DispatchStats()

    # --- queueing (never blocks) ----------------------------------------------------------

    def enqueue_alert(self, chat_id: int, record: Liquidation, topic: int | None = None) -> None:
        """Queue an alert (for a forum topic of the chat, if given); a full queue keeps the
        largest alerts and counts the rest."""
        queue = self._queue(chat_id)
        self.stats.alerts_queued += 1
        self._seq += 1
        item = Queued(record.notional_usd, self._seq, record, topic)
        if len(queue.alerts) < self._max_alerts:
            heapq.heappush(queue.alerts, item)
        else:
            heapq.heappushpop(queue.alerts, item)  # the smallest alert goes
            queue.dropped += 1
            self.stats.alerts_dropped += 1
        self._schedule(chat_id, queue)

    def enqueue_message(self, chat_id: int, html: str, *, topic: int | None = None) -> None:
        """Queue one message (a summary, a notice); messages go before pending alerts."""
        queue = self._queue(chat_id)
        queue.messages.append(Outgoing(html, topic))
        self._schedule(chat_id, queue)

    def enqueue_photo(
        self, chat_id: int, png: bytes, caption: str = "", *, topic: int | None = None
    ) -> None:
        """Queue a picture (a chart) with an HTML caption, in order with the messages."""
        queue = self._queue(chat_id)
        queue.messages.append(Outgoing(Photo(png, caption), topic))
        self._schedule(chat_id, queue)

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
            message_topics = _topics(owed.message_topics, len(owed.messages))
            queue.messages.extend(map(Outgoing, owed.messages, message_topics))
            for record, topic in zip(
                owed.alerts, _topics(owed.alert_topics, len(owed.alerts)), strict=True
            ):
                self._seq += 1
                heapq.heappush(queue.alerts, Queued(record.notional_usd, self._seq, record, topic))
            queue.dropped += owed.dropped
            queue.uncertain += owed.uncertain
            self._schedule(owed.chat_id, queue)

    def snapshot(self) -> list[PendingChat]:
        """Return everything still owed, to persist at shutdown."""
        owed = []
        for chat_id, queue in sorted(self._queues.items()):
            if not (queue.has_work() or queue.dropped or queue.uncertain or queue.failed):
                continue
            alerts = sorted(queue.alerts, key=lambda i: i.seq)
            alert_topics = [item.topic for item in alerts]
            message_topics = [out.topic for out in queue.messages]
            owed.append(
                PendingChat(
                    chat_id=chat_id,
                    alerts=[item.record for item in alerts],
                    messages=[out.item for out in queue.messages],
                    dropped=queue.dropped,
                    uncertain=queue.uncertain + queue.failed,
                    # Stored only when some item goes to a topic: older payloads have none.
                    alert_topics=_stored(alert_topics),
                    message_topics=_stored(message_topics),
                )
            )
        return owed

    def pending_alerts(self) -> int:
        """Return how many alerts wait, over all chats."""
        return sum(len(queue.alerts) for queue in self._queues.values())

    def pending_chats(self) -> int:
        """Return how many chats have something waiting."""
        return sum(1 for queue in self._queues.values() if queue.has_work())

    def _queue(self, chat_id: int) -> ChatQueue:
        queue = self._queues.get(chat_id)
        if queue is None:
            queue = self._queues[chat_id] = ChatQueue()
        return queue

    def _schedule(self, chat_id: int, queue: ChatQueue) -> None:
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

    # --- the ready heap ---------------------------------------------------------------------

    def _busy(self) -> bool:
        """Return True while something is being sent or can be sent without waiting for
        quiet hours to end."""
        now = self._clock()
        return any(
            q.in_flight or (q.scheduled and (q.messages or q.hold_until <= now))
            for q in self._queues.values()
        )

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


def _topics(stored: list[int | None], count: int) -> list[int | None]:
    """Return one topic per item: as stored, or None for items stored without one."""
    return (stored + [None] * count)[:count]


def _stored(topics: list[int | None]) -> list[int | None]:
    """Return the topics to store: none at all when no item has one."""
    return topics if any(topic is not None for topic in topics) else []
