"""One message or photo to the Bot API, its outcome classified."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.delivery.outcome import Outcome, Result, classify, markup_refused
from bot.delivery.queue import DispatchStats
from bot.render.html import plain_text
from bot.tables.outbox import Photo

log = logging.getLogger(__name__)


async def send(
    bot: Bot, chat_id: int, item: str | Photo, *, silent: bool, stats: DispatchStats
) -> Result:
    """Send a message or a photo with its caption; return the outcome (never raises a
    TelegramError). HTML that Telegram cannot parse is sent again as plain text."""
    html = True
    text = item.caption if isinstance(item, Photo) else item
    while True:
        try:
            mode = ParseMode.HTML if html else None
            if isinstance(item, Photo):
                await bot.send_photo(
                    chat_id=chat_id,
                    photo=item.png,
                    caption=text or None,
                    parse_mode=mode,
                    disable_notification=True if silent else None,
                )
            else:
                await bot.send_message(
                    chat_id=chat_id,
                    text=text,
                    parse_mode=mode,
                    disable_notification=True if silent else None,
                )
        except BadRequest as exc:
            if html and markup_refused(exc):
                # An escaping bug: the content still matters, so send it without markup.
                log.error("chat %d: %s; resending as plain text", chat_id, exc.message)
                stats.plain_text_resends += 1
                html = False
                text = plain_text(text)
                continue
            return classify(exc)
        except TelegramError as exc:
            return classify(exc)
        return Result(Outcome.SENT)
