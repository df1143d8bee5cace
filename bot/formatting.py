"""Format sizes, prices and times for people (console lines now, Telegram messages later)."""

from __future__ import annotations

import math
import time


def format_usd(value: float) -> str:
    """Return a short dollar amount: $512, $15.70K, $1.23M, $2.10B."""
    magnitude = abs(value)
    # Each bound is where the smaller unit would round up to 1,000 (999,999 is $1.00M).
    if magnitude < 999.5:
        text = f"{magnitude:,.0f}"
    elif magnitude < 999_995:
        text = f"{magnitude / 1e3:,.2f}K"
    elif magnitude < 999_995_000:
        text = f"{magnitude / 1e6:,.2f}M"
    else:
        text = f"{magnitude / 1e9:,.2f}B"
    return f"{'-' if value < 0 else ''}${text}"


def format_price(value: float) -> str:
    """Return a price with enough digits: 82,651.90, 2.585, 0.00001234."""
    if not math.isfinite(value) or value <= 0:
        return str(value)
    if value >= 1000:
        return f"{value:,.2f}"
    decimals = max(2, 3 - math.floor(math.log10(value)))
    return f"{value:.{decimals}f}"


def format_utc(ts_ms: int, *, with_date: bool = True) -> str:
    """Return "2026-10-09 08:26:42 UTC" (or only the time)."""
    moment = time.gmtime(ts_ms / 1000)
    text = time.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S", moment)
    return f"{text} UTC"


def format_duration(seconds: float) -> str:
    """Return a compact duration: 45s, 12m05s, 3h02m, 2d04h."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
