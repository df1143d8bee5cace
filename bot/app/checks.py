"""Check what a start needs before starting: the database file, the token, each feed."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import TextIO

from telegram.error import NetworkError
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException
from websockets.proxy import parse_proxy

from bot.app.http import AiohttpRequest
from bot.settings import Settings
from collectors.connection import feed_proxy, without_credentials
from collectors.feed import Feed
from collectors.registry import build_feeds


def database_problem(path: Path, setting: str = "DATABASE_PATH") -> str | None:
    """Return why the bot cannot write its database at `path`, or None if it can."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=5.0)
        try:
            # A write lock proves the file (and its directory, for the journal) is writable.
            db.execute("BEGIN IMMEDIATE")
            db.execute("PRAGMA schema_version").fetchone()  # fails on a file that is no database
            db.rollback()
        finally:
            db.close()
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"{setting}={path} cannot be written: {reason}"
    return None


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "[REDACTED]") if secret else text


async def telegram_problem(base_url: str, token: str, timeout_s: float = 10.0) -> tuple[bool, str]:
    """Call getMe at the configured Bot API with the bot's own HTTP client (so through the proxy
    the bot will use); return (ok, what it said), the token never shown."""
    try:
        async with AiohttpRequest(read_timeout=timeout_s, connect_timeout=timeout_s) as request:
            status, raw = await request.do_request(f"{base_url}{token}/getMe", "POST")
        body = json.loads(raw)
    except (NetworkError, ValueError) as exc:  # TimedOut is a NetworkError
        return False, _redact(f"Telegram is unreachable at {base_url}: {exc!r}", token)
    if status in (401, 404):
        return False, "Telegram refused TELEGRAM_BOT_TOKEN: check the token from @BotFather"
    answer = body if isinstance(body, dict) else {}
    bot = answer.get("result")
    if not answer.get("ok") or not isinstance(bot, dict):
        said = answer.get("description") or f"HTTP {status}, not a bot's getMe answer"
        return False, _redact(f"getMe failed: {said}", token)
    return True, f"getMe answered: the bot is @{bot.get('username', '?')}"


def _through(proxy: str | None) -> str:
    """Return " through the proxy scheme://host:port" for a proxy URL (its credentials left
    out), or "" for none."""
    if proxy is None:
        return ""
    try:
        parts = parse_proxy(proxy)
    except WebSocketException as exc:  # an unusable URL: the connect will say it too
        return without_credentials(f" through the proxy (unusable: {exc})", proxy)
    return f" through the proxy {parts.scheme}://{parts.host}:{parts.port}"


async def feed_problem(feed: Feed, timeout_s: float = 10.0) -> tuple[bool, str]:
    """Open one WebSocket to the feed's URL the way the feed will (through the environment's
    proxy, if it sets one) and close it; return (ok, what happened)."""
    proxy, via = None, ""
    try:
        proxy = feed_proxy(feed.url)  # read once: the connect and the line use the same one
        via = _through(proxy)
        async with asyncio.timeout(timeout_s):
            ws = await connect(feed.url, proxy=proxy, open_timeout=timeout_s)
            await ws.close()
    except (OSError, TimeoutError, WebSocketException) as exc:
        return False, without_credentials(f"cannot connect to {feed.url}{via}: {exc!r}", proxy)
    return True, f"connected to {feed.url}{via}"


async def run_checks(settings: Settings, out: TextIO) -> bool:
    """Check the database, the token and one connect per enabled feed; one line each."""
    results: list[tuple[str, bool, str]] = []
    problem = database_problem(settings.database_path)
    results.append(
        ("database", problem is None, problem or f"{settings.database_path} is writable")
    )
    if settings.telegram_bot_token is not None:
        bot_path = settings.bot_tables_path
        problem = database_problem(bot_path, "BOT_DATABASE_PATH")
        results.append(("bot database", problem is None, problem or f"{bot_path} is writable"))
    if settings.telegram_bot_token is None:
        results.append(("telegram", True, "no TELEGRAM_BOT_TOKEN: console mode"))
    else:
        token = settings.telegram_bot_token.get_secret_value()
        ok, said = await telegram_problem(settings.telegram_base_url, token)
        results.append(("telegram", ok, said))
    feeds = build_feeds(settings.exchanges, settings.endpoints())
    said_by_feed = await asyncio.gather(*(feed_problem(feed) for feed in feeds))
    results += [
        (f"feed {f.feed_id}", ok, said) for f, (ok, said) in zip(feeds, said_by_feed, strict=True)
    ]
    for name, ok, said in results:
        out.write(f"{_mark(ok)} {name}: {said}\n")
    out.flush()
    return all(ok for _, ok, _ in results)
