"""Parse chat command arguments into typed requests, or a one-line reason with an example."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.prefs.chats import QuietHours, find_zone
from bot.texts.durations import parse_duration
from bot.texts.formatting import format_threshold
from bot.texts.usage import UsageError, quote_input
from collectors.assets import USD_QUOTES, split_multiplier
from collectors.record import Side

EXCHANGES = ("binance", "okx", "bybit", "gate", "htx", "bitget")
MIN_RULE_USD = 1_000.0  # smaller thresholds would alert on nearly every liquidation
MAX_SIZE_USD = 10e9  # no single liquidation comes near; beyond this a size is a typo
MAX_ASSETS_PER_RULE = 20

_SIZE = re.compile(r"^\$?(\d+(?:\.\d+)?)([kmb]?)$", re.IGNORECASE)
_GROUPED_SIZE = re.compile(r"^\$?(\d{1,3}(?:,\d{3})+)$")
_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}$")
# 1e6 or 2.5E5: meant as a size, but too easy to mistype as 1e66; ask for 1m instead.
_SCIENTIFIC = re.compile(r"^\$?\d+(?:\.\d+)?e[+-]?\d+$", re.IGNORECASE)
_NEGATIVE = re.compile(r"^-\$?\d[\d,]*(?:\.\d+)?[kmb]?$", re.IGNORECASE)
_NOT_FINITE = frozenset({"inf", "+inf", "-inf", "infinity", "nan", "-nan", "+nan"})
_RULE_ID = re.compile(r"^#?(c?)(\d{1,9})$", re.IGNORECASE)  # #12 an alert rule, #C3 a cascade
_MULTIPLE = re.compile(r"^(\d+(?:\.\d+)?)x$", re.IGNORECASE)
_SIDES = {"long": Side.LONG, "longs": Side.LONG, "short": Side.SHORT, "shorts": Side.SHORT}
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9}


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
    cascade_ids: frozenset[int] = frozenset()


def parse_size(token: str) -> float | None:
    """Return USD for 250000, 250k, 1.5m, $2M or 2,000,000; None if the token is no size.

    A size too large for a float comes back as inf: callers check it with `check_size`.
    """
    grouped = _GROUPED_SIZE.match(token)
    if grouped:
        return float(grouped.group(1).replace(",", ""))
    match = _SIZE.match(token)
    if match is None:
        return None
    return float(match.group(1)) * _SCALE[match.group(2).lower()]


def looks_like_bad_size(token: str) -> bool:
    """Return True for a word meant as a size that can never be one: -5, inf, nan."""
    return bool(_NEGATIVE.match(token)) or token.lower() in _NOT_FINITE


def check_size(value: float, token: str, example: str, low: float = MIN_RULE_USD) -> float:
    """Return a size if it is finite and from `low` to MAX_SIZE_USD; raise UsageError if not."""
    if math.isfinite(value) and value < low:
        raise UsageError("err_min_rule", "/subscribe BTC 10k", usd=format_threshold(low))
    if not math.isfinite(value) or value > MAX_SIZE_USD:
        raise UsageError(
            "err_size_range",
            example,
            token=quote_input(token),
            low=format_threshold(low),
            high=format_threshold(MAX_SIZE_USD),
        )
    return value


def refuse_bad_size(token: str, example: str) -> None:
    """Raise the reason for a word meant as a size that is negative or not a number."""
    if token.lower() in _NOT_FINITE:
        raise UsageError(
            "err_size_range",
            example,
            token=quote_input(token),
            low=format_threshold(MIN_RULE_USD),
            high=format_threshold(MAX_SIZE_USD),
        )
    raise UsageError("err_size_positive", example, token=quote_input(token))


def normalize_asset(token: str, example: str | None = None) -> str:
    """Return the asset name for what a user typed: btc, BTCUSDT, 1000PEPE -> BTC, BTC, PEPE.

    Raise UsageError (with `example`, the command's own) for anything that cannot be an asset.
    """
    if _SCIENTIFIC.match(token):
        raise UsageError("err_not_size", example or "/subscribe BTC 1m", token=quote_input(token))
    example = example or "/subscribe BTC ETH 250k"
    if looks_like_bad_size(token):
        refuse_bad_size(token, example)
    symbol = token.upper().lstrip("$")
    if not _SYMBOL.match(symbol):
        raise UsageError("err_not_asset", example, token=quote_input(token))
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
        raise UsageError("err_name_asset", example)
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
                raise UsageError("err_one_size", example)
            size = check_size(value, token, "/subscribe BTC 250k")
        elif lowered in _SIDES:
            if side is not None and side is not _SIDES[lowered]:
                raise UsageError("err_long_or_short", "/subscribe SOL 50k short")
            side = _SIDES[lowered]
        elif lowered in EXCHANGES:
            exchanges.add(lowered)
        else:
            assets.add(normalize_asset(token))
    if every_asset and assets:
        raise UsageError("err_all_or_assets", "/subscribe all 1m")
    if not every_asset and not assets:
        raise UsageError("err_name_asset", example)
    if len(assets) > MAX_ASSETS_PER_RULE:
        raise UsageError("err_too_many_assets", example, count=MAX_ASSETS_PER_RULE)
    min_usd = default_min_usd if size is None else size
    if min_usd < MIN_RULE_USD:
        raise UsageError("err_min_rule", "/subscribe BTC 10k", usd=format_threshold(MIN_RULE_USD))
    return SubscribeRequest(frozenset(assets), min_usd, side, frozenset(exchanges))


def parse_unsubscribe(args: Sequence[str]) -> UnsubscribeRequest:
    """Parse `/unsubscribe [SYMBOL...|#ID...|all]`; no argument means all (after asking)."""
    if not args or (len(args) == 1 and args[0].lower() == "all"):
        return UnsubscribeRequest(everything=True)
    assets: set[str] = set()
    rule_ids: set[int] = set()
    cascade_ids: set[int] = set()
    for token in args:
        if token.lower() == "all":
            raise UsageError("err_all_alone", "/unsubscribe all")
        rule = _RULE_ID.match(token)
        if rule and (token.startswith("#") or not rule.group(1)):  # c12 alone is an asset
            (cascade_ids if rule.group(1) else rule_ids).add(int(rule.group(2)))
            continue
        try:
            assets.add(normalize_asset(token, "/unsubscribe BTC"))
        except UsageError as exc:
            raise UsageError(exc.key, "/unsubscribe BTC", **exc.values) from None
    return UnsubscribeRequest(False, frozenset(assets), frozenset(rule_ids), frozenset(cascade_ids))


def parse_lang(args: Sequence[str], languages: Sequence[str]) -> str | None:
    """Parse `/lang en|zh|auto`: a language, or None for auto (each user's Telegram language)."""
    choices = "|".join([*languages, "auto"])
    if len(args) != 1:
        raise UsageError("err_lang", "/lang en", choices=choices)
    word = args[0].lower()
    if word == "auto":
        return None
    if word not in languages:
        raise UsageError("err_lang", "/lang en", choices=choices)
    return word


def parse_tz(args: Sequence[str]) -> str:
    """Parse `/tz Area/City` (or UTC) into the canonical IANA name."""
    example = "/tz Asia/Shanghai"
    if len(args) != 1:
        raise UsageError("err_tz_usage", example)
    name = find_zone(args[0])
    if name is None:
        raise UsageError("err_tz_unknown", example, token=quote_input(args[0]))
    return name


_QUIET = re.compile(r"^(\d{1,2})(?::(\d{2}))?-(\d{1,2})(?::(\d{2}))?$")


def parse_quiet(args: Sequence[str]) -> QuietHours | None:
    """Parse `/quiet 23:00-07:00` (also `23-7`, `23:00 07:00`) or `/quiet off` (None)."""
    example = "/quiet 23:00-07:00"
    if [a.lower() for a in args] == ["off"]:
        return None
    match = _QUIET.match("-".join(args)) if 1 <= len(args) <= 2 else None
    if match is None:
        raise UsageError("err_quiet_usage", example)
    start_h, start_m, end_h, end_m = (int(g) if g else 0 for g in match.groups())
    if start_h > 23 or end_h > 23 or start_m > 59 or end_m > 59:
        raise UsageError("err_quiet_usage", example)
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start == end:
        raise UsageError("err_quiet_empty", example)
    return QuietHours(start, end)


@dataclass(frozen=True, slots=True)
class CascadeRequest:
    """What `/cascade` asked for: an absolute (`min_usd`) or relative (`multiple`) threshold."""

    asset: str | None  # None: every asset, each on its own
    window_s: int
    min_usd: float | None = None
    multiple: float | None = None


MIN_CASCADE_USD = 50_000.0
MAX_CASCADE_RULES_PER_CHAT = 10
CASCADE_MULTIPLES = (2.0, 1000.0)
CASCADE_WINDOWS_S = (30, 3600)


def parse_cascade(args: Sequence[str]) -> CascadeRequest | None:
    """Parse `/cascade SYMBOL|all USD|Nx WINDOW`; `/cascade off` (None) removes them all."""
    example = "/cascade BTC 5m 2m"
    if [a.lower() for a in args] == ["off"]:
        return None
    if len(args) != 3:
        raise UsageError("err_cascade_usage", example)
    target, size, span = args
    asset = None if target.lower() == "all" else normalize_asset(target, example)
    try:
        window_s = parse_duration(span)
    except ValueError:
        raise UsageError("err_not_window_span", example, token=quote_input(span)) from None
    low, high = CASCADE_WINDOWS_S
    if not low <= window_s <= high:
        raise UsageError("err_cascade_window", example)
    multiple = _MULTIPLE.match(size)
    if multiple is not None:
        factor = float(multiple.group(1))
        if not CASCADE_MULTIPLES[0] <= factor <= CASCADE_MULTIPLES[1]:
            raise UsageError("err_cascade_multiple", "/cascade all 10x 5m")
        return CascadeRequest(asset, window_s, multiple=factor)
    usd = parse_size(size)
    if usd is None:
        if looks_like_bad_size(size):
            refuse_bad_size(size, example)
        raise UsageError("err_cascade_size", example, token=quote_input(size))
    if usd < MIN_CASCADE_USD:
        raise UsageError("err_cascade_min", example, usd=format_threshold(MIN_CASCADE_USD))
    return CascadeRequest(asset, window_s, min_usd=check_size(usd, size, example))
