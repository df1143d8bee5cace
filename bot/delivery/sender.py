"""Every Bot API send and edit of the bot goes through a `Sender`: one policy for all of them.

`once(call)` makes one call (HTML refused by Telegram is sent again as plain text) and reports a
chat that is gone or migrated to the chat's owner (`ChatEvents`); the alert dispatcher and the
cascade notifier use it and schedule their own retries. `deliver(call)` also retries in place:
a 429 or a network error a few times with the jittered backoff, a migrated chat at its new id;
command replies and button edits use it. A timeout is never repeated: it may have arrived.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.delivery.outcome import (
    DELIVERY_BACKOFF,
    SENT,
    Outcome,
    Result,
    classify,
)
from bot.delivery.ports import ChatEvents
from bot.render.html import plain_text
from collectors.backoff import Backoff

log = logging.getLogger(__name__)

# Makes the request: (chat id, text, parse mode or None for plain text) -> what Telegram returned.
Request = Callable[[int, str, ParseMode | None], Awaitable[Message | bool]]


@dataclass(frozen=True, slots=True)
class Call:
    """One send or edit of HTML text (or a caption): replayable as plain text or at a new id."""

    chat_id: int
    text: str
    request: Request
    what: str = "message"  # for the logs
    topic: int | None = None  # the forum topic it goes to, if any


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a call came to, where it went, and the message Telegram returned."""

    result: Result
    chat_id: int
    message: Message | None = None
    plain_text: bool = False  # the HTML was refused and the text went without markup

    @property
    def outcome(self) -> Outcome:
        """Return the outcome."""
        return self.result.outcome


@dataclass(slots=True)
class SendStats:
    """What every call through the sender came to, by outcome."""

    outcomes: dict[str, int] = field(default_factory=dict)
    plain_text_resends: int = 0
    retries: int = 0


# The sender of each running bot, by the bot's identity. The registered sender holds its bot, so
# an id cannot be reused while it is registered.
_REGISTERED: dict[int, Sender] = {}


