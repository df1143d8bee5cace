"""GET /api/v1/history: liquidated USD per interval from the rollups, exact against known events."""

from __future__ import annotations

from pathlib import Path

from tests.support.web import NOW, running

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def totals(body: object) -> tuple[float, float]:
    assert isinstance(body, dict)
    longs = sum(sum(row) for row in body["long_usd"])
    shorts = sum(sum(row) for row in body["short_usd"])
    return longs, shorts


async def test_history_of_a_week_reads_the_rollups(tmp_path: Path) -> None:
    since = NOW - 7 * DAY_MS
    async with running(tmp_path) as rig:
        market = await rig.get_json(f"/api/v1/history?since={since}&until={NOW}&interval=86400")
        btc = await rig.get_json(
            f"/api/v1/history?symbol=BTC&since={since}&until={NOW}&interval=86400"
        )
        refused = await rig.get_json(f"/api/v1/history?since={since}&interval=60", status=400)
    assert isinstance(market, dict)
    # Older than memory: whole hours, whole-hour intervals (a day here).
    assert market["start_ms"] == since // HOUR_MS * HOUR_MS
    assert market["end_ms"] == -(-NOW // HOUR_MS) * HOUR_MS
    assert market["bucket_s"] == 86_400
    assert market["exchanges"] == ["binance", "bybit", "okx"]
    # Every event, the one older than a day included (okx ETH, a $40K long, 25 h ago).
    assert totals(market) == (150_000.0 + 50_000.0 + 2_500.0 + 800.0 + 40_000.0, 1_320_000.0)
    assert isinstance(btc, dict)
    assert btc["symbol"] == "BTC"
    assert totals(btc) == (200_000.0, 1_020_000.0)
    assert refused == {"error": "at most 2000 intervals"}
