"""The command line for a self-hoster: version, help, and one-line refusals of bad settings."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.logs import LOG_FILE_BACKUPS, configure_logging


def _run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": "", **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_version(tmp_path: Path) -> None:
    done = _run("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "liquidation-bot 0.1.0\n", "")


@pytest.mark.parametrize("args", [("--help",), ("run", "--help")])
def test_help_names_the_env_file_and_the_main_settings(tmp_path: Path, args: tuple[str]) -> None:
    done = _run(*args, cwd=tmp_path)
    assert done.returncode == 0
    for word in (".env", "TELEGRAM_BOT_TOKEN", "DATABASE_PATH", "EXCHANGES", "LOG_FILE"):
        assert word in done.stdout, word


def test_an_unwritable_database_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    done = _run(cwd=tmp_path, DATABASE_PATH=str(tmp_path / "a-file" / "bot.db"))
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"configuration error: DATABASE_PATH={tmp_path}/a-file/bot.db ")


def test_an_unwritable_bot_database_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    bot_path = tmp_path / "a-file" / "rules.db"
    done = _run(
        cwd=tmp_path,
        DATABASE_PATH=str(tmp_path / "bot.db"),
        BOT_DATABASE_PATH=str(bot_path),
        TELEGRAM_BOT_TOKEN="123:ABC",
    )
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"configuration error: BOT_DATABASE_PATH={bot_path} cannot be written")


def test_the_bot_database_cannot_be_the_events_file(tmp_path: Path) -> None:
    path = str(tmp_path / "bot.db")
    done = _run(cwd=tmp_path, DATABASE_PATH=path, BOT_DATABASE_PATH=path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "configuration error: BOT_DATABASE_PATH: Value error, must differ"
    )


def test_a_file_that_is_no_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bot.db").write_bytes(b"x" * 4096)
    done = _run(cwd=tmp_path, DATABASE_PATH=str(tmp_path / "bot.db"))
    assert done.returncode == 2
    assert done.stderr == (
        f"configuration error: DATABASE_PATH={tmp_path}/bot.db cannot be written: "
        "file is not a database\n"
    )


def test_retention_shorter_than_the_longest_window_is_refused(tmp_path: Path) -> None:
    done = _run(cwd=tmp_path, RETENTION_HOURS="2", WINDOWS="1h,4h")
    assert done.returncode == 2
    assert done.stderr == (
        "configuration error: RETENTION_HOURS: Value error, 2 hours is shorter than the longest "
        "window in WINDOWS (4h), whose totals are restored from the database at start: set "
        "RETENTION_HOURS=4 or more\n"
    )


def test_log_file_rotates_by_size(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "bot.log"
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", ["SECRET"], path, max_mb=0.001)  # about 1 KB per file
    try:
        logger = logging.getLogger("tests.rotation")
        for n in range(200):
            logger.info("line %d with SECRET", n)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["bot.log", *(f"bot.log.{n}" for n in range(1, LOG_FILE_BACKUPS + 1))]
    assert "line 199 with [REDACTED]" in path.read_text()
    assert all(p.stat().st_size <= 1100 for p in path.parent.iterdir())
