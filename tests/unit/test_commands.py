"""Command arguments: every accepted form, and a reason plus example for every mistake."""

from __future__ import annotations

import pytest

from bot.commands import (
    LatestRequest,
    ScheduleRequest,
    SubscribeRequest,
    UnsubscribeRequest,
    UsageError,
    normalize_asset,
    parse_latest,
    parse_schedule,
    parse_size,
    parse_stats,
    parse_subscribe,
    parse_unsubscribe,
    parse_window,
)
from collectors.record import Side

WINDOWS = (180, 900, 3600, 14400, 86400)


@pytest.mark.parametrize(
    ("token", "usd"),
    [
        ("250000", 250_000.0),
        ("250k", 250_000.0),
        ("250K", 250_000.0),
        ("1.5m", 1_500_000.0),
        ("$2M", 2_000_000.0),
        ("$1b", 1e9),
        ("2,000,000", 2_000_000.0),
        ("$25,000", 25_000.0),
        ("BTC", None),
        ("1INCH", None),
        ("1,00", None),
        ("2mm", None),
        ("-5k", None),
    ],
)
def test_parse_size(token: str, usd: float | None) -> None:
    assert parse_size(token) == usd


@pytest.mark.parametrize(
    ("token", "asset"),
    [
        ("btc", "BTC"),
        ("BTCUSDT", "BTC"),
        ("ethusdc", "ETH"),
        ("1000PEPE", "PEPE"),
        ("1000PEPEUSDT", "PEPE"),
        ("$sol", "SOL"),
        ("1INCH", "1INCH"),
        ("USDT", "USDT"),
    ],
)
def test_normalize_asset(token: str, asset: str) -> None:
    assert normalize_asset(token) == asset


@pytest.mark.parametrize(
    ("args", "request_"),
    [
        (
            ["BTC", "ETH", "250k"],
            SubscribeRequest(frozenset({"BTC", "ETH"}), 250_000.0, None, frozenset()),
        ),
        (["all", "1m"], SubscribeRequest(frozenset(), 1_000_000.0, None, frozenset())),
        (
            ["SOL", "50k", "short", "okx"],
            SubscribeRequest(frozenset({"SOL"}), 50_000.0, Side.SHORT, frozenset({"okx"})),
        ),
        (
            ["btcusdt", "$2M", "longs", "Binance", "BYBIT"],
            SubscribeRequest(frozenset({"BTC"}), 2e6, Side.LONG, frozenset({"binance", "bybit"})),
        ),
        (["doge"], SubscribeRequest(frozenset({"DOGE"}), 100_000.0, None, frozenset())),
    ],
)
def test_subscribe(args: list[str], request_: SubscribeRequest) -> None:
    assert parse_subscribe(args, default_min_usd=100_000.0) == request_


