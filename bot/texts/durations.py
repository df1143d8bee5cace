"""Parse and print the short durations users type: 90s, 3m, 15m, 1h, 4h, 24h, 1d."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhd])\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Return seconds for "15m", "4h", "1d" or "90s"; raise ValueError with a reason."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a duration like 15m, 4h or 1d")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return seconds


def format_window(seconds: int) -> str:
    """Return the shortest exact form: 180 -> 3m, 3600 -> 1h, 86400 -> 24h, 604800 -> 7d."""
    if seconds % 86400 == 0 and seconds > 86400:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