@dataclass(slots=True)
class Sender:
    """Make Bot API calls under the one outcome policy."""

    bot: Bot
    events: ChatEvents | None = None
    backoff: Backoff = DELIVERY_BACKOFF
    attempts: int = 3  # of `deliver`, for 429s and network errors
    max_wait_s: float = 10.0  # `deliver` gives up rather than wait longer (a handler waits)
    stats: SendStats = field(default_factory=SendStats)

    # --- the bot's sender -------------------------------------------------------------------

    @staticmethod
    def of(bot: Bot) -> Sender:
        """Return the sender registered for this bot (handlers have only the update's bot)."""
        found = _REGISTERED.get(id(bot))
        return found if found is not None and found.bot is bot else Sender(bot)

    def register(self) -> None:
        """Make this the sender of its bot, for `Sender.of`, until `unregister`."""
        _REGISTERED[id(self.bot)] = self

    def unregister(self) -> None:
        """Stop being the sender of its bot."""
        if _REGISTERED.get(id(self.bot)) is self:
            del _REGISTERED[id(self.bot)]

    # --- calls ------------------------------------------------------------------------------

    def message(
        self,
        chat_id: int,
        text: str,
        *,
        markup: InlineKeyboardMarkup | None = None,
        silent: bool = False,
        topic: int | None = None,
    ) -> Call:
        """Return a sendMessage call (into a forum topic if given)."""

        async def request(chat: int, body: str, mode: ParseMode | None) -> Message | bool:
            return await self.bot.send_message(
                chat_id=chat,
                text=body,
                parse_mode=mode,
                reply_markup=markup,
                disable_notification=True if silent else None,
                message_thread_id=topic,
            )

        return Call(chat_id, text, request, topic=topic)

    def photo(
        self,
        chat_id: int,
        png: bytes,
        caption: str = "",
        *,
        silent: bool = False,
        topic: int | None = None,
    ) -> Call:
        """Return a sendPhoto call with an HTML caption (into a forum topic if given)."""

        async def request(chat: int, body: str, mode: ParseMode | None) -> Message | bool:
            return await self.bot.send_photo(
                chat_id=chat,
                photo=png,
                caption=body or None,
                parse_mode=mode,
                disable_notification=True if silent else None,
                message_thread_id=topic,
            )

        return Call(chat_id, caption, request, "photo", topic)

    def edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        markup: InlineKeyboardMarkup | None = None,
    ) -> Call:
        """Return an editMessageText call (its buttons are replaced by `markup`)."""

        async def request(chat: int, body: str, mode: ParseMode | None) -> Message | bool:
            return await self.bot.edit_message_text(
                body, chat_id=chat, message_id=message_id, parse_mode=mode, reply_markup=markup
            )

        return Call(chat_id, text, request, "edit")

    # --- the policy -------------------------------------------------------------------------

    async def once(self, call: Call, on_plain: Callable[[], None] | None = None) -> Delivery:
        """Make the call once (plain text after refused HTML, `on_plain` told before it goes);
        report a gone or moved chat."""
        text = call.text
        mode: ParseMode | None = ParseMode.HTML
        while True:
            try:
                answer = await call.request(call.chat_id, text, mode)
            except TelegramError as exc:
                result = classify(exc)
                if result.outcome is Outcome.MARKUP and mode is not None:
                    # An escaping bug: the content still matters, so send it without markup.
                    log.error("chat %d: %s; resending as plain text", call.chat_id, exc.message)
                    self.stats.plain_text_resends += 1
                    if on_plain is not None:
                        on_plain()
                    text, mode = plain_text(text), None
                    continue
                if result.outcome is Outcome.MARKUP:
                    result = Result(Outcome.FAILED, result.detail)
                await self._report(call, result)
                return Delivery(result, call.chat_id, plain_text=mode is None)
            self._count(SENT)
            message = answer if isinstance(answer, Message) else None
            return Delivery(SENT, call.chat_id, message, plain_text=mode is None)

    async def deliver(self, call: Call) -> Delivery:
        """Make the call, retrying 429s and network errors a few times and following a
        migrated chat to its new id; never repeat a call that timed out."""
        attempt = 0
        while True:
            done = await self.once(call)
            result = done.result
            if result.outcome is Outcome.MIGRATED and attempt + 1 < self.attempts:
                call = dataclasses.replace(call, chat_id=result.new_chat_id)
            elif result.retryable and attempt + 1 < self.attempts:
                wait = result.delay_s if result.delay_s else self.backoff.delay(attempt)
                if wait > self.max_wait_s:
                    return done
                await asyncio.sleep(wait)
            else:
                return done
            attempt += 1
            self.stats.retries += 1

    async def _report(self, call: Call, result: Result) -> None:
        self._count(result)
        outcome = result.outcome
        if outcome is Outcome.SENT:
            return  # an edit to the same content: the message already says this
        if outcome is Outcome.GONE:
            log.warning("chat %d is gone (%s)", call.chat_id, result.detail)
            if self.events is not None:
                await self.events.chat_gone(call.chat_id, result.detail)
        elif outcome is Outcome.TOPIC_GONE and call.topic is not None:
            log.warning("chat %d: topic %d is gone (%s)", call.chat_id, call.topic, result.detail)
            if self.events is not None:
                await self.events.topic_gone(call.chat_id, call.topic, result.detail)
        elif outcome is Outcome.MIGRATED:
            log.info("chat %d became supergroup %d", call.chat_id, result.new_chat_id)
            if self.events is not None:
                await self.events.chat_migrated(call.chat_id, result.new_chat_id)
        elif outcome is Outcome.UNCERTAIN:
            log.warning(
                "chat %d: %s timed out; not resending (it may be there)", call.chat_id, call.what
            )
        elif outcome is Outcome.FATAL:
            log.critical("Telegram refused the bot's token: %s", result.detail)
        elif outcome is not Outcome.LOST and not result.retryable:
            log.error("chat %d: %s refused: %s", call.chat_id, call.what, result.detail)

    def _count(self, result: Result) -> None:
        key = result.outcome.value
        self.stats.outcomes[key] = self.stats.outcomes.get(key, 0) + 1
