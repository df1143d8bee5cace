"""The chart series: bucket choice, exact values by hand, and brute force with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregation.coverage import CoverageTracker
from aggregation.query import LiquidationQueries, Series, SideTotals, bucket_seconds
from aggregation.windows import Outcome, WindowStore
from collectors.record import Liquidation, Side

T0 = 1_800_000_000_000
NOW = T0 + 7_200_000 + 400  # mid-second on purpose: the window ends with this second
NOW_SEC_END = (NOW // 1000 + 1) * 1000


def ev(exchange: str, base: str, side: Side, usd: float, ts_ms: int) -> Liquidation:
    return Liquidation(exchange, "swap", f"{base}-X", base, side, usd, 1.0, usd, ts_ms, ts_ms)


def queries(records: list[Liquidation]) -> LiquidationQueries:
    store = WindowStore((60, 600, 3600))
    for record in records:
        assert store.add(record) is Outcome.COUNTED
    return LiquidationQueries(store, CoverageTracker([]), clock=lambda: NOW)


@pytest.mark.parametrize(
    ("span_s", "buckets", "expected"),
    [
        (180, 60, 5),
        (900, 60, 15),
        (3600, 60, 60),
        (14400, 60, 300),
        (86400, 60, 1800),
        (86400, 288, 300),
        (86400, 48, 1800),
        (3660, 60, 120),  # 61 one-minute buckets would be one too many
        (7, 60, 1),
        (1, 1, 1),
        (86400, 1, 86400),  # past the longest round step: span / buckets, rounded up
        (100_000, 1, 100_000),
    ],
)
def test_bucket_seconds(span_s: int, buckets: int, expected: int) -> None:
    assert bucket_seconds(span_s, buckets) == expected


@pytest.mark.parametrize(("span_s", "buckets"), [(0, 60), (60, 0), (-5, 10)])
def test_bucket_seconds_rejects_empty(span_s: int, buckets: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        bucket_seconds(span_s, buckets)


def hand_built() -> LiquidationQueries:
    last = NOW // 1000 * 1000  # the newest second of the window
    return queries(
        [
            ev("okx", "BTC", Side.LONG, 100.0, last + 999),  # newest millisecond inside
            ev("binance", "BTC", Side.LONG, 200.0, last - 9_000),  # still the newest bucket
            ev("okx", "BTC", Side.SHORT, 50.0, last - 10_000),  # the bucket before
            ev("okx", "BTC", Side.SHORT, 25.0, last - 10_500),
            ev("binance", "ETH", Side.SHORT, 7.0, last - 59_000),  # the oldest second inside
            ev("bybit", "ETH", Side.LONG, 1_000.0, last - 60_000),  # just outside
        ]
    )


async def test_series_exact_values() -> None:
    series = await hand_built().series(60, buckets=6)
    assert series == Series(
        start_ms=NOW_SEC_END - 60_000,
        end_ms=NOW_SEC_END,
        bucket_s=10,
        asset=None,
        exchanges=("binance", "okx"),  # bybit's only event is outside: no empty row
        long_usd=((0.0, 0.0, 0.0, 0.0, 0.0, 200.0), (0.0, 0.0, 0.0, 0.0, 0.0, 100.0)),
        short_usd=((7.0, 0.0, 0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0, 75.0, 0.0)),
        totals=SideTotals(300.0, 82.0, 2, 3),
    )
    assert series.buckets == 6
    assert series.span_s == 60
    assert series.edges_ms == tuple(NOW_SEC_END - 60_000 + i * 10_000 for i in range(7))


async def test_series_of_one_asset() -> None:
    q = hand_built()
    btc = await q.series(60, "BTC", buckets=6)
    assert btc.asset == "BTC"
    assert btc.exchanges == ("binance", "okx")
    assert btc.long_usd == ((0.0,) * 5 + (200.0,), (0.0,) * 5 + (100.0,))
    assert btc.short_usd == ((0.0,) * 6, (0.0,) * 4 + (75.0, 0.0))
    assert btc.totals == SideTotals(300.0, 75.0, 2, 2)
    eth = await q.series(61, "ETH", buckets=61)  # one second longer: bybit's event is in
    assert eth.bucket_s == 1
    assert eth.exchanges == ("binance", "bybit")
    assert eth.long_usd[1][0] == 1_000.0
    assert eth.short_usd[0][1] == 7.0
    assert eth.totals == SideTotals(1_000.0, 7.0, 1, 1)


async def test_unknown_asset_gives_an_empty_series() -> None:
    series = await hand_built().series(3600, "NOPE")
    assert (series.asset, series.bucket_s, series.buckets) == ("NOPE", 60, 60)
    assert series.exchanges == ()
    assert series.long_usd == series.short_usd == ()
    assert series.totals == SideTotals(0.0, 0.0, 0, 0)


async def test_a_span_the_step_does_not_divide_has_a_short_oldest_bucket() -> None:
    series = await hand_built().series(65, "ETH", buckets=6)  # 15 s steps: 5 s + 4 x 15 s
    assert series.bucket_s == 15
    assert series.edges_ms == (
        NOW_SEC_END - 65_000,
        NOW_SEC_END - 60_000,
        NOW_SEC_END - 45_000,
        NOW_SEC_END - 30_000,
        NOW_SEC_END - 15_000,
        NOW_SEC_END,
    )
    assert series.exchanges == ("binance", "bybit")
    assert series.long_usd == ((0.0,) * 5, (1_000.0, 0.0, 0.0, 0.0, 0.0))  # the 5 s bucket
    assert series.short_usd == ((0.0, 7.0, 0.0, 0.0, 0.0), (0.0,) * 5)


async def test_any_window_up_to_retention_and_no_further() -> None:
    q = hand_built()
    assert (await q.series(7_777, buckets=100)).bucket_s == 120  # not a configured window
    day = await q.series(86_400)
    assert (day.bucket_s, day.buckets, day.totals.count) == (1800, 48, 6)
    for window_s in (0, -60, 86_401):
        with pytest.raises(ValueError, match="a chart window must be 1s to 86400s"):
            await q.series(window_s)


async def test_now_before_the_newest_event_is_clamped_like_the_windows() -> None:
    series = await hand_built().series(60, now_ms=T0, buckets=6)
    assert series.end_ms == NOW_SEC_END  # the store's clock, not T0
    assert series.totals == SideTotals(300.0, 82.0, 2, 3)


async def test_period_series_covers_an_explicit_span() -> None:
    end = NOW // 1000 * 1000 - 9_000  # excludes the okx long at the last second
    series = await hand_built().period_series(end - 3_600_000, end, "BTC", buckets=4)
    assert (series.start_ms, series.end_ms, series.bucket_s) == (end - 3_600_000, end, 900)
    assert series.long_usd == ((0.0, 0.0, 0.0, 0.0),)  # binance's long sits at `end`
    assert series.short_usd == ((0.0, 0.0, 0.0, 75.0),)
    assert series.exchanges == ("okx",)
    with pytest.raises(ValueError, match="at least one second"):
        await hand_built().period_series(end, end + 999)


# --- against brute force ---------------------------------------------------------------------

EXCHANGES = ("binance", "okx", "bybit")
ASSETS = ("BTC", "ETH", "SOL")


@st.composite
def stores(draw: st.DrawFn) -> tuple[WindowStore, list[Liquidation], int]:
    """A store with events over the last two hours (whole-dollar sizes, so sums are exact)."""
    now = T0 + 7_200_000 + draw(st.integers(0, 999))
    records = [
        Liquidation(
            draw(st.sampled_from(EXCHANGES)),
            "swap",
            f"{base}-X",
            base,
            draw(st.sampled_from(list(Side))),
            draw(st.integers(1, 5_000_000)) * 1.0,
            1.0,
            draw(st.integers(1, 5_000_000)) * 1.0,
            now - draw(st.integers(0, 7_300_000)),
            now,
        )
        for base in draw(st.lists(st.sampled_from(ASSETS), max_size=80))
    ]
    store = WindowStore((60, 600))
    accepted = [r for r in records if store.add(r) is Outcome.COUNTED]
    store.totals(now)  # fold once; events added later must still be counted by the scan
    late = draw(st.lists(st.integers(0, 7_000_000), max_size=5))
    for age in late:
        record = ev("okx", "BTC", Side.SHORT, float(age + 1), now - age)
        if store.add(record) is Outcome.COUNTED:
            accepted.append(record)
    return store, accepted, now


@settings(max_examples=150, deadline=None)
@given(
    stores(),
    st.integers(1, 7_200),
    st.integers(1, 150),
    st.sampled_from([None, *ASSETS, "DOGE"]),
)
async def test_series_equals_brute_force(
    case: tuple[WindowStore, list[Liquidation], int],
    window_s: int,
    buckets: int,
    asset: str | None,
) -> None:
    store, records, now = case
    q = LiquidationQueries(store, CoverageTracker([]), clock=lambda: now)
    series = await q.series(window_s, asset, buckets=buckets)
    end = (now // 1000 + 1) * 1000
    assert (series.start_ms, series.end_ms) == (end - window_s * 1000, end)
    assert series.bucket_s == bucket_seconds(window_s, buckets)
    n = series.buckets
    assert n <= buckets
    assert len(series.edges_ms) == n + 1

    step = series.bucket_s * 1000
    expected: dict[tuple[str, Side], list[float]] = {}
    counts = {Side.LONG: 0, Side.SHORT: 0}
    for r in records:
        if asset is not None and r.base != asset:
            continue
        if not now // 1000 - window_s < r.ts_ms // 1000 <= now // 1000:
            continue
        bucket = (r.ts_ms - (end - n * step)) // step
        assert series.edges_ms[bucket] <= r.ts_ms < series.edges_ms[bucket + 1]
        row = expected.setdefault((r.exchange, r.side), [0.0] * n)
        row[bucket] += r.notional_usd
        counts[r.side] += 1
    assert series.exchanges == tuple(sorted({e for e, _ in expected}))
    for e, exchange in enumerate(series.exchanges):
        assert series.long_usd[e] == tuple(expected.get((exchange, Side.LONG), [0.0] * n))
        assert series.short_usd[e] == tuple(expected.get((exchange, Side.SHORT), [0.0] * n))
    assert (series.totals.long_count, series.totals.short_count) == (
        counts[Side.LONG],
        counts[Side.SHORT],
    )

    # The same span through the other read path.
    usd, count = store.range_totals(series.start_ms, series.end_ms)
    if asset is not None:
        index = store.asset_index(asset)
        usd, count = (usd[index], count[index]) if index is not None else (usd[:0], count[:0])
    else:
        usd, count = usd.sum(axis=0), count.sum(axis=0)
    assert series.totals == SideTotals(
        float(usd[..., 0].sum()),
        float(usd[..., 1].sum()),
        int(count[..., 0].sum()),
        int(count[..., 1].sum()),
    )
