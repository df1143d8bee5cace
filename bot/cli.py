"""Parse the command line: `liquidation-bot [run|check|backup FILE|record FILE|replay FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.app.backup import backup_database
from bot.app.capture import run_record, run_replay
from bot.app.checks import database_problem, run_checks
from bot.app.console import run_console
from bot.logs import configure_logging
from bot.settings import Settings, bot_sibling
from bot.tables.db import NewerSchemaError

log = logging.getLogger(__name__)


SETTINGS_HELP = """\
settings are read from the environment and from a .env file in the working directory
(.env.example documents every one); the main ones:
  TELEGRAM_BOT_TOKEN  the token from @BotFather; unset: console mode (events printed)
  DATABASE_PATH       SQLite file of the events (data/liquidations.db)
  BOT_DATABASE_PATH   SQLite file of rules, schedules and the alert journal (beside it, -bot)
  EXCHANGES           feeds to collect, comma-separated (all by default)
  RETENTION_HOURS     hours of events kept in the database (48)
  LOG_LEVEL           DEBUG, INFO, WARNING or ERROR (INFO); LOG_FILE: also log to a file
  WEB_ENABLED, WEB_HOST, WEB_PORT, WEB_TOKEN  the dashboard (127.0.0.1:8080)
"""


def _version() -> str:
    try:
        return version("liquidation-bot")
    except PackageNotFoundError:  # run from a source tree that was not installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liquidation-bot",
        description="Crypto liquidation alerts: collect exchange liquidation feeds and report "
        "them on Telegram (or print them when TELEGRAM_BOT_TOKEN is not set).",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "run",
        help="run the bot (the default command)",
        description="Run the bot until SIGINT or SIGTERM: collect the feeds, store the events, "
        "and alert on Telegram (console mode without TELEGRAM_BOT_TOKEN).",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands.add_parser(
        "check",
        help="check the settings, the database, the token and each feed; exit 1 on a problem",
        description="Check what a start needs, one line each (✓ or ✗ with the reason): the "
        "settings, the database, the token (getMe) and one connect per feed in EXCHANGES.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    backup = commands.add_parser(
        "backup",
        help="copy the databases to FILE while the bot runs (SQLite online backup)",
        description="Copy DATABASE_PATH to FILE and the bot's tables (BOT_DATABASE_PATH) beside "
        "it (FILE's name with -bot added), consistently, while the bot keeps running.",
    )
    backup.add_argument("file", type=Path, help="the copy to write (must not exist)")
    record = commands.add_parser("record", help="write raw frames to a capture file")
    record.add_argument("file", type=Path, help="capture file to write (JSON lines)")
    record.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this many seconds"
    )
    replay = commands.add_parser("replay", help="run a capture file through the parsers")
    replay.add_argument("file", type=Path, help="capture file to read")
    replay.add_argument(
        "--events", action="store_true", help="print one JSON object per liquidation"
    )
    replay.add_argument(
        "--store",
        action="store_true",
        help="also write the events into DATABASE_PATH (idempotent: a second import adds nothing)",
    )
    return parser


def load_settings() -> Settings | None:
    """Read settings; print each problem on one line and return None if they are invalid."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]).upper()
            sys.stderr.write(f"configuration error: {field}: {error['msg']}\n")
        return None


# After the first SIGINT/SIGTERM, what has not stopped by itself within this time is cancelled
# (its cleanup still runs), so the process always ends within 5 s: `docker stop` and
# `systemctl stop` never need a kill.
STOP_GRACE_S = 4.0


def _run_with_signals(main: Callable[[asyncio.Event], Coroutine[Any, Any, object]]) -> None:
    """Run `main(stop)` on a fresh loop; SIGINT and SIGTERM set `stop` for a clean exit.

    A second signal, or `STOP_GRACE_S` after the first, cancels whatever is still running.
    """

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(main(stop))

        def on_signal() -> None:
            if stop.is_set():
                task.cancel()
                return
            stop.set()
            loop.call_later(STOP_GRACE_S, task.cancel)

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal)
        try:
            await task
        except asyncio.CancelledError:
            if not stop.is_set():
                raise
            log.warning("stopping took longer than %.0fs: cancelled", STOP_GRACE_S)

    asyncio.run(runner())


