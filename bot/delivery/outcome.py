"""What a Bot API send came to: sent, chat gone, migrated, retry later, maybe sent, failed."""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass
from datetime import timedelta

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


class Outcome(enum.Enum):
    """What became of a send."""

    SENT = "sent"
    GONE = "gone"
    MIGRATED = "migrated"
    RETRY_AFTER = "retry_after"
    NETWORK = "network"
    UNCERTAIN = "uncertain"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    """An outcome with its details: the error text, the wait, the new chat id."""

    outcome: Outcome
    detail: str = ""
    delay_s: float = 0.0
    new_chat_id: int = 0


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


def markup_refused(exc: BadRequest) -> bool:
    """Return True if Telegram could not parse the message's HTML (resend it as plain text)."""
    return "can't parse entities" in exc.message.lower()


def classify(exc: TelegramError) -> Result:
    """Return what a refused or failed send means for the message and its chat."""
    if isinstance(exc, Forbidden):
        return Result(Outcome.GONE, exc.message)
    if isinstance(exc, ChatMigrated):
        return Result(Outcome.MIGRATED, new_chat_id=int(exc.new_chat_id))
    if isinstance(exc, RetryAfter):
        return Result(Outcome.RETRY_AFTER, delay_s=retry_after_seconds(exc))
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return Result(Outcome.GONE, exc.message)
        return Result(Outcome.FAILED, exc.message)
    if isinstance(exc, TimedOut):
        return Result(Outcome.UNCERTAIN)
    if isinstance(exc, NetworkError):
        return Result(Outcome.NETWORK, exc.message)
    return Result(Outcome.FAILED, exc.message)  # e.g. InvalidToken: nothing to retry
