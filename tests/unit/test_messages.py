"""Telegram messages: exact renderings, escaping, the 4096 limit, plain text and splitting."""

from __future__ import annotations

import ast
import dataclasses
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregation.coverage import FeedCoverage, Gap
from aggregation.query import (
    EMPTY,
    ExchangeTotals,
    Leaderboard,
    PeriodSummary,
    RankedAsset,
    Series,
    SideTotals,
    WindowTotals,
)
from bot.handlers import registry
from bot.handlers.registry import commands
from bot.prefs.schedules import Schedule
from bot.render.alerts import alert, digest, dropped_notice
from bot.render.chat import (
    help_text,
    not_admin,
    rule_added,
    rules_list,
    rules_removed,
    schedule_set,
    start_text,
    usage_error,
    usage_key,
)
from bot.render.html import MAX_CAPTION_LENGTH, fit, plain_text, split_message
from bot.render.market import chart_caption, latest, stats, summary, top
from bot.render.status import status
from bot.rules.matching import Rule
from bot.texts.catalog import CATALOG, Html
from bot.texts.formatting import format_usd
from bot.texts.usage import UsageError
from collectors.record import Coverage, Liquidation, Side
from tests.support.telegram_text import EntityParseError, parse_html, utf16_len

ROOT = Path(__file__).resolve().parents[2]
NOTE = (
    "<i>ℹ️ Binance totals are a lower bound: it reports at most one liquidation per symbol per "
    "second. OKX reports only part of its liquidations. Bybit reports all of them.</i>"
)
HOSTILE = '<b>&"x'
HOSTILE_HTML = '&lt;b&gt;&amp;"x'

T = 1_791_565_602_120  # 2026-10-09 17:06:42.120 UTC
HOUR = 3_600_000
DAY = 86_400_000
BTC_LONG = Liquidation(
    "binance", "usdm", "BTCUSDT", "BTC", Side.LONG, 82651.9, 14.937, 1_234_567.0, T, T + 40
)
ETH_SHORT = Liquidation(
    "okx", "swap", "ETH-USDT-SWAP", "ETH", Side.SHORT, 2512.3, 100.0, 251_230.0, T + 19_000, 0
)
SOL_LONG = Liquidation(
    "bybit", "linear", "SOLUSDT", "SOL", Side.LONG, 142.57, 350.0, 49_899.5, T + 45_000, 0
)

# okx was down 1h48m of the last 24h: a 5-minute gap filled from its history, then 1h43m
# until now; bybit missed under a second (counted, not listed); binance was up throughout.
OKX_DOWN = FeedCoverage(
    "okx",
    "okx",
    Coverage.PARTIAL,
    0.925,
    6_480_000,
    (Gap(T - 50_000_000, T - 49_700_000, True), Gap(T - 6_180_000, T, False)),
    connected=False,
)
BYBIT_BLIP = FeedCoverage("bybit-linear", "bybit", Coverage.COMPLETE, 0.99999, 864, (), True)
BINANCE_UP = FeedCoverage("binance-usdm", "binance", Coverage.THROTTLED, 1.0, 0, (), True)
COVERAGE = (BINANCE_UP, OKX_DOWN, BYBIT_BLIP)


def check(message: str) -> str:
    """Assert the message is what Telegram accepts and plain_text agrees; return its text."""
    plain, entities = parse_html(message, strict_ampersand=True)
    assert plain.strip()
    assert utf16_len(plain) <= 4096
    assert len(entities) <= 100  # Telegram keeps no more than 100 entities per message
    assert plain_text(message) == plain
    return plain


def event(
    asset: str,
    usd: float,
    side: Side = Side.LONG,
    ts_ms: int = T,
    exchange: str = "bybit",
    market: str = "linear",
) -> Liquidation:
    return Liquidation(exchange, market, f"{asset}USDT", asset, side, 1.5, usd / 1.5, usd, ts_ms, 0)


# --- alerts -----------------------------------------------------------------------------------


def test_alert_for_a_long_is_red() -> None:
    assert check(alert(BTC_LONG)) == (
        "🔴 BTC long liquidated: $1.23M\n"
        "binance usdm · BTCUSDT · price 82,651.90\n"
        "2026-10-09 17:06:42 UTC"
    )
    assert alert(BTC_LONG) == (
        "🔴 <b>BTC</b> long liquidated: <b>$1.23M</b>\n"
        "binance usdm · <code>BTCUSDT</code> · price 82,651.90\n"
        "2026-10-09 17:06:42 UTC"
    )


def test_alert_for_a_short_is_green() -> None:
    assert alert(ETH_SHORT) == (
        "🟢 <b>ETH</b> short liquidated: <b>$251.23K</b>\n"
        "okx swap · <code>ETH-USDT-SWAP</code> · price 2,512.30\n"
        "2026-10-09 17:07:01 UTC"
    )


def test_alert_escapes_every_value_and_keeps_to_its_lines() -> None:
    hostile = Liquidation(
        HOSTILE, "a&b", "</code>\n<i>", HOSTILE, Side.LONG, 0.00001234, 1.0, 0.5, T, 0
    )
    assert alert(hostile) == (
        f"🔴 <b>{HOSTILE_HTML}</b> long liquidated: <b>$0</b>\n"
        f"{HOSTILE_HTML} a&amp;b · <code>&lt;/code&gt;?&lt;i&gt;</code> · price 0.00001234\n"
        "2026-10-09 17:06:42 UTC"
    )
    assert check(alert(hostile)).count("\n") == 2


