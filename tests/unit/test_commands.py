"""Command arguments: every accepted form, and a reason plus example for every mistake."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.handlers.arguments import (
    CascadeRequest,
    SubscribeRequest,
    UnsubscribeRequest,
    normalize_asset,
    parse_cascade,
    parse_lang,
    parse_quiet,
    parse_size,
    parse_subscribe,
    parse_tz,
    parse_unsubscribe,
)
from bot.handlers.market_args import (
    LatestRequest,
    StatsRequest,
    parse_chart,
    parse_latest,
    parse_stats,
    parse_window,
)
from bot.prefs.chats import QuietHours
from bot.prefs.schedules import Schedule, ScheduleRequest, parse_schedule
from bot.texts.usage import UsageError
from collectors.record import Side

WINDOWS = (180, 900, 3600, 14400, 86400)
EVERY_REASON = (
    "summaries run every 15m, 1h or 4h, every N days (e.g. 7d) up to the history kept, "
    "or daily at HH:MM"
)


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


def test_window_in_days_up_to_the_history_kept() -> None:
    ninety = 90 * 86400
    assert parse_window(["7d"], WINDOWS, 86400, ninety) == 7 * 86400
    assert parse_window(["90D"], WINDOWS, 86400, ninety) == ninety
    for word in ("91d", "36h", "1w"):
        with pytest.raises(UsageError) as raised:
            parse_window([word], WINDOWS, 86400, ninety)
        if word != "1w":
            assert raised.value.reason == f"{word} is not kept; choose 3m, 15m, 1h, 4h, 24h, 2d-90d"


def test_latest_and_stats() -> None:
    assert parse_latest([]) == LatestRequest(10, None)
    assert parse_latest(["20", "eth"]) == LatestRequest(20, "ETH")
    assert parse_latest(["sol", "5"]) == LatestRequest(5, "SOL")
    with pytest.raises(UsageError, match="the count must be 1 to 50"):
        parse_latest(["500"])
    with pytest.raises(UsageError, match="give one asset"):
        parse_latest(["BTC", "ETH"])
    assert parse_stats([]) == StatsRequest(None)
    assert parse_stats(["btcusdt"]) == StatsRequest("BTC")
    with pytest.raises(UsageError, match="give one asset"):
        parse_stats(["BTC", "ETH"])


def test_stats_period() -> None:
    ninety = 90 * 86400
    assert parse_stats(["7d"], WINDOWS, ninety) == StatsRequest(None, 7 * 86400)
    assert parse_stats(["eth", "30d"], WINDOWS, ninety) == StatsRequest("ETH", 30 * 86400)
    assert parse_stats(["4h", "SOLUSDT"], WINDOWS, ninety) == StatsRequest("SOL", 14400)
    with pytest.raises(UsageError) as raised:
        parse_stats(["BTC", "120d"], WINDOWS, ninety)
    assert (raised.value.reason, raised.value.example) == (
        "120d is not kept; choose 3m, 15m, 1h, 4h, 24h, 2d-90d",
        "/stats BTC 7d",
    )
    with pytest.raises(UsageError) as raised:
        parse_stats(["7d", "30d"], WINDOWS, ninety)
    assert raised.value.reason == "give one asset (or none for the whole market)"
    with pytest.raises(UsageError) as raised:
        parse_stats(["2d"], WINDOWS, 86400)  # no history kept beyond memory
    assert raised.value.reason == "2d is not kept; choose 3m, 15m, 1h, 4h, 24h"


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


def test_schedule_in_days_up_to_the_history_kept() -> None:
    ninety = 90 * 86400
    assert parse_schedule(["every", "7d"], ninety) == ScheduleRequest(7 * 86400, 0)
    assert parse_schedule(["every", "30D", "08:30"], ninety) == ScheduleRequest(30 * 86400, 510)
    assert parse_schedule(["every", "1d", "08:30"]) == ScheduleRequest(daily_minute=510)
    assert parse_schedule(["every", "24h"]) == ScheduleRequest(daily_minute=0)
    with pytest.raises(UsageError) as raised:
        parse_schedule(["every", "91d"], ninety)
    assert raised.value.reason.startswith("summaries run every 15m, 1h or 4h, every N days")
    with pytest.raises(UsageError) as raised:
        parse_schedule(["every", "7d", "8"], ninety)
    assert (raised.value.reason, raised.value.example) == (
        "'8' is not a time like 08:00",
        "/summary every 7d 08:00",
    )
    with pytest.raises(UsageError) as raised:
        parse_schedule(["every", "1h", "08:00"], ninety)  # a time only with days
    assert raised.value.reason.startswith("use every 15m")


def test_every_n_days_falls_on_the_same_days_counted_from_a_monday() -> None:
    weekly = Schedule(1, every_s=7 * 86400, daily_minute=480)
    mondays = [d for d in range(1, 32) if weekly.runs_on(dt.date(2026, 12, d))]
    assert mondays == [7, 14, 21, 28]
    assert all(dt.date(2026, 12, d).weekday() == 0 for d in mondays)
    fortnightly = Schedule(1, every_s=14 * 86400)
    # 2026-12-07 is 20,790 days (1,485 fortnights) after 1970-01-05.
    assert [d for d in range(1, 32) if fortnightly.runs_on(dt.date(2026, 12, d))] == [7, 21]
    assert Schedule(1, daily_minute=0).runs_on(dt.date(2026, 12, 6))
    assert Schedule(1, every_s=3600).runs_on(dt.date(2026, 12, 6))


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ([], "use every 15m, every 1h, every 4h, every 7d HH:MM, daily HH:MM or off"),
        (["every", "2h"], EVERY_REASON),
        (["every", "x"], EVERY_REASON),
        (["every", "2d"], EVERY_REASON),  # no history kept beyond memory
        (["daily", "24:00"], "'24:00' is not a time like 08:00"),
        (["daily", "8"], "'8' is not a time like 08:00"),
        (["weekly"], "use every 15m, every 1h, every 4h, every 7d HH:MM, daily HH:MM or off"),
    ],
)
def test_schedule_mistakes(args: list[str], reason: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_schedule(args)
    assert raised.value.reason == reason


@pytest.mark.parametrize(("args", "lang"), [(["en"], "en"), (["ZH"], "zh"), (["auto"], None)])
def test_lang(args: list[str], lang: str | None) -> None:
    assert parse_lang(args, ["en", "zh"]) == lang


@pytest.mark.parametrize("args", [[], ["de"], ["en", "zh"]])
def test_lang_refuses(args: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        parse_lang(args, ["en", "zh"])
    assert (caught.value.reason, caught.value.example) == (
        "choose a language: en|zh|auto",
        "/lang en",
    )


def test_tz() -> None:
    assert parse_tz(["europe/berlin"]) == "Europe/Berlin"
    assert parse_tz(["UTC"]) == "UTC"
    with pytest.raises(UsageError) as caught:
        parse_tz(["Europe/Atlantis"])
    assert caught.value.reason == (
        "'Europe/Atlantis' is not a time zone; use Area/City like Europe/Berlin"
    )
    with pytest.raises(UsageError) as caught:
        parse_tz([])
    assert caught.value.reason == "name one time zone as Area/City, or UTC"


@pytest.mark.parametrize(
    ("args", "quiet"),
    [
        (["23:00-07:00"], QuietHours(1380, 420)),
        (["23-7"], QuietHours(1380, 420)),
        (["22:30", "06:15"], QuietHours(1350, 375)),
        (["01:00-05:00"], QuietHours(60, 300)),
        (["OFF"], None),
    ],
)
def test_quiet(args: list[str], quiet: QuietHours | None) -> None:
    assert parse_quiet(args) == quiet


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ([], "write quiet hours as HH:MM-HH:MM in this chat's time zone, or off"),
        (["24:00-07:00"], "write quiet hours as HH:MM-HH:MM in this chat's time zone, or off"),
        (["23:60-07:00"], "write quiet hours as HH:MM-HH:MM in this chat's time zone, or off"),
        (["tonight"], "write quiet hours as HH:MM-HH:MM in this chat's time zone, or off"),
        (["07:00-07:00"], "quiet hours must start and end at different times"),
    ],
)
def test_quiet_refuses(args: list[str], reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_quiet(args)
    assert (caught.value.reason, caught.value.example) == (reason, "/quiet 23:00-07:00")


def test_unsubscribe_tells_cascade_ids_from_assets() -> None:
    assert parse_unsubscribe(["#C3", "#12", "7", "c1"]) == UnsubscribeRequest(
        False, frozenset({"C1"}), frozenset({12, 7}), frozenset({3})
    )


@pytest.mark.parametrize(
    ("args", "request_"),
    [
        (["BTC", "5m", "2m"], CascadeRequest("BTC", 120, min_usd=5_000_000.0)),
        (["all", "10x", "5m"], CascadeRequest(None, 300, multiple=10.0)),
        (["ethusdt", "2.5X", "30s"], CascadeRequest("ETH", 30, multiple=2.5)),
        (["sol", "$750k", "1h"], CascadeRequest("SOL", 3600, min_usd=750_000.0)),
        (["Off"], None),
    ],
)
def test_cascade(args: list[str], request_: CascadeRequest | None) -> None:
    assert parse_cascade(args) == request_


@pytest.mark.parametrize(
    ("args", "reason", "example"),
    [
        (
            [],
            "give an asset (or all), a size like 5m or a multiple like 10x, and a window",
            "/cascade BTC 5m 2m",
        ),
        (
            ["BTC", "5m"],
            "give an asset (or all), a size like 5m or a multiple like 10x, and a window",
            "/cascade BTC 5m 2m",
        ),
        (["BTC", "5m", "soon"], "'soon' is not a window like 30s, 2m or 1h", "/cascade BTC 5m 2m"),
        (["BTC", "5m", "10s"], "a cascade window is 30s to 1h", "/cascade BTC 5m 2m"),
        (["BTC", "5m", "2h"], "a cascade window is 30s to 1h", "/cascade BTC 5m 2m"),
        (
            ["all", "1.5x", "5m"],
            "a multiple is 2x to 1000x the usual volume",
            "/cascade all 10x 5m",
        ),
        (
            ["all", "5000x", "5m"],
            "a multiple is 2x to 1000x the usual volume",
            "/cascade all 10x 5m",
        ),
        (
            ["BTC", "lots", "2m"],
            "'lots' is not a size like 5m or a multiple like 10x",
            "/cascade BTC 5m 2m",
        ),
        (["BTC", "10k", "2m"], "a cascade is at least $50K", "/cascade BTC 5m 2m"),
        (
            ["<b>", "5m", "2m"],
            "'<b>' is not an asset name (letters and digits only)",
            "/cascade BTC 5m 2m",
        ),
    ],
)
def test_cascade_refuses(args: list[str], reason: str, example: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_cascade(args)
    assert (caught.value.reason, caught.value.example) == (reason, example)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (None, 86_400)),
        (["btc"], ("BTC", 86_400)),
        (["4h"], (None, 14_400)),
        (["4h", "1000PEPEUSDT"], ("PEPE", 14_400)),
        (["ETHUSDT", "15m"], ("ETH", 900)),
        (["all", "1m"], (None, 60)),
        (["24h", "ALL"], (None, 86_400)),
        (["1d"], (None, 86_400)),
    ],
)
def test_chart(args: list[str], expected: tuple[str | None, int]) -> None:
    assert parse_chart(args) == expected


def test_chart_in_days_up_to_the_history_kept() -> None:
    ninety = 90 * 86400
    assert parse_chart(["BTC", "30d"], ninety) == ("BTC", 30 * 86400)
    assert parse_chart(["90d"], ninety) == (None, ninety)
    assert parse_chart(["4h"], ninety) == (None, 14400)
    for word in ("91d", "36h"):
        with pytest.raises(UsageError) as raised:
            parse_chart([word], ninety)
        assert (raised.value.reason, raised.value.example) == (
            "a chart covers 1m to 24h, or whole days up to 90d",
            "/chart BTC 7d",
        )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["BTC", "ETH"], "give at most one asset and one window"),
        (["1h", "4h"], "give at most one asset and one window"),
        (["BTC", "1h", "x"], "give at most one asset and one window"),
        (["all", "BTC"], "give at most one asset and one window"),
        (["30s"], "a chart covers 1m to 24h"),
        (["2d"], "a chart covers 1m to 24h"),
        (["<b>"], "'<b>' is not an asset name (letters and digits only)"),
    ],
)
def test_chart_refuses(args: list[str], reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_chart(args)
    assert (caught.value.reason, caught.value.example) == (reason, "/chart BTC 4h")
