"""One outcome policy: only bot/delivery/outcome.py reads Bot API error texts, every delivery
retry waits the one jittered backoff, and each Telegram error maps to its outcome."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.delivery.outcome import DELIVERY_BACKOFF, Outcome, Result, classify, retry_delay
from collectors.backoff import Backoff
from tests.support import bot_api_objects as tg

ROOT = Path(__file__).resolve().parents[2]
OUTCOME = ROOT / "bot" / "delivery" / "outcome.py"
# Phrases of Bot API error descriptions: matching any of them is the outcome module's job.
PHRASES = (
    "not modified",
    "chat not found",
    "can't parse",
    "parse entities",
    "bot was blocked",
    "bot was kicked",
    "user is deactivated",
    "message to edit not found",
    "can't be edited",
    "retry after",
    "not a member",
    "upgraded to a supergroup",
    "message thread not found",
)


def _bot_modules() -> list[Path]:
    return sorted((ROOT / "bot").rglob("*.py"))


def test_only_the_outcome_module_reads_bot_api_error_texts() -> None:
    found = []
    for path in _bot_modules():
        if path == OUTCOME:
            continue
        text = path.read_text().lower()
        found += [f"{path.relative_to(ROOT)}: {p!r}" for p in PHRASES if p in text]
    assert found == []


def test_the_outcome_module_knows_every_phrase_it_owns() -> None:
    text = OUTCOME.read_text().lower()
    assert [p for p in ("not modified", "chat not found", "can't parse") if p not in text] == []


def _exponential(node: ast.AST) -> bool:
    """Return True for `2 ** n` / `2.0 ** n` with a variable exponent (a backoff formula)."""
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Pow)
        and isinstance(node.left, ast.Constant)
        and node.left.value in (2, 2.0)
        and not isinstance(node.right, ast.Constant)
    )


def test_no_hand_made_exponential_backoff_remains_in_bot() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        for path in _bot_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if _exponential(node)
    ]
    assert found == []
    # The structural check itself catches the old formulas.
    assert _exponential(ast.parse("min(60.0, 2.0**attempts)").body[0].value.args[1])  # type: ignore[attr-defined]
    assert not _exponential(ast.parse("2**62").body[0].value)  # type: ignore[attr-defined]


def test_delivery_and_restarts_share_the_collectors_backoff() -> None:
    for name in ("dispatcher.py", "cascades.py", "sender.py"):
        text = (ROOT / "bot" / "delivery" / name).read_text()
        assert re.search(r"\bbackoff\.delay\(", text) or "DELIVERY_BACKOFF" in text, name
    assert isinstance(DELIVERY_BACKOFF, Backoff)


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 0.5, 1.0), (1, 1.0, 2.0), (2, 2.0, 4.0), (4, 8.0, 16.0), (5, 16.0, 32.0), (6, 30.0, 60.0)],
)
def test_delivery_retry_delay_bounds(attempt: int, low: float, high: float) -> None:
    assert DELIVERY_BACKOFF.delay(attempt, rand=0.0) == low
    assert DELIVERY_BACKOFF.delay(attempt, rand=1.0) == high
    assert DELIVERY_BACKOFF.delay(attempt, rand=0.5) == (low + high) / 2


def test_delivery_retry_delays_are_jittered_within_their_range() -> None:
    random.seed(13)
    delays = [retry_delay(3) for _ in range(500)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) == 500  # jitter: no two retries of a burst wait the same
    assert min(delays) < 4.4  # the whole range is used
    assert max(delays) > 7.6


def test_delivery_retry_delay_is_capped_at_a_minute() -> None:
    assert max(retry_delay(attempt) for attempt in range(7, 200)) <= 60.0
    assert DELIVERY_BACKOFF.delay(10**6, rand=1.0) == 60.0
    assert DELIVERY_BACKOFF.delay(10**6, rand=0.0) == 30.0


def _bad(description: str) -> BadRequest:
    # PTB strips "Bad Request: " and capitalizes the rest, as for a real 400.
    return BadRequest(description.removeprefix("Bad Request: ").capitalize())


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (Forbidden(tg.BLOCKED_BY_USER), Outcome.GONE),
        (Forbidden(tg.kicked_from("supergroup")), Outcome.GONE),
        (Forbidden(tg.USER_DEACTIVATED), Outcome.GONE),
        (Forbidden(tg.not_member_of("channel")), Outcome.GONE),
        (_bad(tg.CHAT_NOT_FOUND), Outcome.GONE),
        (_bad("Bad Request: private chat not found"), Outcome.GONE),
        (_bad(tg.THREAD_NOT_FOUND), Outcome.TOPIC_GONE),
        (_bad("Bad Request: TOPIC_DELETED"), Outcome.TOPIC_GONE),
        (_bad("Bad Request: TOPIC_CLOSED"), Outcome.FAILED),  # closed, not gone: rules stay
        (_bad(tg.NOT_MODIFIED), Outcome.SENT),
        (
            _bad('Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'),
            Outcome.MARKUP,
        ),
        (_bad(tg.EDIT_NOT_FOUND), Outcome.LOST),
        (_bad(tg.CANT_EDIT), Outcome.LOST),
        (_bad(tg.MESSAGE_TOO_LONG), Outcome.FAILED),
        (_bad(tg.NEED_CHANNEL_ADMIN), Outcome.FAILED),
        (TimedOut(), Outcome.UNCERTAIN),
        (NetworkError("Bad Gateway"), Outcome.NETWORK),
        (InvalidToken(), Outcome.FATAL),
        (Conflict(tg.POLL_CONFLICT), Outcome.FAILED),
    ],
)
def test_each_error_has_its_outcome(error: TelegramError, expected: Outcome) -> None:
    assert classify(error).outcome is expected


def test_waits_and_new_ids_are_carried() -> None:
    assert classify(RetryAfter(35)) == Result(
        Outcome.RETRY_AFTER, "Flood control exceeded. Retry in 35 seconds", delay_s=35.0
    )
    migrated = classify(ChatMigrated(-1001234567890))
    assert (migrated.outcome, migrated.new_chat_id) == (Outcome.MIGRATED, -1001234567890)
    assert [r.retryable for r in (classify(RetryAfter(1)), classify(NetworkError("x")))] == [
        True,
        True,
    ]
    assert not classify(TimedOut()).retryable  # it may have arrived: never resent
