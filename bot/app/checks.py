"""Check what a start needs before starting: the database file, the token, each feed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TextIO

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException
from websockets.proxy import get_proxy, parse_proxy
from websockets.uri import parse_uri

from bot.app.http import env_proxy
from bot.settings import Settings
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
    """Call getMe at the configured Bot API through the proxy the bot would use (none for a
    socks one); return (ok, what it said), the token never shown."""
    proxy, authorization = env_proxy(base_url)
    headers = {"Proxy-Authorization": authorization} if authorization else None
    via = httpx.Proxy(proxy, headers=headers) if proxy else None
    try:
        async with httpx.AsyncClient(timeout=timeout_s, trust_env=False, proxy=via) as client:
            response = await client.post(f"{base_url}{token}/getMe")
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return False, _redact(f"Telegram is unreachable at {base_url}: {exc!r}", token)
    if response.status_code in (401, 404):
        return False, "Telegram refused TELEGRAM_BOT_TOKEN: check the token from @BotFather"
    answer = body if isinstance(body, dict) else {}
    bot = answer.get("result")
    if not answer.get("ok") or not isinstance(bot, dict):
        said = answer.get("description") or f"HTTP {response.status_code}, not a bot's getMe answer"
        return False, _redact(f"getMe failed: {said}", token)
    return True, f"getMe answered: the bot is @{bot.get('username', '?')}"


def feed_proxy(url: str) -> str | None:
    """Return the proxy the environment sets for a feed's URL, as the feeds' own connects read
    it (websockets: HTTPS_PROXY or HTTP_PROXY, SOCKS included), without its credentials."""
    try:
        proxy = get_proxy(parse_uri(url))
        if proxy is None:
            return None
        parts = parse_proxy(proxy)
    except WebSocketException as exc:
        return f"(unusable: {exc})"
    return f"{parts.scheme}://{parts.host}:{parts.port}"


async def feed_problem(feed: Feed, timeout_s: float = 10.0) -> tuple[bool, str]:
    """Open one WebSocket to the feed's URL the way the feed will (through the environment's
    proxy, if it sets one) and close it; return (ok, what happened)."""
    proxy = feed_proxy(feed.url)
    via = f" through the proxy {proxy}" if proxy else ""
    try:
        async with asyncio.timeout(timeout_s):
            ws = await connect(feed.url, open_timeout=timeout_s)
            await ws.close()
    except (OSError, TimeoutError, WebSocketException) as exc:
        return False, f"cannot connect to {feed.url}{via}: {exc!r}"
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
