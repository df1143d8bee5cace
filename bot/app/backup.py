"""Copy the database while the bot runs, through SQLite's online backup API."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Pages copied per step; between steps the bot's writer may commit (the copy restarts the
# step then, and still ends as one consistent snapshot).
_PAGES_PER_STEP = 1024


def backup_database(source: Path, target: Path, setting: str = "DATABASE_PATH") -> str:
    """Copy `source` to `target` (written beside it, then renamed); return a summary line.

    Raises FileNotFoundError without a source, FileExistsError if the target exists.
    """
    if not source.is_file():
        raise FileNotFoundError(f"no database at {source} ({setting})")
    if target.exists():
        raise FileExistsError(f"{target} exists: choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # Read-only on the source: a backup never creates or changes the live database.
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=_PAGES_PER_STEP)
            tables = [
                name
                for (name,) in dst.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            events = (
                dst.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0]
                if "liquidations" in tables
                else 0
            )
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()
    partial.rename(target)
    size = target.stat().st_size
    return (
        f"backed up {source} to {target}: {len(tables)} tables, {events:,} events, {size:,} bytes"
    )
