"""The chart renderer: valid PNGs of the asked size, colours where the bars are, a reference look.

Reference images live in tests/fixtures/charts/. After an intended change of the chart's look,
regenerate them, look at them, and commit them:

    REGENERATE_CHART_REFERENCES=1 pytest tests/unit/test_charts.py -k reference
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import itertools
import os
import struct
import time
import zlib
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from matplotlib.image import imread

from aggregation.query import Series, SideTotals
from bot.render.charts import (
    LONG_SHADES,
    PLOT_BOX,
    SHORT_SHADES,
    _axis_usd,
    chart_title,
    render_chart,
    render_chart_async,
    time_ticks,
)

REFERENCES = Path(__file__).resolve().parents[1] / "fixtures" / "charts"
# RMS over 0-255 channel values. The same matplotlib (it bundles FreeType) gives 0.0; the margin
# absorbs anti-aliasing changes. For scale: one bar of 48 four times taller gives 3.6, another
# asset in the title 8.7, the whole image shifted by one pixel 24.
TOLERANCE_RMS = 2.0
END_MS = 1_800_000_000_000  # 2027-01-15 08:00:00 UTC
PixelArray = npt.NDArray[np.uint8]


def series(
    buckets: int,
    bucket_s: int,
    longs: dict[str, dict[int, float]],
    shorts: dict[str, dict[int, float]],
    *,
    asset: str | None = "BTC",
    end_ms: int = END_MS,
) -> Series:
    """A series with the given USD per exchange and bucket (every other bucket is zero)."""
    exchanges = tuple(sorted(set(longs) | set(shorts)))

    def rows(side: dict[str, dict[int, float]]) -> tuple[tuple[float, ...], ...]:
        return tuple(tuple(side.get(e, {}).get(b, 0.0) for b in range(buckets)) for e in exchanges)

    long_usd, short_usd = rows(longs), rows(shorts)
    return Series(
        start_ms=end_ms - buckets * bucket_s * 1000,
        end_ms=end_ms,
        bucket_s=bucket_s,
        asset=asset,
        exchanges=exchanges,
        long_usd=long_usd,
        short_usd=short_usd,
        totals=SideTotals(
            sum(map(sum, long_usd)),
            sum(map(sum, short_usd)),
            sum(v > 0 for row in long_usd for v in row),
            sum(v > 0 for row in short_usd for v in row),
        ),
    )


def day_series(buckets: int = 48) -> Series:
    """A busy day: a smooth background, a long squeeze and a short squeeze, three exchanges."""
    step = 86_400 // buckets
    shape = [1 + 0.5 * np.sin(i / buckets * 6.28) for i in range(buckets)]
    longs = {
        e: {i: round(scale * 40_000 * shape[i] * (12 if i == buckets // 3 else 1), 2)
            for i in range(buckets)}
        for e, scale in (("binance", 1.0), ("bybit", 1.6), ("okx", 0.6))
    }  # fmt: skip
    shorts = {
        e: {i: round(scale * 30_000 * shape[-i] * (9 if i == 3 * buckets // 4 else 1), 2)
            for i in range(buckets)}
        for e, scale in (("binance", 0.8), ("bybit", 1.2), ("okx", 0.5))
    }  # fmt: skip
    return series(buckets, step, longs, shorts)


def empty_series() -> Series:
    return series(60, 60, {}, {}, asset="ETH")


def decode(png: bytes) -> PixelArray:
    """Return the RGB pixels, rows top first."""
    rgba = imread(io.BytesIO(png), format="png")
    return np.round(np.asarray(rgba)[..., :3] * 255).astype(np.uint8)


def rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def chunks(png: bytes) -> list[bytes]:
    """Return the chunk types of a PNG, checking each chunk's CRC."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + data) == crc
        found.append(kind)
        offset += 12 + length
    return found


# --- format ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1200, 675), (1280, 720), (641, 361)])
def test_png_decodes_and_has_the_requested_size(width: int, height: int) -> None:
    png = render_chart(day_series(), width_px=width, height_px=height)
    assert chunks(png)[0] == b"IHDR"
    assert chunks(png)[-1] == b"IEND"
    assert struct.unpack(">II", png[16:24]) == (width, height)
    assert decode(png).shape == (height, width, 3)


