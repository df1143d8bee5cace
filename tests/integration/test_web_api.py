"""The dashboard's JSON API, CSV export, /metrics and /healthz, exact against known events."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bot.web import FeedHealth
from bot.web.schema import event_id
from tests.support.web import EVENTS, NOW, T0, running

S = 1000  # one second in ms


def sides(
    long_usd: float, short_usd: float, long_count: int, short_count: int
) -> dict[str, object]:
    return {
        "long_usd": long_usd,
        "short_usd": short_usd,
        "long_count": long_count,
        "short_count": short_count,
    }


def api_event(index: int) -> dict[str, object]:
    r = EVENTS[index]
    return {
        "id": event_id(r),
        "exchange": r.exchange,
        "market": r.market,
        "symbol": r.symbol,
        "base": r.base,
        "side": r.side.value,
        "price": r.price,
        "qty": r.qty_base,
        "notional_usd": r.notional_usd,
        "ts_ms": r.ts_ms,
    }


async def test_windows_market_wide(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        body = await rig.get_json("/api/v1/windows")
    assert body == {
        "as_of_ms": NOW,
        "symbol": None,
        "windows": [
            {
                "window": "3m",
                "window_s": 180,
                **sides(200_000.0, 20_000.0, 2, 1),
                "by_exchange": {
                    "binance": sides(150_000.0, 0.0, 1, 0),
                    "bybit": sides(0.0, 20_000.0, 0, 1),
                    "okx": sides(50_000.0, 0.0, 1, 0),
                },
                "uptime": {"binance-usdm": 1.0, "okx": 1.0, "bybit-linear": 1.0},
                "avg_price": None,
            },
            {
                "window": "15m",
                "window_s": 900,
                **sides(200_000.0, 320_000.0, 2, 2),
                "by_exchange": {
                    "binance": sides(150_000.0, 0.0, 1, 0),
                    "bybit": sides(0.0, 20_000.0, 0, 1),
                    "okx": sides(50_000.0, 300_000.0, 1, 1),
                },
                "uptime": {"binance-usdm": 1.0, "okx": 1.0, "bybit-linear": 1.0},
                "avg_price": None,
            },
            {
                "window": "1h",
                "window_s": 3600,
                **sides(202_500.0, 320_000.0, 3, 2),
                "by_exchange": {
                    "binance": sides(150_000.0, 0.0, 1, 0),
                    "bybit": sides(2_500.0, 20_000.0, 1, 1),
                    "okx": sides(50_000.0, 300_000.0, 1, 1),
                },
                "uptime": {"binance-usdm": 1.0, "okx": 0.8333, "bybit-linear": 1.0},
                "avg_price": None,
            },
            {
                "window": "4h",
                "window_s": 14400,
                **sides(202_500.0, 1_320_000.0, 3, 3),
                "by_exchange": {
                    "binance": sides(150_000.0, 1_000_000.0, 1, 1),
                    "bybit": sides(2_500.0, 20_000.0, 1, 1),
                    "okx": sides(50_000.0, 300_000.0, 1, 1),
                },
                "uptime": {"binance-usdm": 1.0, "okx": 0.9583, "bybit-linear": 1.0},
                "avg_price": None,
            },
            {
                "window": "24h",
                "window_s": 86400,
                **sides(203_300.0, 1_320_000.0, 4, 3),
                "by_exchange": {
                    "binance": sides(150_800.0, 1_000_000.0, 2, 1),
                    "bybit": sides(2_500.0, 20_000.0, 1, 1),
                    "okx": sides(50_000.0, 300_000.0, 1, 1),
                },
                "uptime": {"binance-usdm": 1.0, "okx": 0.9931, "bybit-linear": 1.0},
                "avg_price": None,
            },
        ],
    }


async def test_windows_of_one_asset_with_average_prices(tmp_path: Path) -> None:
    near = (150_000 * 80_000 + 50_000 * 80_400 + 20_000 * 81_000) / 220_000
    far = (150_000 * 80_000 + 50_000 * 80_400 + 20_000 * 81_000 + 1_000_000 * 79_000) / 1_220_000
    async with running(tmp_path) as rig:
        body = await rig.get_json("/api/v1/windows?symbol=btc")
        unknown = await rig.get_json("/api/v1/windows?symbol=XRP")
    assert isinstance(body, dict)
    assert body["symbol"] == "BTC"
    windows = body["windows"]
    assert [(w["window"], w["long_usd"], w["short_usd"]) for w in windows] == [
        ("3m", 200_000.0, 20_000.0),
        ("15m", 200_000.0, 20_000.0),
        ("1h", 200_000.0, 20_000.0),
        ("4h", 200_000.0, 1_020_000.0),
        ("24h", 200_000.0, 1_020_000.0),
    ]
    assert [w["avg_price"] for w in windows] == [near, near, near, far, far]
    assert windows[3]["by_exchange"] == {
        "binance": sides(150_000.0, 1_000_000.0, 1, 1),
        "bybit": sides(0.0, 20_000.0, 0, 1),
        "okx": sides(50_000.0, 0.0, 1, 0),
    }
    assert isinstance(unknown, dict)
    assert [(w["long_usd"], w["short_count"], w["avg_price"]) for w in unknown["windows"]] == [
        (0.0, 0, None)
    ] * 5


async def test_latest_newest_first_with_every_filter(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        everything = await rig.get_json("/api/v1/latest")
        two = await rig.get_json("/api/v1/latest?limit=2")
        btc = await rig.get_json("/api/v1/latest?limit=10&symbol=BTC&min_usd=30000")
        shorts = await rig.get_json("/api/v1/latest?side=short")
        okx = await rig.get_json("/api/v1/latest?exchange=OKX&side=long")
        nothing = await rig.get_json("/api/v1/latest?exchange=kraken")
    # The event older than 24 h is stored but no longer in memory.
    assert everything == {"events": [api_event(i) for i in range(7)]}
    assert two == {"events": [api_event(0), api_event(1)]}
    assert btc == {"events": [api_event(0), api_event(1), api_event(5)]}
    assert shorts == {"events": [api_event(2), api_event(3), api_event(5)]}
    assert okx == {"events": [api_event(1)]}
    assert nothing == {"events": []}


async def test_top_of_a_window(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        hour = await rig.get_json("/api/v1/top?window=1h")
        day = await rig.get_json("/api/v1/top?limit=1")  # default: the longest window
    assert hour == {
        "window": "1h",
        "as_of_ms": NOW,
        "long": [
            {"base": "BTC", "usd": 200_000.0, "count": 2},
            {"base": "SOL", "usd": 2_500.0, "count": 1},
        ],
        "short": [
            {"base": "ETH", "usd": 300_000.0, "count": 1},
            {"base": "BTC", "usd": 20_000.0, "count": 1},
        ],
    }
    assert day == {
        "window": "24h",
        "as_of_ms": NOW,
        "long": [{"base": "BTC", "usd": 200_000.0, "count": 2}],
        "short": [{"base": "BTC", "usd": 1_020_000.0, "count": 2}],
    }


async def test_health_of_each_feed(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.feeds[1] = FeedHealth("okx", "okx", "partial", False, None, NOW - 61 * S, 60.0)
        body = await rig.get_json("/api/v1/health")
    assert body == {
        "as_of_ms": NOW,
        "feeds": [
            {
                "feed": "binance-usdm",
                "exchange": "binance",
                "coverage": "throttled",
                "connected": True,
                "healthy": True,
                "last_event_ms": NOW - 2 * S,
                "last_frame_ms": NOW - S,
                "silence_timeout_s": 60.0,
                "events": 10,
                "bad_frames": 1,
                "reconnects": 2,
            },
            {
                "feed": "okx",
                "exchange": "okx",
                "coverage": "partial",
                "connected": False,
                "healthy": False,
                "last_event_ms": None,
                "last_frame_ms": NOW - 61 * S,
                "silence_timeout_s": 60.0,
                "events": 0,
                "bad_frames": 0,
                "reconnects": 0,
            },
            {
                "feed": "bybit-linear",
                "exchange": "bybit",
                "coverage": "complete",
                "connected": True,
                "healthy": True,
                "last_event_ms": NOW - 2 * S,
                "last_frame_ms": NOW - S,
                "silence_timeout_s": 60.0,
                "events": 10,
                "bad_frames": 1,
                "reconnects": 2,
            },
        ],
    }


async def test_healthz_up_then_down_with_the_reason(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        async with rig.http.get(rig.url("/healthz")) as response:
            assert (response.status, await response.text()) == (200, "up\n")
        rig.feeds[2] = FeedHealth(
            "bybit-linear", "bybit", "complete", True, None, NOW - 46 * S, 45.0
        )
        async with rig.http.get(rig.url("/healthz")) as response:
            assert response.status == 503
            assert (
                await response.text()
                == "down: bybit-linear: nothing received for 46s (limit 45s)\n"
            )
        # A feed that never delivered is judged from the dashboard's start.
        rig.feeds[2] = FeedHealth("bybit-linear", "bybit", "complete", False, None, None, 45.0)
        async with rig.http.get(rig.url("/healthz")) as response:
            assert response.status == 200


async def test_series_for_the_chart_with_feed_gaps(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        body = await rig.get_json("/api/v1/series?window=1h")
        btc = await rig.get_json("/api/v1/series?window=15m&symbol=BTC")
    assert isinstance(body, dict)
    end = (NOW // S + 1) * S
    assert (body["window"], body["symbol"], body["bucket_s"]) == ("1h", None, 60)
    assert (body["start_ms"], body["end_ms"]) == (end - 3_600 * S, end)
    assert body["edges_ms"] == [end - (60 - i) * 60 * S for i in range(61)]
    assert body["exchanges"] == ["binance", "bybit", "okx"]
    binance, bybit, okx = body["long_usd"]
    assert binance == [0.0] * 59 + [150_000.0]
    assert bybit == [0.0] * 29 + [2_500.0] + [0.0] * 30  # 1,800 s ago: bucket 29 of 60
    assert okx == [0.0] * 59 + [50_000.0]
    assert [sum(row) for row in body["short_usd"]] == [0.0, 20_000.0, 300_000.0]
    assert body["gaps"] == [
        {"feed": "okx", "exchange": "okx", "start_ms": end - 3_600 * S, "end_ms": NOW - 3_000 * S,
         "backfilled": False}
    ]  # fmt: skip
    assert isinstance(btc, dict)
    assert (btc["symbol"], btc["bucket_s"], btc["exchanges"]) == (
        "BTC",
        15,
        ["binance", "bybit", "okx"],
    )
    assert [sum(r) for r in btc["long_usd"]] == [150_000.0, 0.0, 50_000.0]


async def test_export_csv_streams_stored_events(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        async with rig.http.get(rig.url("/api/v1/export.csv")) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
            assert (
                response.headers["Content-Disposition"] == 'attachment; filename="liquidations.csv"'
            )
            every = list(csv.reader(io.StringIO(await response.text())))
        since, until = NOW - 7_200 * S, NOW - 10 * S  # inclusive, exclusive
        async with rig.http.get(
            rig.url(f"/api/v1/export.csv?since={since}&until={until}&symbol=BTC")
        ) as response:
            some = list(csv.reader(io.StringIO(await response.text())))
    header = [
        "ts_ms",
        "exchange",
        "market",
        "symbol",
        "base",
        "side",
        "price",
        "qty",
        "notional_usd",
    ]
    rows = [
        [str(r.ts_ms), r.exchange, r.market, r.symbol, r.base, r.side.value, repr(r.price),
         repr(r.qty_base), repr(r.notional_usd)]
        for r in sorted(EVENTS, key=lambda r: r.ts_ms)
    ]  # fmt: skip
    assert every == [header, *rows]  # the event older than 24 h too: it is stored
    assert some == [header, rows[2], rows[5], rows[6]]  # 7,200 s, 100 s and 20 s ago


async def test_metrics_in_prometheus_text(tmp_path: Path) -> None:
    async with running(tmp_path) as rig, rig.http.get(rig.url("/metrics")) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    lines = set(text.splitlines())
    for expected in [
        'liquidation_bot_feed_events_total{exchange="okx",feed="okx"} 10.0',
        'liquidation_bot_feed_bad_frames_total{exchange="binance",feed="binance-usdm"} 1.0',
        'liquidation_bot_feed_reconnects_total{exchange="bybit",feed="bybit-linear"} 2.0',
        'liquidation_bot_feed_connected{exchange="okx",feed="okx"} 1.0',
        "liquidation_bot_alerts_sent_total 0.0",
        "liquidation_bot_alerts_failed_total 0.0",
        "liquidation_bot_alert_queue_depth 0.0",
        "liquidation_bot_database_queue_depth 0.0",
        "liquidation_bot_database_rows_written_total 0.0",
        "liquidation_bot_web_clients 0.0",
        "liquidation_bot_web_events_streamed_total 8.0",
    ]:
        assert expected in lines, expected
    assert all(line.startswith(("# ", "liquidation_bot_")) for line in text.splitlines() if line)


async def test_bad_parameters_get_a_400_with_the_reason(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        for path, reason in [
            ("/api/v1/top?window=2h", "unknown window '2h'; choose from 3m, 15m, 1h, 4h, 24h"),
            ("/api/v1/series", "give a window: 3m, 15m, 1h, 4h, 24h"),
            ("/api/v1/latest?limit=0", "limit must be between 1 and 1000"),
            ("/api/v1/latest?limit=ten", "limit must be a whole number"),
            ("/api/v1/latest?side=up", "side must be long or short"),
            ("/api/v1/latest?min_usd=-5", "min_usd must be a number of US dollars, e.g. 100000"),
            (
                "/api/v1/windows?symbol=BTC/USDT",
                "symbol must be an asset name such as BTC, not 'BTC/USDT'",
            ),
            ("/api/v1/export.csv?since=yesterday", "since must be a whole number"),
        ]:
            assert await rig.get_json(path, status=400) == {"error": reason}, path


def test_the_fixture_clock_is_what_the_tests_assume() -> None:
    assert NOW == T0 + 86_400_500
