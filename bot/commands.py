"""Parse chat command arguments into typed requests, or a one-line reason with an example."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.durations import format_window, parse_duration
from collectors.assets import USD_QUOTES, split_multiplier
from collectors.record import Side

EXCHANGES = ("binance", "okx", "bybit")
MIN_RULE_USD = 1_000.0  # smaller thresholds would alert on nearly every liquidation
MAX_ASSETS_PER_RULE = 20
MAX_LATEST = 50
DEFAULT_LATEST = 10
SUMMARY_EVERY_S = (900, 3600, 14400)

_SIZE = re.compile(r"^\$?(\d+(?:\.\d+)?)([kmb]?)$", re.IGNORECASE)
_GROUPED_SIZE = re.compile(r"^\$?(\d{1,3}(?:,\d{3})+)$")
_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}$")
# 1e6 or 2.5E5: meant as a size, but too easy to mistype as 1e66; ask for 1m instead.
_SCIENTIFIC = re.compile(r"^\$?\d+(?:\.\d+)?e[+-]?\d+$", re.IGNORECASE)
_RULE_ID = re.compile(r"^#?(\d{1,9})$")
_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")
_SIDES = {"long": Side.LONG, "longs": Side.LONG, "short": Side.SHORT, "shorts": Side.SHORT}
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9}


class UsageError(ValueError):
    """A command's arguments are wrong: `reason` (one line) and a correct `example`."""

    def __init__(self, reason: str, example: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.example = example


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    """What `/subscribe` asked for."""

    assets: frozenset[str]  # empty: every asset
    min_usd: float
    side: Side | None
    exchanges: frozenset[str]  # empty: every exchange


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    """What `/unsubscribe` asked for: everything, some assets, or some rule ids."""

    everything: bool
    assets: frozenset[str] = frozenset()
    rule_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class LatestRequest:
    """What `/latest` asked for."""

    count: int
    asset: str | None


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """What `/summary` asked for; both None means off."""

    every_s: int | None = None
    daily_minute: int | None = None

    @property
    def off(self) -> bool:
        """Return True for `/summary off`."""
        return self.every_s is None and self.daily_minute is None


def parse_size(token: str) -> float | None:
    """Return USD for 250000, 250k, 1.5m, $2M or 2,000,000; None if the token is no size."""
    grouped = _GROUPED_SIZE.match(token)
    if grouped:
        return float(grouped.group(1).replace(",", ""))
    match = _SIZE.match(token)
    if match is None:
        return None
    return float(match.group(1)) * _SCALE[match.group(2).lower()]


def normalize_asset(token: str) -> str:
    """Return the asset name for what a user typed: btc, BTCUSDT, 1000PEPE -> BTC, BTC, PEPE.

    Raise UsageError for anything that cannot be an asset name.
    """
    if _SCIENTIFIC.match(token):
        raise UsageError(
            f"{_quote(token)} is not a size: write sizes as 250k, 1.5m or 2000000",
            "/subscribe BTC 1m",
        )
    symbol = token.upper().lstrip("$")
    if not _SYMBOL.match(symbol):
        raise UsageError(
            f"{_quote(token)} is not an asset name (letters and digits only)",
            "/subscribe BTC ETH 250k",
        )
    for quote in USD_QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            symbol = symbol[: -len(quote)]
            break
    base, _ = split_multiplier(symbol)
    return base


def parse_subscribe(args: Sequence[str], default_min_usd: float) -> SubscribeRequest:
    """Parse `/subscribe SYMBOL... [MIN_USD] [long|short] [EXCHANGE...]`."""
    example = "/subscribe BTC ETH 250k"
    if not args:
        raise UsageError("name at least one asset, or all", example)
    assets: set[str] = set()
    every_asset = False
    size: float | None = None
    side: Side | None = None
    exchanges: set[str] = set()
    for token in args:
        lowered = token.lower()
        value = parse_size(token)
        if lowered == "all":
            every_asset = True
        elif value is not None:
            if size is not None:
                raise UsageError("give one minimum size, not two", example)
            size = value
        elif lowered in _SIDES:
            if side is not None and side is not _SIDES[lowered]:
                raise UsageError(
                    "choose long or short (or neither for both)", "/subscribe SOL 50k short"
                )
            side = _SIDES[lowered]
        elif lowered in EXCHANGES:
            exchanges.add(lowered)
        else:
            assets.add(normalize_asset(token))
    if every_asset and assets:
        raise UsageError("use all, or name assets, not both", "/subscribe all 1m")
    if not every_asset and not assets:
        raise UsageError("name at least one asset, or all", example)
    if len(assets) > MAX_ASSETS_PER_RULE:
        raise UsageError(f"at most {MAX_ASSETS_PER_RULE} assets per rule", example)
    min_usd = default_min_usd if size is None else size
    if min_usd < MIN_RULE_USD:
        raise UsageError(
            "the minimum size is $1K (smaller would alert on nearly everything)",
            "/subscribe BTC 10k",
        )
    return SubscribeRequest(frozenset(assets), min_usd, side, frozenset(exchanges))


def parse_unsubscribe(args: Sequence[str]) -> UnsubscribeRequest:
    """Parse `/unsubscribe [SYMBOL...|#ID...|all]`; no argument means all."""
    if not args or (len(args) == 1 and args[0].lower() == "all"):
        return UnsubscribeRequest(everything=True)
    assets: set[str] = set()
    rule_ids: set[int] = set()
    for token in args:
        if token.lower() == "all":
            raise UsageError("use all alone, or name assets", "/unsubscribe all")
        rule = _RULE_ID.match(token)
        if rule:
            rule_ids.add(int(rule.group(1)))
            continue
        try:
            assets.add(normalize_asset(token))
        except UsageError as exc:
            raise UsageError(exc.reason, "/unsubscribe BTC") from None
    return UnsubscribeRequest(False, frozenset(assets), frozenset(rule_ids))


def parse_window(args: Sequence[str], windows_s: Sequence[int], default_s: int) -> int:
    """Parse `/top [WINDOW]`: one of the configured windows."""
    choices = ", ".join(format_window(w) for w in windows_s)
    example = f"/top {format_window(windows_s[-1])}"
    if not args:
        return default_s
    if len(args) > 1:
        raise UsageError(f"give one window: {choices}", example)
    try:
        seconds = parse_duration(args[0])
    except ValueError:
        raise UsageError(f"{_quote(args[0])} is not a window; choose {choices}", example) from None
    if seconds not in windows_s:
        raise UsageError(f"{format_window(seconds)} is not kept; choose {choices}", example)
    return seconds


def parse_latest(args: Sequence[str]) -> LatestRequest:
    """Parse `/latest [N] [SYMBOL]` (either order)."""
    example = "/latest 20 BTC"
    count = DEFAULT_LATEST
    asset: str | None = None
    if len(args) > 2:
        raise UsageError("give a count and/or one asset", example)
    for token in args:
        if token.isdigit():
            count = int(token)
            if not 1 <= count <= MAX_LATEST:
                raise UsageError(f"the count must be 1 to {MAX_LATEST}", example)
        elif asset is None:
            asset = normalize_asset(token)
        else:
            raise UsageError("give one asset", example)
    return LatestRequest(count, asset)


def parse_stats(args: Sequence[str]) -> str | None:
    """Parse `/stats [SYMBOL]`: None is the whole market."""
    if not args:
        return None
    if len(args) > 1:
        raise UsageError("give one asset (or none for the whole market)", "/stats BTC")
    return normalize_asset(args[0])


def parse_schedule(args: Sequence[str]) -> ScheduleRequest:
    """Parse `/summary every 15m|1h|4h | daily HH:MM | off` (also `hourly`, `daily` = 00:00)."""
    example = "/summary every 1h"
    words = [a.lower() for a in args]
    if words == ["off"]:
        return ScheduleRequest()
    if words == ["hourly"]:
        return ScheduleRequest(every_s=3600)
    if len(words) == 2 and words[0] == "every":
        try:
            seconds = parse_duration(words[1])
        except ValueError:
            seconds = 0
        if seconds not in SUMMARY_EVERY_S:
            raise UsageError("summaries run every 15m, 1h or 4h, or daily at HH:MM", example)
        return ScheduleRequest(every_s=seconds)
    if words and words[0] == "daily" and len(words) <= 2:
        at = words[1] if len(words) == 2 else "00:00"
        match = _HH_MM.match(at)
        if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise UsageError(f"{_quote(at)} is not a time like 08:00", "/summary daily 08:00")
        return ScheduleRequest(daily_minute=int(match.group(1)) * 60 + int(match.group(2)))
    raise UsageError("use every 15m, every 1h, every 4h, daily HH:MM or off", example)


def _quote(token: str) -> str:
    """Quote user input for a reason line, shortened (it may be 10,000 characters)."""
    return repr(token if len(token) <= 24 else token[:24] + "…")