@pytest.mark.parametrize(
    ("args", "reason", "example"),
    [
        ([], "name at least one asset, or all", "/subscribe BTC ETH 250k"),
        (["250k"], "name at least one asset, or all", "/subscribe BTC ETH 250k"),
        (["all", "BTC"], "use all, or name assets, not both", "/subscribe all 1m"),
        (["BTC", "1m", "2m"], "give one minimum size, not two", "/subscribe BTC ETH 250k"),
        (
            ["BTC", "long", "short"],
            "choose long or short (or neither for both)",
            "/subscribe SOL 50k short",
        ),
        (
            ["BTC", "500"],
            "the minimum size is $1K (smaller would alert on nearly everything)",
            "/subscribe BTC 10k",
        ),
        (
            ["<b>x</b>"],
            "'<b>x</b>' is not an asset name (letters and digits only)",
            "/subscribe BTC ETH 250k",
        ),
        (
            ["BTC", "1e999"],
            "'1e999' is not a size: write sizes as 250k, 1.5m or 2000000",
            "/subscribe BTC 1m",
        ),
        (
            ["BTC'; DROP TABLE bot_rules;--"],
            '"BTC\'; DROP TABLE bot_rul…" is not an asset name (letters and digits only)',
            "/subscribe BTC ETH 250k",
        ),
        ([f"A{i}" for i in range(21)], "at most 20 assets per rule", "/subscribe BTC ETH 250k"),
    ],
)
def test_subscribe_mistakes(args: list[str], reason: str, example: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_subscribe(args, default_min_usd=100_000.0)
    assert (raised.value.reason, raised.value.example) == (reason, example)


def test_a_10000_character_argument_is_refused_briefly() -> None:
    with pytest.raises(UsageError) as raised:
        parse_subscribe(["X" * 10_000], default_min_usd=100_000.0)
    assert len(raised.value.reason) < 80


@pytest.mark.parametrize(
    ("args", "request_"),
    [
        ([], UnsubscribeRequest(everything=True)),
        (["ALL"], UnsubscribeRequest(everything=True)),
        (["btc", "#12", "7"], UnsubscribeRequest(False, frozenset({"BTC"}), frozenset({12, 7}))),
    ],
)
def test_unsubscribe(args: list[str], request_: UnsubscribeRequest) -> None:
    assert parse_unsubscribe(args) == request_


def test_unsubscribe_mistakes() -> None:
    with pytest.raises(UsageError, match="use all alone"):
        parse_unsubscribe(["all", "BTC"])
    with pytest.raises(UsageError, match="is not an asset name") as raised:
        parse_unsubscribe(["b-t-c"])
    assert raised.value.example == "/unsubscribe BTC"


def test_window() -> None:
    assert parse_window([], WINDOWS, 86400) == 86400
    assert parse_window(["1h"], WINDOWS, 86400) == 3600
    assert parse_window(["1d"], WINDOWS, 86400) == 86400
    with pytest.raises(UsageError) as raised:
        parse_window(["2h"], WINDOWS, 86400)
    assert raised.value.reason == "2h is not kept; choose 3m, 15m, 1h, 4h, 24h"
    assert raised.value.example == "/top 24h"
    with pytest.raises(UsageError, match="'soon' is not a window"):
        parse_window(["soon"], WINDOWS, 86400)


def test_latest_and_stats() -> None:
    assert parse_latest([]) == LatestRequest(10, None)
    assert parse_latest(["20", "eth"]) == LatestRequest(20, "ETH")
    assert parse_latest(["sol", "5"]) == LatestRequest(5, "SOL")
    with pytest.raises(UsageError, match="the count must be 1 to 50"):
        parse_latest(["500"])
    with pytest.raises(UsageError, match="give one asset"):
        parse_latest(["BTC", "ETH"])
    assert parse_stats([]) is None
    assert parse_stats(["btcusdt"]) == "BTC"
    with pytest.raises(UsageError, match="give one asset"):
        parse_stats(["BTC", "ETH"])


@pytest.mark.parametrize(
    ("args", "request_"),
    [
        (["off"], ScheduleRequest()),
        (["every", "15m"], ScheduleRequest(every_s=900)),
        (["Every", "1H"], ScheduleRequest(every_s=3600)),
        (["every", "4h"], ScheduleRequest(every_s=14400)),
        (["hourly"], ScheduleRequest(every_s=3600)),
        (["daily", "08:30"], ScheduleRequest(daily_minute=510)),
        (["daily", "0:05"], ScheduleRequest(daily_minute=5)),
        (["daily"], ScheduleRequest(daily_minute=0)),
    ],
)
def test_schedule(args: list[str], request_: ScheduleRequest) -> None:
    assert parse_schedule(args) == request_


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ([], "use every 15m, every 1h, every 4h, daily HH:MM or off"),
        (["every", "2h"], "summaries run every 15m, 1h or 4h, or daily at HH:MM"),
        (["every", "x"], "summaries run every 15m, 1h or 4h, or daily at HH:MM"),
        (["daily", "24:00"], "'24:00' is not a time like 08:00"),
        (["daily", "8"], "'8' is not a time like 08:00"),
        (["weekly"], "use every 15m, every 1h, every 4h, daily HH:MM or off"),
    ],
)
def test_schedule_mistakes(args: list[str], reason: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_schedule(args)
    assert raised.value.reason == reason