def test_more_exchanges_than_named_shades_still_render() -> None:
    # Five exchanges: the legend switches to one long+short swatch per exchange.
    chart = series(6, 600, {f"ex{i}": {i: 1e5} for i in range(5)}, {"ex4": {5: 2e5}})
    png = render_chart(chart)
    assert struct.unpack(">II", png[16:24]) == (1200, 675)
    plot = plot_region(decode(png))
    _, columns = where(plot, LONG_SHADES[0])  # the fifth exchange reuses the first's shade
    assert set((columns // (plot.shape[1] / 6)).astype(int).tolist()) == {0, 4}


def test_output_is_deterministic_and_carries_no_timestamp() -> None:
    first = render_chart(day_series())
    assert render_chart(day_series()) == first
    kinds = chunks(first)
    assert b"tIME" not in kinds
    assert b"tEXt" not in kinds  # no "Software" or date text either
    assert b"iTXt" not in kinds


def test_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 200 x 150"):
        render_chart(day_series(), width_px=199)


def test_a_given_title_replaces_the_default_one() -> None:
    s = day_series()
    assert render_chart(s, title=chart_title(s)) == render_chart(s)
    assert render_chart(s, title="Daily summary, Jan 15") != render_chart(s)


def test_default_titles_name_the_asset_and_the_window() -> None:
    assert chart_title(day_series()) == "BTC liquidations, last 24h"
    market = series(36, 5, {}, {}, asset=None)
    assert chart_title(market) == "Liquidations, all assets, last 3m"
    assert chart_title(market, lang="de-CH") == chart_title(market)  # English fallback


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0.0, "$0"),
        (250.0, "$250"),
        (2_500.0, "$2.5K"),
        (500_000.0, "$500K"),
        (-500_000.0, "$500K"),  # shorts are drawn below zero; the size is still positive
        (1_000_000.0, "$1M"),
        (1_250_000.0, "$1.25M"),
        (12_500_000.0, "$12.5M"),
        (2_000_000_000.0, "$2B"),
    ],
)
def test_axis_labels_are_short(value: float, label: str) -> None:
    assert _axis_usd(value) == label


# --- pixels ----------------------------------------------------------------------------------

WIDTH, HEIGHT = 1200, 675


def plot_region(pixels: PixelArray) -> PixelArray:
    """Return the pixels inside the plot box."""
    left, bottom, right, top = PLOT_BOX
    x0, x1 = round(left * WIDTH), round(right * WIDTH)
    y0, y1 = round((1 - top) * HEIGHT), round((1 - bottom) * HEIGHT)
    return pixels[y0:y1, x0:x1]


