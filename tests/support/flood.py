"""Telegram's flood limits as leaky buckets, for the fake Bot API to enforce."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Methods that deliver a message; Telegram's published limits are about messages.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendAnimation",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendSticker",
        "sendPoll",
        "sendLocation",
        "sendContact",
        "sendDice",
        "copyMessage",
        "forwardMessage",
    }
)


@dataclass(frozen=True)
class FloodLimits:
    """How many messages Telegram accepts per period, overall and per chat.

    Each limit is a leaky bucket holding `rate` messages that drains at `rate / period` per
    second: the model of aiolimiter, which PTB's AIORateLimiter uses, so a client throttled to the
    same numbers never sees a 429. Defaults are the Bot FAQ's figures: 30 messages/s overall and
    20 messages/min per group, supergroup or channel. The 1 message/s per private chat is soft
    on Telegram's side and off here unless `private_rate` is set. `grace_s` forgives arrivals
    that come up to that much later than their turn (network jitter between client and server).
    """

    overall_rate: int = 30
    overall_period_s: float = 1.0
    group_rate: int = 20
    group_period_s: float = 60.0
    private_rate: int | None = None
    private_period_s: float = 1.0
    grace_s: float = 0.05
    methods: frozenset[str] = field(default=SENDING_METHODS)


class LeakyBucket:
    """Count messages in a bucket of `rate` that drains at `rate / period_s` per second."""

    def __init__(self, rate: int, period_s: float, grace_s: float) -> None:
        self.leak_per_s = rate / period_s
        self.capacity = rate + self.leak_per_s * grace_s
        self.level = 0.0
        self.last = -math.inf

    def _drain(self, now: float) -> None:
        if now <= self.last:
            return  # never un-drain: callers' clocks only move forward, but be safe
        if self.last != -math.inf:
            self.level = max(0.0, self.level - (now - self.last) * self.leak_per_s)
        self.last = now

    def wait_s(self, now: float) -> float:
        """Return how long until one more message fits (0 if it fits now)."""
        self._drain(now)
        excess = self.level + 1 - self.capacity
        return max(0.0, excess / self.leak_per_s)

    def add(self, now: float) -> None:
        """Count one accepted message."""
        self._drain(now)
        self.level += 1


class FloodControl:
    """Apply FloodLimits to sends: say how long to wait, or count the message."""

    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._overall = LeakyBucket(limits.overall_rate, limits.overall_period_s, limits.grace_s)
        self._per_chat: dict[int, LeakyBucket] = {}

    def _chat_bucket(self, chat_id: int) -> LeakyBucket | None:
        limits = self.limits
        if chat_id < 0:
            rate, period = limits.group_rate, limits.group_period_s
        elif limits.private_rate is not None:
            rate, period = limits.private_rate, limits.private_period_s
        else:
            return None
        bucket = self._per_chat.get(chat_id)
        if bucket is None:
            bucket = self._per_chat[chat_id] = LeakyBucket(rate, period, limits.grace_s)
        return bucket

    def retry_after(self, method: str, chat_id: int, now: float) -> int | None:
        """Return the whole seconds (>= 1) to wait if this send exceeds a limit, else None."""
        if method not in self.limits.methods:
            return None
        buckets = [self._overall, self._chat_bucket(chat_id)]
        wait = max(bucket.wait_s(now) for bucket in buckets if bucket is not None)
        # Telegram's retry_after is a whole number of seconds and never 0 (PTB would not treat
        # 0 as RetryAfter at all).
        return max(1, math.ceil(wait)) if wait > 0 else None

    def accept(self, method: str, chat_id: int, now: float) -> None:
        """Count a delivered message against its buckets."""
        if method not in self.limits.methods:
            return
        self._overall.add(now)
        bucket = self._chat_bucket(chat_id)
        if bucket is not None:
            bucket.add(now)
