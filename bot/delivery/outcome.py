"""The one Bot API outcome policy: what a send or an edit came to, and when to try again.

Every sender (alerts, digests, summaries, cascade posts and edits, command replies, button
edits, start-up) learns what its call came to here; no other module reads Bot API error texts.

- sent; "message is not modified" (an edit to the same content) counts as sent;
- retry after N: Telegram's 429 outlasted the rate limiter's own retries;
- chat gone: 403 (blocked, kicked, not a member, deactivated) or "chat not found";
- topic gone: the forum topic was deleted ("message thread not found"): that topic only;
- migrated: the group became a supergroup with a new chat id;
- markup refused ("can't parse entities"): resend once as plain text;
- lost: the message to edit is deleted or too old (post a new one);
- uncertain: a timeout, the message may have arrived: never resent;
- network: another network error (5xx, connection): retry with `DELIVERY_BACKOFF`;
- fatal: the token is refused; failed: any other refusal (nothing to retry).
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass
from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from collectors.backoff import Backoff

# Delivery retries after network errors: within a second first, doubling to a minute, jittered.
DELIVERY_BACKOFF = Backoff(initial_s=1.0, max_s=60.0)

_GONE = ("chat not found",)  # a 400 that means the chat is gone (every 403 does too)
# A 400 for a forum topic that was deleted (the chat itself is still there). A closed topic
# ("TOPIC_CLOSED") is not gone: it is a refusal like any other.
_TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid")
_NOT_MODIFIED = ("message is not modified",)
_MARKUP = ("can't parse entities", "can't find end of", "unsupported start tag")
_LOST = ("message to edit not found", "message can't be edited", "message_id_invalid")


class Outcome(enum.Enum):
    """What became of a send or an edit."""

    SENT = "sent"
    GONE = "gone"
    TOPIC_GONE = "topic_gone"
    MIGRATED = "migrated"
    RETRY_AFTER = "retry_after"
    MARKUP = "markup"
    LOST = "lost"
    NETWORK = "network"
    UNCERTAIN = "uncertain"
    FATAL = "fatal"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    """An outcome with its details: the error text, the wait, the new chat id."""

    outcome: Outcome
    detail: str = ""
    delay_s: float = 0.0
    new_chat_id: int = 0

    @property
    def retryable(self) -> bool:
        """Return True if the same call may be made again later (429, network error)."""
        return self.outcome in (Outcome.RETRY_AFTER, Outcome.NETWORK)


SENT = Result(Outcome.SENT)


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


def retry_delay(attempt: int, backoff: Backoff = DELIVERY_BACKOFF) -> float:
    """Return the jittered wait before delivery retry number `attempt` (0-based)."""
    return backoff.delay(attempt)


def _says(exc: TelegramError, phrases: tuple[str, ...]) -> bool:
    # PTB capitalizes the description and lower-cases the rest: compare lower-cased substrings.
    text = exc.message.lower()
    return any(phrase in text for phrase in phrases)


def classify(exc: TelegramError) -> Result:
    """Return what a refused or failed Bot API call means for the message and its chat."""
    if isinstance(exc, Forbidden):
        return Result(Outcome.GONE, exc.message)
    if isinstance(exc, ChatMigrated):
        return Result(Outcome.MIGRATED, exc.message, new_chat_id=int(exc.new_chat_id))
    if isinstance(exc, RetryAfter):
        return Result(Outcome.RETRY_AFTER, exc.message, delay_s=retry_after_seconds(exc))
    if isinstance(exc, InvalidToken):
        return Result(Outcome.FATAL, exc.message)
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest is one
        return _bad_request(exc)
    if isinstance(exc, TimedOut):
        return Result(Outcome.UNCERTAIN, exc.message)
    if isinstance(exc, NetworkError):
        return Result(Outcome.NETWORK, exc.message)
    return Result(Outcome.FAILED, exc.message)  # e.g. Conflict: nothing to retry


def _bad_request(exc: BadRequest) -> Result:
    if _says(exc, _NOT_MODIFIED):
        return Result(Outcome.SENT, exc.message)  # the message already says this
    if _says(exc, _GONE):
        return Result(Outcome.GONE, exc.message)
    if _says(exc, _TOPIC_GONE):
        return Result(Outcome.TOPIC_GONE, exc.message)
    if _says(exc, _MARKUP):
        return Result(Outcome.MARKUP, exc.message)
    if _says(exc, _LOST):
        return Result(Outcome.LOST, exc.message)
    return Result(Outcome.FAILED, exc.message)
