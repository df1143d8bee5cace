"""Format sizes, prices and times for people (console lines now, Telegram messages later)."""

from __future__ import annotations

import datetime as dt
import math
import re


def format_usd(value: float) -> str:
    """Return a short dollar amount: $512, $15.70K, $1.23M, $2.10B (any stored value)."""
    if not math.isfinite(value):
        return f"${value}"
    if abs(value) >= 1e15:  # no real size; keep the line short
        return f"{'-' if value < 0 else ''}${abs(value):.3g}"
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
    return format_time(ts_ms, dt.UTC, with_date=with_date)


def format_time(ts_ms: int, tz: dt.tzinfo, *, with_date: bool = True) -> str:
    """Return a time in a zone with its UTC offset: "2026-10-09 16:26:42 UTC+8" (or "... UTC")."""
    moment = dt.datetime.fromtimestamp(ts_ms / 1000, tz=tz)
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    return f"{text} {format_offset(moment.utcoffset())}"


def zone_name(tz: dt.tzinfo) -> str:
    """Return a zone's IANA name ("Asia/Shanghai"), or "UTC"."""
    key = getattr(tz, "key", None)
    return key if isinstance(key, str) else (tz.tzname(None) or "UTC")


def format_offset(offset: dt.timedelta | None) -> str:
    """Return "UTC", "UTC+8", "UTC-3:30" or "UTC+5:45" for an offset from UTC."""
    minutes = int((offset or dt.timedelta()).total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


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


def format_threshold(usd: float) -> str:
    """Return a threshold as people type it ($250K, $1.5M), exact when that would round."""
    short = format_usd(usd)
    if not math.isfinite(usd) or abs(usd) >= 1e15:
        return short
    match = re.fullmatch(r"\$([\d,]+\.\d\d)([KMB])", short)
    if match is None:  # under $1,000: format_usd shows whole dollars
        return short if usd == round(usd) else f"${usd:,.2f}"
    scale = {"K": 1e3, "M": 1e6, "B": 1e9}[match[2]]
    if not math.isclose(float(match[1].replace(",", "")) * scale, usd, rel_tol=1e-12):
        return f"${usd:,.0f}" if usd == round(usd) else f"${usd:,.2f}"
    return "$" + match[1].rstrip("0").rstrip(".") + match[2]


def plural(count: int, one: str, other: str) -> str:
    """Return "1 event" or "2 events": the count with the word's right form."""
    return f"{count:,} {one if count == 1 else other}"