def test_dropped_notice() -> None:
    assert dropped_notice(0, 0) == ""
    assert dropped_notice(1, 0) == ("⚠️ 1 alert was not sent: this chat's alert queue was full.")
    assert dropped_notice(0, 1) == ("⚠️ 1 alert may not have arrived: Telegram did not confirm it.")
    assert dropped_notice(1_200, 3) == (
        "⚠️ 1,200 alerts were not sent: this chat's alert queue was full. "
        "3 alerts may not have arrived: Telegram did not confirm them."
    )
    assert "\n" not in check(dropped_notice(5, 5))


# --- digest -------------------------------------------------------------------------------


def test_digest_merges_alerts_largest_first() -> None:
    message = digest([SOL_LONG, BTC_LONG, ETH_SHORT], dropped=7, uncertain=2)
    assert message == (
        "⚠️ 7 alerts were not sent: this chat's alert queue was full. "
        "2 alerts may not have arrived: Telegram did not confirm them.\n"
        "⚡ <b>3 liquidation alerts</b>\n"
        "🔴 Longs $1.28M (2) · 🟢 Shorts $251.23K (1)\n"
        "2026-10-09 17:06:42 UTC – 17:07:27 UTC\n"
        "Largest first:\n"
        "🔴 BTC long $1.23M at 82,651.90 · binance usdm · 17:06:42 UTC\n"
        "🟢 ETH short $251.23K at 2,512.30 · okx swap · 17:07:01 UTC\n"
        "🔴 SOL long $49.90K at 142.57 · bybit linear · 17:07:27 UTC"
    )
    check(message)


def test_digest_of_one_alert_and_without_losses() -> None:
    assert digest([ETH_SHORT]) == (
        "⚡ <b>1 liquidation alert</b>\n"
        "🔴 Longs $0 (0) · 🟢 Shorts $251.23K (1)\n"
        "2026-10-09 17:07:01 UTC\n"
        "Largest first:\n"
        "🟢 ETH short $251.23K at 2,512.30 · okx swap · 17:07:01 UTC"
    )


def test_digest_without_alerts_is_only_the_notice() -> None:
    assert digest([], dropped=2) == dropped_notice(2, 0)
    assert digest([]) == ""


def test_digest_lists_25_and_sums_the_rest() -> None:
    records = [event(f"A{i}", 1_000.0 * i, ts_ms=T + i * 1000) for i in range(1, 41)]
    plain = check(digest(records))
    lines = plain.split("\n")
    assert lines[0] == "⚡ 40 liquidation alerts"
    assert lines[1] == "🔴 Longs $820.00K (40) · 🟢 Shorts $0 (0)"
    assert lines[4] == "🔴 A40 long $40.00K at 1.500 · bybit linear · 17:07:22 UTC"
    assert lines[28] == "🔴 A16 long $16.00K at 1.500 · bybit linear · 17:06:58 UTC"
    assert lines[29:] == ["…and 15 more ($120.00K)"]  # 1K + ... + 15K


def test_digest_across_midnight_dates_each_line() -> None:
    before = event("BTC", 200_000.0, ts_ms=1_791_590_399_000)  # 23:59:59
    after = event("ETH", 100_000.0, Side.SHORT, ts_ms=1_791_590_401_000)  # 00:00:01
    assert check(digest([after, before])).split("\n")[2:] == [
        "2026-10-09 23:59:59 UTC – 2026-10-10 00:00:01 UTC",
        "Largest first:",
        "🔴 BTC long $200.00K at 1.500 · bybit linear · 2026-10-09 23:59:59 UTC",
        "🟢 ETH short $100.00K at 1.500 · bybit linear · 2026-10-10 00:00:01 UTC",
    ]


def test_digest_of_100_000_alerts_fits_one_message() -> None:
    records = [
        event(f"C{i % 700}", float(i % 9_973) * 10 + 1, Side.LONG if i % 3 else Side.SHORT, T + i)
        for i in range(100_000)
    ]
    message = digest(records, dropped=123_456, uncertain=1)
    plain = check(message)
    lines = plain.split("\n")
    longs = [r.notional_usd for r in records if r.side is Side.LONG]
    shorts = [r.notional_usd for r in records if r.side is Side.SHORT]
    assert lines[1] == "⚡ 100,000 liquidation alerts"
    assert lines[2] == (
        f"🔴 Longs {format_usd(sum(longs))} ({len(longs):,}) · "
        f"🟢 Shorts {format_usd(sum(shorts))} ({len(shorts):,})"
    )
    assert len(lines) == 1 + 4 + 25 + 1
    largest = sorted((r.notional_usd for r in records), reverse=True)[:25]
    assert [line.split(" ")[3] for line in lines[5:30]] == [format_usd(u) for u in largest]
    assert largest[0] == largest[9] == 99_721  # ten times the largest size: ties are fine
    rest = sum(longs) + sum(shorts) - sum(largest)
    assert lines[-1] == f"…and 99,975 more ({format_usd(rest)})"


def test_digest_escapes_hostile_names() -> None:
    message = digest([event(HOSTILE, 5e5, exchange=HOSTILE, market="&")])
    assert f"🔴 {HOSTILE_HTML} long $500.00K at 1.500 · {HOSTILE_HTML} &amp; ·" in message
    assert HOSTILE in check(message)