def where(pixels: PixelArray, colour: str) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Return (rows, columns) of the pixels of exactly this colour."""
    hit = np.all(pixels == np.array(rgb(colour), dtype=np.uint8), axis=-1)
    rows, columns = np.nonzero(hit)
    return rows, columns


def test_longs_are_red_above_zero_and_shorts_green_below_stacked_by_exchange() -> None:
    # Ten 6-minute buckets. Bucket 2: binance 0.5M long under okx 1M long. Bucket 7: bybit 1.5M
    # short. Exchanges sort to (binance, bybit, okx): shades 0, 1, 2 of each side.
    chart = series(10, 360, {"binance": {2: 5e5}, "okx": {2: 1e6}}, {"bybit": {7: 1.5e6}})
    plot = plot_region(decode(render_chart(chart)))
    bucket_px = plot.shape[1] / 10

    def span(colour: str) -> tuple[int, int, int, int]:
        rows, columns = where(plot, colour)
        assert len(rows) > 100, colour
        return int(rows.min()), int(rows.max()), int(columns.min()), int(columns.max())

    binance_long = span(LONG_SHADES[0])
    okx_long = span(LONG_SHADES[2])
    bybit_short = span(SHORT_SHADES[1])
    # The right bucket: the bar's columns lie inside it (bars fill 86% of their bucket).
    for (_, _, first, last), bucket in ((binance_long, 2), (okx_long, 2), (bybit_short, 7)):
        assert bucket * bucket_px < first < last < (bucket + 1) * bucket_px
        assert (last - first + 1) / bucket_px == pytest.approx(0.86, abs=0.03)
    # Stacked: okx sits right on top of binance (one blended row at most between them); the
    # longs end above the shorts' start (the zero line lies between).
    assert binance_long[0] - okx_long[1] in (1, 2)
    assert binance_long[1] < bybit_short[0]
    # Heights are proportional to USD. The zero line hides a pixel of both 1.5M bars alike.
    long_stack = binance_long[1] - okx_long[0] + 1
    short_bar = bybit_short[1] - bybit_short[0] + 1
    okx_bar = okx_long[1] - okx_long[0] + 1
    assert long_stack == pytest.approx(short_bar, abs=1)
    assert okx_bar == pytest.approx(short_bar * 2 / 3, abs=2)
    # Nothing else is drawn in these colours, and no exchange absent from a side shows.
    for colour in (LONG_SHADES[1], SHORT_SHADES[0], SHORT_SHADES[2]):
        assert len(where(plot, colour)[0]) == 0


def reddish_or_greenish(pixels: PixelArray) -> int:
    r, g, b = (pixels[..., i].astype(np.int16) for i in range(3))
    strong = ((r - g > 60) & (r - b > 60)) | ((g - r > 40) & (g - b > 40))
    return int(strong.sum())


def test_empty_series_renders_a_plain_plot() -> None:
    png = render_chart(empty_series())
    assert struct.unpack(">II", png[16:24]) == (WIDTH, HEIGHT)
    plot = plot_region(decode(png))
    assert reddish_or_greenish(plot) == 0
    busy = plot_region(decode(render_chart(day_series())))
    assert reddish_or_greenish(busy) > 10_000


def test_a_short_oldest_bucket_is_drawn_short() -> None:
    # 65 s in 15 s buckets: the oldest covers 5 s. 1 USD in it, 1 USD in the newest.
    chart = series(5, 15, {"okx": {0: 1.0, 4: 1.0}}, {})
    chart = Series(
        END_MS - 65_000, END_MS, 15, "BTC", chart.exchanges, chart.long_usd, chart.short_usd,
        chart.totals,
    )  # fmt: skip
    assert chart.edges_ms[:2] == (END_MS - 65_000, END_MS - 60_000)
    plot = plot_region(decode(render_chart(chart)))
    _, columns = where(plot, LONG_SHADES[0])
    left_bar = columns[columns < plot.shape[1] / 2]
    right_bar = columns[columns >= plot.shape[1] / 2]
    left_width = int(left_bar.max() - left_bar.min() + 1)
    right_width = int(right_bar.max() - right_bar.min() + 1)
    assert left_width / right_width == pytest.approx(5 / 15, abs=0.05)


# --- reference images ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "size"),
    [
        ("day_48_buckets.png", day_series, (800, 450)),
        ("empty.png", empty_series, (600, 338)),
    ],
)
def test_matches_the_reference_image(
    name: str, make: Callable[[], Series], size: tuple[int, int], tmp_path: Path
) -> None:
    png = render_chart(make(), width_px=size[0], height_px=size[1])
    reference = REFERENCES / name
    if os.environ.get("REGENERATE_CHART_REFERENCES"):
        reference.parent.mkdir(parents=True, exist_ok=True)
        reference.write_bytes(png)
        pytest.skip(f"wrote {reference}")
    expected = decode(reference.read_bytes())
    actual = decode(png)
    assert actual.shape == expected.shape
    rms = float(np.sqrt(np.mean((actual.astype(np.float64) - expected) ** 2)))
    if rms > TOLERANCE_RMS:
        (tmp_path / name).write_bytes(png)
    assert rms <= TOLERANCE_RMS, f"differs from {reference} (RMS {rms:.2f}); see {tmp_path}"


def test_the_reference_check_catches_one_changed_bar() -> None:
    expected = decode((REFERENCES / "day_48_buckets.png").read_bytes())
    day = day_series()
    longs = [list(row) for row in day.long_usd]
    longs[0][5] *= 4  # binance's long bar at 10:30, among 48 buckets x 3 exchanges x 2 sides
    changed = Series(
        day.start_ms, day.end_ms, day.bucket_s, day.asset, day.exchanges,
        tuple(map(tuple, longs)), day.short_usd, day.totals,
    )  # fmt: skip
    actual = decode(render_chart(changed, width_px=800, height_px=450))
    rms = float(np.sqrt(np.mean((actual.astype(np.float64) - expected) ** 2)))
    assert rms > TOLERANCE_RMS


# --- off the event loop ----------------------------------------------------------------------


async def test_async_render_leaves_the_loop_free() -> None:
    chart = day_series(288)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    png = await render_chart_async(chart)
    elapsed = time.perf_counter() - started
    done.set()
    await task
    assert png == render_chart(chart)
    # A blocking render would let the ticker run at most once before it returned.
    assert ticks >= 5, f"{ticks} ticks in {elapsed * 1000:.0f} ms"


def test_time_ticks_fall_on_round_times_of_the_chat_zone() -> None:
    start, end = END_MS - 86_400_000, END_MS  # a day ending 08:00 UTC
    utc_ticks, utc_labels = time_ticks(start, end, dt.UTC)
    assert utc_labels == ["12:00\nJan 14", "18:00", "00:00\nJan 15", "06:00"]
    assert utc_ticks[0] == start + 4 * 3_600_000
    # India is UTC+5:30: ticks move to round Indian times, 30 minutes off the UTC ones.
    ticks, labels = time_ticks(start, end, zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert labels == ["18:00\nJan 14", "00:00\nJan 15", "06:00", "12:00"]
    assert ticks[0] == start + 4 * 3_600_000 + 1_800_000
    assert [b - a for a, b in itertools.pairwise(ticks)] == [6 * 3_600_000] * 3


def test_a_chart_in_another_zone_decodes_and_differs_only_in_its_times() -> None:
    png = render_chart(day_series(), tz=zoneinfo.ZoneInfo("Asia/Shanghai"))
    image = imread(io.BytesIO(png))
    assert image.shape[:2] == (675, 1200)
    assert png != render_chart(day_series())
