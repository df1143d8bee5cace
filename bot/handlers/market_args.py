"""Parse the market commands' arguments: /stats, /top, /chart and /latest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.handlers.arguments import normalize_asset
from bot.texts.durations import format_window, parse_duration
from bot.texts.usage import UsageError, quote_input

MAX_LATEST = 50
DEFAULT_LATEST = 10


@dataclass(frozen=True, slots=True)
class LatestRequest:
    """What `/latest` asked for."""

    count: int
    asset: str | None


@dataclass(frozen=True, slots=True)
class StatsRequest:
    """What `/stats` asked for: an asset (None: the market) and a period (None: every window)."""

    asset: str | None
    period_s: int | None = None


def parse_window(
    args: Sequence[str], windows_s: Sequence[int], default_s: int, history_s: int = 0
) -> int:
    """Parse `/top [WINDOW]`: one of the configured windows, or whole days (`7d`, `30d`) up to
    the history kept (`history_s`)."""
    example = f"/top {format_window(windows_s[-1])}"
    if not args:
        return default_s
    if len(args) > 1:
        raise UsageError("err_one_window", example, choices=_choices(windows_s, 0))
    try:
        seconds = parse_duration(args[0])
    except ValueError:
        raise UsageError(
            "err_not_window", example, token=quote_input(args[0]), choices=_choices(windows_s, 0)
        ) from None
    return kept_period(args[0], seconds, windows_s, history_s, example)


def kept_period(
    word: str, seconds: int, windows_s: Sequence[int], history_s: int, example: str
) -> int:
    """Return `seconds` if it is a configured window or whole days up to `history_s`; else
    refuse, quoting the user's own word ("7d", not the "168h" it means)."""
    if seconds in windows_s or (seconds % 86_400 == 0 and 0 < seconds <= history_s):
        return seconds
    raise UsageError(
        "err_window_not_kept", example, window=word[:24], choices=_choices(windows_s, history_s)
    )


def _choices(windows_s: Sequence[int], history_s: int) -> str:
    choices = ", ".join(format_window(w) for w in windows_s)
    if history_s >= 2 * 86_400:
        choices += f", 2d-{format_window(history_s - history_s % 86_400)}"
    return choices


CHART_WINDOWS_S = (60, 86_400)
DEFAULT_CHART_S = 86_400


def parse_chart(args: Sequence[str], history_s: int = DEFAULT_CHART_S) -> tuple[str | None, int]:
    """Parse `/chart [SYMBOL|all] [WINDOW]` (either order): the asset (None: every asset) and
    the window, 1m to 24h (default 24h), or whole days up to the history kept (`history_s`)."""
    example = "/chart BTC 4h"
    asset: str | None = None
    window_s: int | None = None
    named = False  # an asset or "all" was given
    if len(args) > 2:
        raise UsageError("err_chart_usage", example)
    for token in args:
        seconds = _duration(token)
        if seconds is not None and window_s is None:
            low, high = CHART_WINDOWS_S
            days = seconds % 86_400 == 0 and seconds <= history_s
            if not (low <= seconds <= high or days):
                if history_s < 2 * 86_400:
                    raise UsageError("err_chart_window", example, longest=format_window(high))
                longest = format_window(history_s - history_s % 86_400)
                raise UsageError("err_chart_days", "/chart BTC 7d", longest=longest)
            window_s = seconds
        elif seconds is None and not named:
            named = True
            if token.lower() != "all":
                asset = normalize_asset(token, example)
        else:
            raise UsageError("err_chart_usage", example)
    return asset, DEFAULT_CHART_S if window_s is None else window_s


def parse_latest(args: Sequence[str]) -> LatestRequest:
    """Parse `/latest [N] [SYMBOL]` (either order)."""
    example = "/latest 20 BTC"
    count = DEFAULT_LATEST
    asset: str | None = None
    if len(args) > 2:
        raise UsageError("err_count_and_asset", example)
    for token in args:
        if token.isdigit():
            count = int(token)
            if not 1 <= count <= MAX_LATEST:
                raise UsageError("err_count_range", example, most=MAX_LATEST)
        elif asset is None:
            asset = normalize_asset(token, example)
        else:
            raise UsageError("err_one_asset", example)
    return LatestRequest(count, asset)


def parse_stats(
    args: Sequence[str], windows_s: Sequence[int] = (), history_s: int = 0
) -> StatsRequest:
    """Parse `/stats [SYMBOL] [PERIOD]` (either order): no asset is the whole market; a period
    is a configured window or whole days (`7d`, `30d`) up to the history kept."""
    example = "/stats BTC"
    if len(args) > 2:
        raise UsageError("err_stats_one_asset", example)
    asset: str | None = None
    period: int | None = None
    for token in args:
        seconds = _duration(token)
        if seconds is not None and period is None:
            days_example = "/stats BTC 7d" if history_s >= 7 * 86_400 else example
            period = kept_period(token, seconds, windows_s, history_s, days_example)
        elif seconds is None and asset is None:
            asset = normalize_asset(token, example)
        else:
            raise UsageError("err_stats_one_asset", example)
    return StatsRequest(asset, period)


def _duration(token: str) -> int | None:
    """Return a duration's seconds, or None if the word is not one (an asset, say)."""
    try:
        return parse_duration(token)
    except ValueError:
        return None
