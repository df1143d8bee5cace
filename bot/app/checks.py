"""Check what a start needs before starting: the database file, the token, each feed."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def database_problem(path: Path) -> str | None:
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
        return f"DATABASE_PATH={path} cannot be written: {reason}"
    return None
