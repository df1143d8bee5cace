"""Run the real python-telegram-bot Application against the fake Bot API, by hand."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from tests.support.bot_api import FakeBotApi

if TYPE_CHECKING:
    from telegram.ext._applicationbuilder import InitApplicationBuilder

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

# Always explicit: Telegram keeps the last allowed_updates a bot sent until it sends another.
ALLOWED_UPDATES = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
)


def builder_for(api: FakeBotApi) -> InitApplicationBuilder:
    """Return an ApplicationBuilder whose bot talks to `api` (token and URLs set)."""
    return (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
    )


class ErrorLog:
    """An error handler that keeps what handlers and polling raised, for tests to assert on."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            self.errors.append(context.error)


@contextlib.asynccontextmanager
async def polling(
    app: AnyApplication,
    *,
    allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    timeout: int = 1,
    drop_pending_updates: bool = False,
) -> AsyncIterator[AnyApplication]:
    """Start `app` and long polling as production does (no run_polling); stop in reverse order."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0,
            timeout=timeout,
            allowed_updates=list(allowed_updates),
            drop_pending_updates=drop_pending_updates,
        )
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