def _backup(settings: Settings, target: Path) -> int:
    """Copy the events' file to `target` and the bot's tables beside it (if the bot ran)."""
    copies = [(settings.database_path, target, "DATABASE_PATH")]
    if settings.bot_tables_path.is_file():
        copies.append((settings.bot_tables_path, bot_sibling(target), "BOT_DATABASE_PATH"))
    taken = [copy for _, copy, _ in copies if copy.exists()]
    if taken:  # checked before writing anything: never half a backup
        sys.stderr.write(f"backup failed: {taken[0]} exists: choose a new file name\n")
        return 1
    try:
        for source, copy, setting in copies:
            sys.stdout.write(backup_database(source, copy, setting) + "\n")
    except (OSError, sqlite3.Error) as exc:
        sys.stderr.write(f"backup failed: {exc}\n")
        return 1
    if len(copies) == 1:
        sys.stdout.write(
            f"no bot tables at {settings.bot_tables_path} yet (the bot has not run with a "
            "token): the events are all there is\n"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "replay" and not args.store:
        configure_logging("WARNING")
        return asyncio.run(
            run_replay(args.file, events=args.events, out=sys.stdout, err=sys.stderr)
        )
    settings = load_settings()
    if settings is None:
        if args.command == "check":
            sys.stdout.write("✗ settings: see the configuration errors above\n")
        return 2
    if args.command == "check":
        sys.stdout.write("✓ settings: valid\n")
        return 0 if asyncio.run(run_checks(settings, sys.stdout)) else 1
    if args.command == "backup":
        return _backup(settings, args.file)
    problem = database_problem(settings.database_path)
    if (
        problem is None
        and settings.telegram_bot_token is not None
        and args.command in (None, "run")
    ):
        problem = database_problem(settings.bot_tables_path, "BOT_DATABASE_PATH")
    if problem is not None:
        sys.stderr.write(f"configuration error: {problem}\n")
        return 2
    if args.command == "replay":
        configure_logging("WARNING")
        return asyncio.run(
            run_replay(
                args.file,
                events=args.events,
                out=sys.stdout,
                err=sys.stderr,
                store_path=settings.database_path,
            )
        )
    secrets = [s.get_secret_value() for s in (settings.telegram_bot_token, settings.web_token) if s]
    try:
        configure_logging(settings.log_level, secrets, settings.log_file, settings.log_file_max_mb)
    except OSError as exc:
        sys.stderr.write(f"configuration error: LOG_FILE={settings.log_file}: {exc.strerror}\n")
        return 2
    if args.command == "record":
        if args.duration is not None and args.duration <= 0:
            sys.stderr.write("record: --duration must be a positive number of seconds\n")
            return 2
        path: Path = args.file
        _run_with_signals(lambda stop: run_record(settings, path, args.duration, stop, sys.stderr))
        return 0
    return _run(settings)


def _run(settings: Settings) -> int:
    """Run the bot (console mode without a token) until a signal; print a stopped line."""
    if settings.telegram_bot_token is None:
        _run_with_signals(lambda stop: run_console(settings, sys.stdout, stop))
        sys.stdout.write("liquidation-bot stopped\n")
        return 0
    from bot.app.telegram import run_telegram  # noqa: PLC0415 - console mode needs none of it

    # PTB 22 warns on every 429 that RetryAfter.retry_after becomes a timedelta; opt in now
    # (the dispatcher reads both forms).
    os.environ.setdefault("PTB_TIMEDELTA", "true")

    try:
        _run_with_signals(lambda stop: run_telegram(settings, stop))
    except NewerSchemaError as exc:
        sys.stderr.write(f"database error: {exc}\n")
        return 2
    log.info("liquidation-bot stopped")
    return 0
