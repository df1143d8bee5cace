"""Coverage: uptime share, listed gaps and backfill marks over any window."""

from __future__ import annotations

from aggregation.coverage import CoverageTracker, FeedInfo, Gap
from collectors.record import Coverage

FEEDS = [
    FeedInfo("binance-usdm", "binance", Coverage.THROTTLED),
    FeedInfo("okx", "okx", Coverage.PARTIAL),
]


def test_uptime_gaps_and_backfill() -> None:
    tracker = CoverageTracker(FEEDS)
    tracker.feed_state("okx", False, 0)  # the collectors start "down"
    tracker.feed_state("okx", True, 1_000)
    tracker.feed_state("okx", False, 50_000)
    tracker.feed_state("okx", False, 51_000)  # a second down changes nothing
    tracker.feed_state("okx", True, 80_000)
    tracker.feed_state("okx", True, 81_000)  # nor a second up
    tracker.feed_state("binance-usdm", True, 0)
    tracker.mark_backfilled("okx", 50_000, 80_000)
    binance, okx = tracker.report(0, 100_000)
    assert (okx.feed_id, okx.exchange, okx.coverage) == ("okx", "okx", Coverage.PARTIAL)
    assert okx.uptime_share == 0.69  # 49 s + 20 s of 100 s
    assert okx.down_ms == 31_000
    assert okx.gaps == (Gap(0, 1_000, False), Gap(50_000, 80_000, True))
    assert okx.backfilled_ms == 30_000
    assert okx.connected
    assert (binance.uptime_share, binance.gaps, binance.coverage) == (1.0, (), Coverage.THROTTLED)


def test_a_window_inside_a_backfilled_gap_is_backfilled() -> None:
    tracker = CoverageTracker(FEEDS)
    tracker.feed_state("okx", True, 0)
    tracker.feed_state("okx", False, 10_000)
    tracker.mark_backfilled("okx", 10_000, 90_000)
    [_, okx] = tracker.report(20_000, 30_000)
    assert okx.gaps == (Gap(20_000, 30_000, True),)
    assert okx.uptime_share == 0.0
    assert not okx.connected


def test_short_gaps_count_but_are_not_listed() -> None:
    tracker = CoverageTracker(FEEDS)
    tracker.feed_state("okx", True, 0)
    tracker.feed_state("okx", False, 5_000)
    tracker.feed_state("okx", True, 5_600)
    [_, okx] = tracker.report(0, 10_000)
    assert okx.uptime_share == 0.94
    assert okx.gaps == ()


def test_history_loaded_from_storage_and_never_started_feeds() -> None:
    tracker = CoverageTracker(FEEDS)
    tracker.load(
        [("okx", False, 0, 1_000), ("okx", True, 1_000, 60_000), ("okx", True, 70_000, None)],
        [("okx", 60_000, 70_000)],
    )
    binance, okx = tracker.report(0, 100_000)
    assert okx.gaps == (Gap(0, 1_000, False), Gap(60_000, 70_000, True))
    assert okx.uptime_share == 0.89
    assert binance.uptime_share == 0.0  # never collected in this span: said so, not hidden
    assert binance.gaps == (Gap(0, 100_000, False),)
    assert tracker.last_down_start("okx", 100_000) == 60_000
