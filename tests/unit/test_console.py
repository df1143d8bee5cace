"""Console lines and the human formats they use."""

from __future__ import annotations

import io

import pytest

from aggregation.query import BackfillStats, IngestCounters, SideTotals, StoreStats, WindowTotals
from bot.app.console import ConsolePrinter
from bot.delivery.cascades import CascadeStats
from bot.delivery.queue import DispatchStats
from bot.render.status import (
    StatusFigures,
    format_event_line,
    format_ingest_line,
    format_market_line,
    format_status_line,
    status_lines,
)
from bot.texts.formatting import format_duration, format_price, format_usd, format_utc
from collectors.record import Coverage, Liquidation, Side
from collectors.stats import FeedStats


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "$0"),
        (512.4, "$512"),
        (999.4, "$999"),
        (999.6, "$1.00K"),
        (15703.861, "$15.70K"),
        (999_994, "$999.99K"),
        (999_999, "$1.00M"),
        (1_234_567, "$1.23M"),
        (2_100_000_000, "$2.10B"),
        (-2500, "-$2.50K"),
    ],
)
def test_format_usd(value: float, text: str) -> None:
    assert format_usd(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(82651.9, "82,651.90"), (2.585, "2.585"), (0.04499, "0.04499"), (0.000012, "0.00001200")],
)
def test_format_price(value: float, text: str) -> None:
    assert format_price(value) == text


def test_format_time_and_duration() -> None:
    assert format_utc(1791565602120) == "2026-10-09 17:06:42 UTC"
    assert [format_duration(s) for s in (45, 725, 3725, 190000)] == [
        "45s",
        "12m05s",
        "1h02m",
        "2d04h",
    ]


LONG = Liquidation(
    "binance", "usdm", "BTCUSDT", "BTC", Side.LONG, 82651.9, 0.19, 15703.861, 1791565602120, 0
)


def test_event_line() -> None:
    assert format_event_line(LONG) == (
        "2026-10-09 17:06:42 UTC  binance usdm   BTC        LONG  liquidated    $15.70K  "
        "at 82,651.90"
    )
    short = Liquidation("okx", "swap", "ETH-USD-SWAP", "ETH", Side.SHORT, 2500.0, 0.012, 30.0, 0, 0)
    colored = format_event_line(short, color=True)
    assert "\x1b[32mSHORT liquidated\x1b[0m" in colored  # green: a short was liquidated
    assert "\x1b[31m" in format_event_line(LONG, color=True)  # red: a long


def test_printer_applies_the_floor() -> None:
    out = io.StringIO()
    printer = ConsolePrinter(out, min_usd=10.0, color=False)
    tiny = Liquidation("okx", "swap", "X-USDT-SWAP", "X", Side.SHORT, 1.0, 2.0, 2.0, 0, 0)
    printer.print_event(tiny)
    printer.print_event(LONG)
    assert out.getvalue().splitlines() == [format_event_line(LONG)]
    assert printer.printed == 1


def test_status_line() -> None:
    stats = FeedStats("okx", Coverage.PARTIAL, events=1234, bad_frames=2, reconnects=3)
    stats.transition(True, 1_000_000)
    stats.last_event_ms = 1_000_000 + 50_000
    assert format_status_line(stats, 1_000_000 + 62_000) == (
        "status okx: up 1m02s, 1,234 events, 2 bad frames, 0 unknown-instrument events, "
        "3 reconnects, last event 12s ago"
    )
    stats.transition(False, 1_100_000)
    stats.last_error = "watchdog: no frame for 30.0s"
    assert format_status_line(stats, 1_100_000).startswith(
        "status okx: DOWN (watchdog: no frame for 30.0s), 1,234 events"
    )


def test_uptime_within_a_window() -> None:
    stats = FeedStats("okx", Coverage.PARTIAL)
    stats.transition(False, 0)
    stats.transition(True, 100)
    stats.transition(False, 300)
    stats.transition(True, 400)
    assert stats.uptime_ms(0, 500) == 300
    assert stats.uptime_ms(150, 450) == 200
    assert [(i.up, i.start_ms, i.end_ms) for i in stats.intervals] == [
        (False, 0, 100),
        (True, 100, 300),
        (False, 300, 400),
        (True, 400, None),
    ]


def test_ingest_line() -> None:
    counters = IngestCounters(counted=1200, duplicates=3, stale=2, clamped=1)
    store = StoreStats(written=1195, dropped=0)
    assert format_ingest_line(counters, store, 7) == (
        "ingest: 1,200 counted, 3 duplicates, 2 older than every window, 1 future times "
        "clamped; database: 1,195 rows written, 7 pending, 0 dropped"
    )
    failing = StoreStats(
        written=1195,
        write_failures=3,
        failing_since_ms=1_000,
        last_write_error="database or disk is full",
    )
    assert format_ingest_line(counters, failing, 7).endswith(
        "0 dropped; WRITES FAILING (3 attempts so far): database or disk is full"
    )


def test_market_line() -> None:
    windows = [
        WindowTotals(180, 0, SideTotals(1500.0, 250.0, 2, 1), ()),
        WindowTotals(3600, 0, SideTotals(2_500_000.0, 0.0, 9, 0), ()),
    ]
    assert format_market_line(windows) == (
        "totals 3m $1.75K (long $1.50K / short $250) | 1h $2.50M (long $2.50M / short $0)"
    )


def test_status_report_lines_from_gathered_figures() -> None:
    feed = FeedStats("okx", Coverage.PARTIAL, events=7)
    feed.transition(True, 1_000_000)
    figures = StatusFigures(
        uptime_s=3725,
        now_ms=1_000_000 + 62_000,
        feeds=[feed],
        ingest=IngestCounters(counted=1200, duplicates=3, stale=2, clamped=1),
        writer=StoreStats(written=1195, dropped=0),
        writer_pending=7,
        delivery=DispatchStats(
            alerts_queued=12, alerts_delivered=10, messages_sent=4, digests_sent=2, chats_gone=1
        ),
        alerts_pending=2,
        chats_pending=1,
        rules=5,
        rule_chats=3,
        summaries=2,
        late_events=9,
        cascade_rules=4,
        cascades_open=1,
        cascades=CascadeStats(started=3, edits=20, abandoned=1),
        backfill=BackfillStats(runs=2, events=150, errors=1),
        db_bytes=12_345_678,
        db_path="data/liquidations.db",
    )
    assert status_lines(figures) == [
        "uptime 1h02m",
        "status okx: up 1m02s, 7 events, 0 bad frames, 0 unknown-instrument events, 0 reconnects",
        "ingest: 1,200 counted, 3 duplicates, 2 older than every window, 1 future times "
        "clamped; database: 1,195 rows written, 7 pending, 0 dropped",
        "alerts: 12 queued, 10 delivered in 4 messages (2 digests), 2 pending in 1 chats, "
        "0 dropped, 0 uncertain, 0 failed, 0 rate-limited, 1 chats gone",
        "rules: 5 in 3 chats; summaries: 2 scheduled; late events without alert: 9",
        "cascades: 4 rules, 1 open, 3 started, 20 edits, 1 abandoned",
        "okx backfills: 2 runs, 150 events, 1 error",  # issue 17: plural
        "database: 12.3 MB at data/liquidations.db",
    ]