# --- /stats -------------------------------------------------------------------------------


def windows() -> list[WindowTotals]:
    by_exchange = (
        ExchangeTotals("binance", SideTotals(30_020_000.0, 18_190_000.0, 9_000, 5_000)),
        ExchangeTotals("okx", SideTotals(1_000_000.0, 200_000.0, 800, 400)),
    )
    return [
        WindowTotals(180, T, EMPTY, ()),
        WindowTotals(900, T, SideTotals(98_100.0, 22_300.0, 12, 4), ()),
        WindowTotals(3_600, T, SideTotals(512_000.0, 1_100_000.0, 140, 98), ()),
        WindowTotals(86_400, T, SideTotals(31_020_000.0, 18_390_000.0, 9_800, 5_400), by_exchange),
    ]


def test_stats_with_an_outage_and_a_backfilled_gap() -> None:
    message = stats(None, windows(), COVERAGE)
    assert message == (
        "📊 <b>Liquidations, all assets</b>\n"
        "Windows ending 2026-10-09 17:06:42 UTC\n"
        "<pre>USD         long    short    total\n"
        "3m      no liquidations\n"
        "15m      $98.10K  $22.30K $120.40K\n"
        "1h      $512.00K   $1.10M   $1.61M\n"
        "24h      $31.02M  $18.39M  $49.41M\n"
        "\n"
        "events      long    short    total\n"
        "3m             0        0        0\n"
        "15m           12        4       16\n"
        "1h           140       98      238\n"
        "24h        9,800    5,400   15,200</pre>\n"
        "<b>By exchange, last 24h</b>\n"
        "<pre>USD         long    short    total\n"
        "binance  $30.02M  $18.19M  $48.21M\n"
        "okx       $1.00M $200.00K   $1.20M</pre>\n"
        "⚠️ okx feed was up 92.5% of the last 24h and is down now\n"
        "   gap from 2026-10-09 03:13:22 UTC, 5m00s, backfilled from the exchange\n"
        "   gap from 2026-10-09 15:23:42 UTC, 1h43m, not backfilled\n"
        "⚠️ bybit-linear feed was up 99.9% of the last 24h\n" + NOTE
    )
    plain = check(message)
    assert max(len(line) for line in plain.split("\n")[2:14]) <= 34  # narrow for phones


def test_stats_of_a_quiet_asset_reads_well() -> None:
    quiet = [WindowTotals(180, T, EMPTY, ()), WindowTotals(86_400, T, EMPTY, ())]
    assert stats("BTC", quiet, (BINANCE_UP,)) == (
        "📊 <b>Liquidations, BTC</b>\n"
        "Windows ending 2026-10-09 17:06:42 UTC\n"
        "No liquidations in the last 24h.\n" + NOTE
    )


def test_stats_lists_the_newest_three_gaps_and_counts_the_rest() -> None:
    gaps = tuple(
        Gap(T - (10 - i) * HOUR, T - (10 - i) * HOUR + 60_000, i % 2 == 0) for i in range(6)
    )
    flaky = FeedCoverage("okx", "okx", Coverage.PARTIAL, 0.9958, 360_000, gaps, True)
    plain = check(stats("ETH", windows(), (flaky,)))
    assert plain.split("\n")[-6:-1] == [
        "⚠️ okx feed was up 99.5% of the last 24h",
        "   +3 earlier gaps",
        "   gap from 2026-10-09 10:06:42 UTC, 1m00s, not backfilled",
        "   gap from 2026-10-09 11:06:42 UTC, 1m00s, backfilled from the exchange",
        "   gap from 2026-10-09 12:06:42 UTC, 1m00s, not backfilled",
    ]


def test_stats_without_windows() -> None:
    assert stats(None, [], ()) == (
        "📊 <b>Liquidations, all assets</b>\nNo windows are configured.\n" + NOTE
    )


# --- /top ---------------------------------------------------------------------------------


def test_top() -> None:
    board = Leaderboard(
        3_600,
        T,
        (RankedAsset("BTC", 1_230_000.0, 12), RankedAsset("FARTCOIN", 540_000.0, 1_208)),
        (),
    )
    message = top(board, (BINANCE_UP, BYBIT_BLIP))
    assert message == (
        "🏆 <b>Most liquidated assets, last 1h</b>\n"
        "As of 2026-10-09 17:06:42 UTC\n"
        "🔴 <b>Longs liquidated</b>\n"
        "<pre> # asset           USD  events\n"
        " 1 BTC          $1.23M      12\n"
        " 2 FARTCOIN   $540.00K   1,208</pre>\n"
        "🟢 <b>Shorts liquidated</b>\n"
        "no liquidations\n"
        "⚠️ bybit-linear feed was up 99.9% of the last 1h\n" + NOTE
    )
    check(message)


def test_top_with_a_long_board_fits() -> None:
    ranked = tuple(RankedAsset(f"{HOSTILE}{i}" * 9, 1e6 - i, i) for i in range(300))
    plain = check(top(Leaderboard(86_400, T, ranked, ranked), COVERAGE))
    assert plain.endswith(plain_text(NOTE))
    assert f"\n 1 {HOSTILE}0<b>&…   $1.00M       0\n" in plain  # names clipped to 12


# --- /latest ------------------------------------------------------------------------------


