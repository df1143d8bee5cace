"""The process's one wall clock: whole milliseconds since the Unix epoch (UTC)."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Return the wall-clock time in whole milliseconds since the epoch."""
    return time.time_ns() // 1_000_000
