"""The bot token never reaches a log line, at any level, from any logger, httpx included."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path
from urllib.parse import quote

from bot.logs import REDACTED, RedactingFormatter
from tests.e2e.test_telegram import USER, running_bot
from tests.support.bot_api import FakeBotApi


def test_the_formatter_redacts_message_arguments_and_tracebacks() -> None:
    secret = "123456:AAE-secret_token"
    formatter = RedactingFormatter("%(levelname)s %(message)s", [secret])
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "url %s/%s", ("bot" + secret, quote(secret)), None
    )
    try:
        raise ValueError(f"GET https://api.telegram.org/bot{secret}/getMe failed")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert secret not in line
    assert quote(secret, safe="") not in line
    assert line.count(REDACTED) == 3


async def test_no_log_line_carries_the_token(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    loggers = [root, logging.getLogger("httpx"), logging.getLogger("httpcore")]
    saved = [(lg, lg.level) for lg in loggers]
    async with FakeBotApi() as api:
        handler.setFormatter(RedactingFormatter("%(name)s %(message)s", [api.token]))
        root.addHandler(handler)
        for lg in loggers:
            lg.setLevel(logging.DEBUG)
        try:
            async with running_bot(tmp_path, api) as h:
                api.add_private_chat(USER)
                await h.command(USER, USER, "/subscribe BTC 10k")
                api.fail_next(
                    "sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=USER
                )
                mark = api.mark()
                h.event("BTCUSDT", "SELL", "1", "80000")
                await api.wait_for("sendMessage", lambda c: c.status == 403, since=mark)
                api.fail_next_raw("getUpdates", 502)  # a polling error logged with its URL
                await api.wait_until(lambda: any(c.status == 502 for c in api.calls))
                await h.command(USER, USER, "/start")
        finally:
            root.removeHandler(handler)
            for lg, level in saved:
                lg.setLevel(level)
        # Nothing the bot sent to a chat carries it either.
        assert all(token_free(call.params, api.token) for call in api.calls)
    output = stream.getvalue()
    # Lines that carried the token were there, redacted: PTB logs the Bot API's URL.
    assert f"telegram.ext.ExtBot Set Bot API URL: {api.base_url}{REDACTED}\n" in output
    token = api.token
    for form in (token, quote(token, safe=""), token.split(":", 1)[1]):
        assert form not in output


def token_free(params: object, token: str) -> bool:
    """Return True if no form of the token appears in a request's parameters."""
    text = repr(params)
    return all(form not in text for form in (token, token.split(":", 1)[1]))