def test_latest_newest_first_with_the_floor() -> None:
    message = latest([BTC_LONG, SOL_LONG, ETH_SHORT], asset=None, min_usd=25_000)
    assert message == (
        "🕒 <b>Latest liquidations, all assets</b> (at least $25K)\n"
        "🔴 SOL long $49.90K at 142.57 · bybit linear · 17:07:27 UTC\n"
        "🟢 ETH short $251.23K at 2,512.30 · okx swap · 17:07:01 UTC\n"
        "🔴 BTC long $1.23M at 82,651.90 · binance usdm · 17:06:42 UTC"
    )
    check(message)


def test_latest_without_events() -> None:
    assert latest([], asset="SOL", min_usd=0) == (
        "🕒 <b>Latest liquidations, SOL</b> (any size)\nNo liquidations found."
    )
    assert latest([], asset=HOSTILE, min_usd=1_234_567) == (
        f"🕒 <b>Latest liquidations, {HOSTILE_HTML}</b> (at least $1,234,567)\n"
        "No liquidations found."
    )


def test_latest_keeps_to_one_message() -> None:
    records = [event("BTC", 1e5 + i, ts_ms=T - i * 1000) for i in range(5_000)]
    lines = check(latest(records, asset="BTC", min_usd=100_000)).split("\n")
    assert lines[1].endswith("17:06:42 UTC")  # newest first
    shown = len(lines) - 2
    assert lines[-1] == f"…and {5_000 - shown:,} more"
    assert shown > 60


# --- scheduled summary --------------------------------------------------------------------


PERIOD_START = 1_791_561_600_000  # 2026-10-09 16:00:00 UTC


def period(**changes: Any) -> PeriodSummary:
    largest = msgspec.structs.replace(BTC_LONG, ts_ms=PERIOD_START + 2_521_000)
    base = PeriodSummary(
        start_ms=PERIOD_START,
        end_ms=PERIOD_START + HOUR,
        totals=SideTotals(3_210_000.0, 1_100_000.0, 142, 56),
        exchanges=(
            ExchangeTotals("binance", SideTotals(2_000_000.0, 600_000.0, 90, 30)),
            ExchangeTotals("bybit", SideTotals(1_000_000.0, 400_000.0, 40, 20)),
            ExchangeTotals("okx", SideTotals(210_000.0, 100_000.0, 12, 6)),
        ),
        longs=tuple(RankedAsset(a, 1e6 / (i + 1), 10 - i) for i, a in enumerate("ABCDEFG")),
        shorts=(RankedAsset("ETH", 800_000.0, 30),),
        largest=largest,
        coverage=(
            BINANCE_UP,
            FeedCoverage(
                "okx",
                "okx",
                Coverage.PARTIAL,
                0.75,
                900_000,
                (Gap(PERIOD_START + 600_000, PERIOD_START + 1_500_000, True),),
                True,
            ),
        ),
    )
    return dataclasses.replace(base, **changes)


def test_summary() -> None:
    message = summary(period(), label="last hour")
    assert message == (
        "🧾 <b>Liquidation summary, last hour</b>\n"
        "2026-10-09 16:00:00 UTC – 17:00:00 UTC\n"
        "🔴 Longs $3.21M (142) · 🟢 Shorts $1.10M (56)\n"
        "Total $4.31M (198)\n"
        "<b>By exchange</b>\n"
        "<pre>USD         long    short    total\n"
        "binance   $2.00M $600.00K   $2.60M\n"
        "bybit     $1.00M $400.00K   $1.40M\n"
        "okx     $210.00K $100.00K $310.00K</pre>\n"
        "🔴 <b>Top longs liquidated</b>\n"
        "<pre> # asset           USD  events\n"
        " 1 A            $1.00M      10\n"
        " 2 B          $500.00K       9\n"
        " 3 C          $333.33K       8\n"
        " 4 D          $250.00K       7\n"
        " 5 E          $200.00K       6</pre>\n"
        "🟢 <b>Top shorts liquidated</b>\n"
        "<pre> # asset           USD  events\n"
        " 1 ETH        $800.00K      30</pre>\n"
        "💥 <b>Largest</b>: 🔴 BTC long $1.23M at 82,651.90 · binance usdm · 16:42:01 UTC\n"
        "⚠️ okx feed was up 75.0% of the period\n"
        "   gap from 2026-10-09 16:10:00 UTC, 15m00s, backfilled from the exchange\n" + NOTE
    )
    check(message)


def test_summary_of_a_quiet_day_with_a_feed_down_at_its_end() -> None:
    down = FeedCoverage(
        "binance-usdm",
        "binance",
        Coverage.THROTTLED,
        0.5,
        DAY // 2,
        (Gap(PERIOD_START - DAY // 2, PERIOD_START, False),),
        False,
    )
    quiet = period(
        start_ms=PERIOD_START - DAY,
        end_ms=PERIOD_START,
        totals=EMPTY,
        exchanges=(),
        longs=(),
        shorts=(),
        largest=None,
        coverage=(down,),
    )
    assert summary(quiet, label="last 24 h") == (
        "🧾 <b>Liquidation summary, last 24 h</b>\n"
        "2026-10-08 16:00:00 UTC – 2026-10-09 16:00:00 UTC\n"
        "No liquidations in this period.\n"
        "⚠️ binance-usdm feed was up 50.0% of the period and down when it ended\n"
        "   gap from 2026-10-09 04:00:00 UTC, 12h00m, not backfilled\n" + NOTE
    )


def test_summary_with_long_lists_is_truncated_never_split() -> None:
    names = [f"{HOSTILE}{i:04d}" * 5 for i in range(400)]
    feeds = tuple(
        FeedCoverage(
            name,
            "okx",
            Coverage.PARTIAL,
            0.5,
            1,
            tuple(Gap(T + g * 2_000, T + g * 2_000 + 1_000, g % 2 == 0) for g in range(50)),
            False,
        )
        for name in names
    )
    ranked = tuple(RankedAsset(name, 1e6, 1) for name in names)
    huge = period(
        exchanges=tuple(ExchangeTotals(name, SideTotals(1.0, 2.0, 1, 1)) for name in names),
        longs=ranked,
        shorts=ranked,
        largest=event(HOSTILE * 100, 1e9, exchange=HOSTILE * 50, market=HOSTILE * 50),
        coverage=feeds,
    )
    message = summary(huge, label=HOSTILE * 100)
    plain = check(message)
    assert HOSTILE_HTML in message
    assert plain.startswith('🧾 Liquidation summary, <b>&"x<b>&"x')
    assert '💥 Largest: 🔴 <b>&"x' in plain
    assert plain.endswith(plain_text(NOTE))
    assert len(plain) > 3_000  # it kept what fits instead of dropping everything


# --- rules and schedules ------------------------------------------------------------------


RULES = [
    Rule(12, -100, frozenset({"ETH", "BTC"}), 250_000.0, Side.SHORT, frozenset({"okx"})),
    Rule(13, -100, frozenset(), 100_000.0),
    Rule(14, -100, frozenset({"SOL"}), 1_234_567.0, Side.LONG, frozenset({"bybit", "binance"})),
    Rule(15, -100, frozenset({"PEPE"}), 1_500_000.0),
]


def test_rules_list() -> None:
    message = rules_list(RULES, Schedule(-100, every_s=900))
    assert message == (
        "🔔 <b>Alert rules in this chat</b>\n"
        "#12 BTC, ETH ≥ $250K, shorts only, okx\n"
        "#13 every asset ≥ $100K, both sides, all exchanges\n"
        "#14 SOL ≥ $1,234,567, longs only, binance, bybit\n"
        "#15 PEPE ≥ $1.5M, both sides, all exchanges\n"
        "🧾 Summary: every 15m\n"
        "Change them with /subscribe, /unsubscribe and /summary; /help shows examples."
    )
    check(message)


def test_rules_list_without_rules_or_schedule() -> None:
    assert rules_list([], None) == (
        "🔔 <b>Alert rules in this chat</b>\n"
        "No alert rules yet.\n"
        "🧾 Summary: none\n"
        "Change them with /subscribe, /unsubscribe and /summary; /help shows examples."
    )


@pytest.mark.parametrize(
    ("schedule", "shown"),
    [
        (Schedule(1, every_s=3_600), "every 1h"),
        (Schedule(1, every_s=14_400), "every 4h"),
        (Schedule(1, daily_minute=480), "daily 08:00 UTC"),
        (Schedule(1, daily_minute=1_439), "daily 23:59 UTC"),
    ],
)
def test_schedules(schedule: Schedule, shown: str) -> None:
    assert rules_list([], schedule).split("\n")[2] == f"🧾 Summary: {shown}"
    assert schedule_set(schedule) == f"🧾 Summaries set: {shown}."


def test_rules_list_with_many_big_rules_fits() -> None:
    assets = frozenset(f"{HOSTILE}{i}" for i in range(300))
    rules = [Rule(i, 1, assets, 1e5, None, frozenset({"okx", HOSTILE})) for i in range(60)]
    plain = check(rules_list(rules, None))
    lines = plain.split("\n")
    assert len(lines) == 1 + 60 + 2  # every rule, each with as many assets as fit
    assert lines[1].startswith('#0 <b>&"x0, <b>&"x1')
    assert all(' more ≥ $100K, both sides, <b>&"x, okx' in line for line in lines[1:61])
    assert lines[-2:] == [
        "🧾 Summary: none",
        "Change them with /subscribe, /unsubscribe and /summary; /help shows examples.",
    ]


def test_rule_added_restates_the_rule() -> None:
    assert rule_added(RULES[0]) == "✅ Rule #12 added: BTC, ETH ≥ $250K, shorts only, okx"
    assert rule_added(Rule(7, 1, frozenset({HOSTILE}), 999.0)) == (
        f"✅ Rule #7 added: {HOSTILE_HTML} ≥ $999, both sides, all exchanges"
    )
    assert rule_added(Rule(8, 1, frozenset(), 10.5)) == (
        "✅ Rule #8 added: every asset ≥ $10.50, both sides, all exchanges"
    )
    assert rule_added(Rule(9, 1, frozenset(), 2e9)) == (
        "✅ Rule #9 added: every asset ≥ $2B, both sides, all exchanges"
    )
    huge = Rule(10, 1, frozenset(f"A{i}" * 20 for i in range(2_000)), 1e6)
    assert check(rule_added(huge)).endswith(" more ≥ $1M, both sides, all exchanges")


def test_rules_removed_and_schedule_off() -> None:
    assert rules_removed(0) == "No rule matched, so nothing was removed."
    assert rules_removed(1) == "🗑 Removed 1 rule."
    assert rules_removed(4) == "🗑 Removed 4 rules."
    assert schedule_set(None) == "🧾 Summaries are off."


# --- errors, help, status, commands -------------------------------------------------------


def test_usage_escapes_reason_and_example() -> None:
    assert usage_key("err_not_time", "/summary daily 08:00", token="'25:00'") == (
        "⚠️ '25:00' is not a time like 08:00\nExample: <code>/summary daily 08:00</code>"
    )
    message = usage_key("err_not_asset", f"/subscribe {HOSTILE}", token=f"{HOSTILE}\n")
    assert message == (
        f"⚠️ {HOSTILE_HTML}? is not an asset name (letters and digits only)\n"
        f"Example: <code>/subscribe {HOSTILE_HTML}</code>"
    )
    check(usage_key("err_not_asset", "y" * 10_000, token="x" * 10_000))


def test_usage_error_renders_the_parse_failure() -> None:
    exc = UsageError("err_count_range", "/latest 20 BTC", most=50)
    assert exc.reason == "the count must be 1 to 50"
    assert usage_error(exc) == ("⚠️ the count must be 1 to 50\nExample: <code>/latest 20 BTC</code>")


def test_not_admin() -> None:
    assert not_admin() == (
        "⛔ Only chat administrators may change this chat's alerts and summary schedule."
    )


def test_help_and_start_explain_every_command() -> None:
    plain = check(help_text())
    for syntax in (
        "/subscribe SYMBOL... [MIN_USD] [long|short] [EXCHANGE...]",
        "/subscribe BTC ETH 250k",
        "/subscribe all 1m",
        "/subscribe SOL 50k short okx",
        "250000, 250k, 1.5m, $2M",
        "default $100K",
        "binance, okx, bybit",
        "/unsubscribe [SYMBOL...|all]",
        "/subs",
        "/stats [SYMBOL] [PERIOD]",
        "/stats BTC 7d",
        "/top [WINDOW]",
        "/top 30d",
        "/latest [N] [SYMBOL]",
        "/chart BTC 30d",
        "/summary every 15m|1h|4h | every Nd HH:MM | daily HH:MM | off",
        "/summary every 7d 08:00",
        "/status",
        "🔴 = a long position was liquidated, 🟢 = a short position was liquidated.",
    ):
        assert syntax in plain, syntax
    assert help_text().endswith(NOTE)
    assert start_text().startswith("👋 <b>Liquidation alerts</b> from Binance, OKX and Bybit")
    assert start_text().endswith(help_text())
    check(start_text())


def test_status_escapes_lines_and_keeps_to_one_message() -> None:
    assert status(["status okx: up 1h02m", "a <b> & c"]) == (
        "🛠 <b>Status</b>\nstatus okx: up 1h02m\na &lt;b&gt; &amp; c"
    )
    lines = check(status([f"line {i} " + "x" * 80 for i in range(500)])).split("\n")
    assert lines[-1] == f"…and {500 - (len(lines) - 2)} more lines"


@pytest.mark.parametrize("lang", sorted(CATALOG))
def test_commands_fit_set_my_commands(lang: str) -> None:
    menu = commands(lang)
    names = [name for name, _ in menu]
    assert names == [
        "start",
        "help",
        "subscribe",
        "unsubscribe",
        "subs",
        "stats",
        "top",
        "latest",
        "chart",
        "cascade",
        "summary",
        "quiet",
        "lang",
        "tz",
    ]
    assert set(names) | {"status"} == set(registry.COMMANDS)  # every entry has a handler
    for name, description in menu:
        assert name.isascii()
        assert name == name.lower()
        assert 1 <= len(name) <= 32
        assert 3 <= len(description) <= 256
        assert html.escape(description, quote=False) == description  # plain text


def test_messages_module_is_pure() -> None:
    allowed = {
        "__future__",
        "collections.abc",
        "dataclasses",
        "datetime",
        "heapq",
        "html",
        "math",
        "re",
        "string",
        "typing",
        "unicodedata",
        "aggregation.coverage",
        "aggregation.query",
        "bot.prefs.chats",
        "bot.prefs.schedules",
        "bot.render.common",
        "bot.render.html",
        "bot.rules.cascade",
        "bot.rules.matching",
        "bot.texts.catalog",
        "bot.texts.durations",
        "bot.texts.en",
        "bot.texts.entries",
        "bot.texts.formatting",
        "bot.texts.usage",
        "bot.texts.zh",
        "collectors.record",
    }
    for module in (
        "render/html",
        "render/common",
        "render/alerts",
        "render/market",
        "render/cascades",
        "render/chat",
        "render/status",
        "texts/catalog",
        "texts/en",
    ):
        tree = ast.parse((ROOT / "bot" / f"{module}.py").read_text())
        imported = {
            name
            for node in ast.walk(tree)
            for name in (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
        }
        assert imported <= allowed, f"bot/{module}.py imports {imported - allowed}"


# --- every message, hostile values --------------------------------------------------------


HOSTILE_EVENT = Liquidation(HOSTILE, HOSTILE, HOSTILE, HOSTILE, Side.SHORT, 1.0, 1.0, 1e6, T, 0)
HOSTILE_FEED = FeedCoverage(
    HOSTILE, HOSTILE, Coverage.PARTIAL, 0.5, 1, (Gap(T, T + 5_000, True),), False
)
HOSTILE_RANKED = (RankedAsset(HOSTILE, 1.0, 1),)
HOSTILE_TOTALS = (ExchangeTotals(HOSTILE, SideTotals(1.0, 1.0, 1, 1)),)
RENDERERS: dict[str, Callable[[], str]] = {
    "alert": lambda: alert(HOSTILE_EVENT),
    "digest": lambda: digest([HOSTILE_EVENT] * 3, dropped=1),
    "stats": lambda: stats(
        HOSTILE, [WindowTotals(60, T, SideTotals(1, 1, 1, 1), HOSTILE_TOTALS)], [HOSTILE_FEED]
    ),
    "top": lambda: top(Leaderboard(60, T, HOSTILE_RANKED, HOSTILE_RANKED), [HOSTILE_FEED]),
    "latest": lambda: latest([HOSTILE_EVENT], asset=HOSTILE, min_usd=1),
    "summary": lambda: summary(
        period(
            exchanges=HOSTILE_TOTALS,
            longs=HOSTILE_RANKED,
            shorts=HOSTILE_RANKED,
            largest=HOSTILE_EVENT,
            coverage=(HOSTILE_FEED,),
        ),
        label=HOSTILE,
    ),
    "rules_list": lambda: rules_list(
        [Rule(1, 1, frozenset({HOSTILE}), 1.0, Side.LONG, frozenset({HOSTILE}))], None
    ),
    "rule_added": lambda: rule_added(Rule(1, 1, frozenset({HOSTILE}), 1.0)),
    "usage": lambda: usage_key("err_not_asset", HOSTILE, token=HOSTILE),
    "status": lambda: status([HOSTILE]),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_hostile_values_come_out_escaped_and_parse(name: str) -> None:
    message = RENDERERS[name]()
    assert HOSTILE_HTML in message
    assert HOSTILE not in message
    assert HOSTILE in check(message)


@pytest.mark.parametrize(
    "message",
    [
        rules_removed(2),
        schedule_set(None),
        not_admin(),
        help_text(),
        start_text(),
        dropped_notice(3, 4),
        stats(None, [], ()),
    ],
)
def test_fixed_messages_parse(message: str) -> None:
    check(message)


def test_stats_with_thousands_of_windows_keeps_what_fits() -> None:
    many = [WindowTotals(60 * i, T, SideTotals(1e6, 1e6, 1, 1), ()) for i in range(1, 2_000)]
    plain = check(stats(None, many, ()))
    assert plain.startswith("📊 Liquidations, all assets\n")
    assert plain.endswith(plain_text(NOTE))


def test_fitting_falls_back_to_the_first_part_when_nothing_fits() -> None:
    # No message reaches this (names are clipped, lists capped); the net must still hold.
    fitted = fit(lambda level: Html("<b>" + "word " * (1_000 + level) + "</b>"), 3)
    assert check(fitted) == ("word " * 1_000)[:4096]  # render(0), cut to the limit


# --- plain text ---------------------------------------------------------------------------


def test_plain_text_strips_tags_and_decodes_as_telegram_does() -> None:
    assert plain_text(alert(BTC_LONG)) == parse_html(alert(BTC_LONG))[0]
    assert plain_text('<a href="https://x.y/?a=1&amp;b=>">l&lt;</a> &amp &copy; &#36;&#x24;') == (
        "l< & &copy; $$"
    )
    assert plain_text("<b>broken") == "broken"  # what Telegram refused still reads


references = st.sampled_from(
    [
        *("&lt", "&gt;", "&amp;", "&quot", "&#", "&#x", "&#X41;", "&#65", "&#x1F600;", "&#0;"),
        *("&#1114111;", "&#123456789;", "&#x10FFFF;", "&ampx", "&foo;", "&", "&#x41", "&#9;"),
        *("&#00000065;", "&#0000065;", "&#x0000041;", "&#x000041;"),  # too long, or just not
    ]
)
html_text = st.lists(
    st.one_of(
        references,
        st.text(alphabet="ab;#x09AF é😀\n>", max_size=8),
        st.sampled_from(["<b>", "</b>", '<a href="x>y&amp;z">', "</a>", "<pre>", "</pre>"]),
    ),
    max_size=20,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(html_text)
def test_plain_text_matches_telegrams_parser(markup: str) -> None:
    try:
        plain, _ = parse_html(markup)
    except EntityParseError:
        return  # Telegram refuses it; plain_text need only not fail
    assert plain_text(markup) == plain


# --- splitting ----------------------------------------------------------------------------


def styles(markup: str, skip: str = "\n") -> list[tuple[str, frozenset[str]]]:
    """Return each character with the formatting Telegram gives it, `skip` ones left out."""
    plain, entities = parse_html(markup, strict_ampersand=True)
    result = []
    offset = 0
    for char in plain:
        covering = frozenset(
            f"{e['type']}:{e.get('url', '')}"
            for e in entities
            if e["offset"] <= offset < e["offset"] + e["length"]
        )
        if char not in skip:
            result.append((char, covering))
        offset += utf16_len(char)
    return result


words = st.text(alphabet="ab <>&\"'é😀", min_size=1, max_size=12).map(html.escape)
segment = st.one_of(
    words,
    st.tuples(st.sampled_from(["b", "i", "u", "s", "code", "tg-spoiler"]), words).map(
        lambda pair: f"<{pair[0]}>{pair[1]}</{pair[0]}>"
    ),
    words.map(lambda w: f'<a href="https://t.me/x?a=1&amp;b=2">{w}</a>'),
)
line_strategy = (
    st.lists(segment, min_size=1, max_size=4).map("".join).filter(lambda s: plain_text(s).strip())
)
# A block is one line, or several lines inside a tag that spans them.
block = st.one_of(
    line_strategy.map(lambda line: [line]),
    st.tuples(
        st.sampled_from(["<pre>", "<b>", "<blockquote expandable>", '<a href="https://e.x">']),
        st.lists(line_strategy, min_size=2, max_size=6),
    ).map(
        lambda pair: [
            pair[0] + pair[1][0],
            *pair[1][1:-1],
            pair[1][-1] + "</" + pair[0][1:].split(">")[0].split(" ")[0] + ">",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(block, min_size=1, max_size=12), st.data())
def test_split_parts_parse_fit_and_rejoin(blocks: list[list[str]], data: st.DataObject) -> None:
    lines = [line for lines in blocks for line in lines]
    markup = "\n".join(lines)
    widest = max(utf16_len(plain_text(line)) for line in lines)
    limit = data.draw(st.integers(min_value=2, max_value=widest * 4 + 10))
    parts = split_message(markup, limit)
    for part in parts:
        plain, _ = parse_html(part, strict_ampersand=True)
        assert utf16_len(plain) <= limit
    # Every character keeps its formatting. Cutting a long line adds newlines, and a piece
    # of only spaces is left out, as Telegram would refuse it.
    blank = "\n \t"
    assert [s for part in parts for s in styles(part, blank)] == styles(markup, blank)
    if limit >= widest:  # every line fits: parts end where lines end, and none is blank
        assert [s for part in parts for s in styles(part)] == styles(markup)
        assert "\n".join(parse_html(part)[0] for part in parts) == parse_html(markup)[0]
        if all(len(block) == 1 for block in blocks):
            assert "\n".join(parts) == markup  # nothing spans a cut: the parts are lines


def test_split_closes_and_reopens_a_pre_block() -> None:
    markup = "<b>Table</b>\n<pre>" + "\n".join(f"row {i:02d} &amp;" for i in range(6)) + "</pre>"
    assert split_message(markup, 30) == [
        "<b>Table</b>\n<pre>row 00 &amp;\nrow 01 &amp;</pre>",
        "<pre>row 02 &amp;\nrow 03 &amp;\nrow 04 &amp;</pre>",
        "<pre>row 05 &amp;</pre>",
    ]


def test_split_keeps_a_short_message_whole() -> None:
    assert split_message(alert(BTC_LONG)) == [alert(BTC_LONG)]
    assert split_message("") == []
    assert split_message("a\n\n\n\nb", 2) == ["a\n", "b"]  # a blank part would be refused


def test_split_cuts_an_overlong_line_between_characters() -> None:
    markup = "<b>" + "x&amp;😀" * 3_000 + "</b>\nend"
    parts = split_message(markup)
    assert len(parts) == 3  # 12,000 UTF-16 units of text, then "end"
    for part in parts:
        assert utf16_len(parse_html(part, strict_ampersand=True)[0]) <= 4096
    rejoined = "".join(parse_html(part)[0] for part in parts).replace("\n", "")
    assert rejoined == "x&😀" * 3_000 + "end"


def test_split_rejects_a_limit_below_two() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_message("x", 1)


def chart_series(asset: str | None, long_usd: float, short_usd: float) -> Series:
    return Series(
        start_ms=T - 14_400_000,
        end_ms=T,
        bucket_s=300,
        asset=asset,
        exchanges=("binance",),
        long_usd=((long_usd,) + (0.0,) * 47,),
        short_usd=((short_usd,) + (0.0,) * 47,),
        totals=SideTotals(long_usd, short_usd, 3, 2),
    )


def test_chart_caption_names_the_subject_totals_gaps_and_the_note() -> None:
    caption = chart_caption(chart_series("BTC", 1_250_000.0, 80_000.0), COVERAGE)
    assert caption == (
        "📊 <b>BTC</b>, last 4h: 🔴 longs $1.25M · 🟢 shorts $80.00K\n"
        "⚠️ okx feed was up 92.5% of the last 4h and is down now\n"
        "   gap from 2026-10-09 03:13:22 UTC, 5m00s, backfilled from the exchange\n"
        "   gap from 2026-10-09 15:23:42 UTC, 1h43m, not backfilled\n"
        "⚠️ bybit-linear feed was up 99.9% of the last 4h\n" + NOTE
    )
    check(caption)
    market = chart_caption(chart_series(None, 0.0, 0.0), ())
    assert market == "📊 <b>All assets</b>, last 4h: 🔴 longs $0 · 🟢 shorts $0\n" + NOTE


def test_chart_caption_fits_telegram_caption_limit() -> None:
    gaps = tuple(Gap(T - i * 60_000, T - i * 60_000 + 1_000, False) for i in range(50, 0, -1))
    many = [
        FeedCoverage(f"feed-{'x' * 20}-{i}", "okx", Coverage.PARTIAL, 0.5, 1, gaps, True)
        for i in range(12)
    ]
    caption = chart_caption(chart_series("ETH", 1.0, 2.0), many)
    plain = check(caption)
    assert len(plain) <= MAX_CAPTION_LENGTH
    assert "⚠️ feed-xxxxxxxxxxxxxxxxxx… feed was up 50.0% of the last 4h" in plain
    assert plain.endswith(plain_text(NOTE))
