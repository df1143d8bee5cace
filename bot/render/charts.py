"""Render liquidation charts to PNG: longs up in red, shorts down in green, stacked by exchange.

Pure and thread-safe: every call builds its own `Figure` on a `FigureCanvasAgg` (never pyplot,
whose global figure registry is not thread-safe) and changes no global state. Fonts are set by
file and colours explicitly, and the PNG carries no timestamp, so one input gives the same bytes.
`render_chart_async` runs it in a worker thread so the event loop never waits for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import matplotlib
import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.legend_handler import HandlerTuple
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from aggregation.query import Series
from bot.texts.durations import format_window
from bot.texts.formatting import format_time, format_usd

# The layout is drawn on an 8-inch-wide figure; the dpi scales it to the requested pixels, so
# every size looks the same. 1200 px (Telegram shows photos ~1280 wide) is 150 dpi: a 10 pt
# label is 21 px tall, readable on a phone.
_WIDTH_IN = 8.0
# Where the bars go, as figure fractions (left, bottom, right, top); the rest holds text.
PLOT_BOX = (0.095, 0.15, 0.975, 0.75)
_FONTS = Path(matplotlib.get_data_path(), "fonts", "ttf")
_REGULAR = _FONTS / "DejaVuSans.ttf"
_BOLD = _FONTS / "DejaVuSans-Bold.ttf"

# Shades per exchange, darkest at the zero line; red = a long liquidated, green = a short.
LONG_SHADES = ("#b71c1c", "#e53935", "#ff8a80", "#880e4f")
SHORT_SHADES = ("#1b5e20", "#43a047", "#81c784", "#006064")
_INK = "#212121"
_MUTED = "#616161"
_GRID = "#e0e0e0"
_BAR_FILL = 0.86  # share of a bucket a bar covers: the gaps keep dense bars apart
_TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                 43200, 86400)  # fmt: skip
_MAX_TIME_TICKS = 7
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EXCHANGE_NAMES = {
    "binance": "Binance",
    "okx": "OKX",
    "bybit": "Bybit",
    "gate": "Gate",
    "htx": "HTX",
    "bitget": "Bitget",
    "deribit": "Deribit",
    "bitmex": "BitMEX",
    "bitfinex": "Bitfinex",
    "kraken": "Kraken",
}

# Plain text (no HTML): the chart's own strings, per language, English as the fallback.
_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title_asset": "{asset} liquidations, last {window}",
        "title_market": "Liquidations, all assets, last {window}",
        "longs": "▲ Longs {usd} ({count})",
        "shorts": "▼ Shorts {usd} ({count})",
        "long": "{exchange} long",
        "short": "{exchange} short",
        "empty": "no liquidations",
        "bars": "{bucket} bars · to {end}",
        "note": "Binance totals are a lower bound: it reports at most one liquidation per "
        "symbol per second.",
    },
}


def _text(lang: str, key: str, **values: str) -> str:
    table = _TEXTS.get(lang.lower()) or _TEXTS.get(lang.lower().split("-")[0]) or _TEXTS["en"]
    return table.get(key, _TEXTS["en"][key]).format_map(values)


def chart_title(series: Series, lang: str = "en") -> str:
    """Return the default headline: the asset (or all assets) and the window."""
    window = format_window(series.span_s)
    if series.asset is None:
        return _text(lang, "title_market", window=window)
    return _text(lang, "title_asset", asset=series.asset, window=window)


def render_chart(
    series: Series,
    *,
    title: str | None = None,
    lang: str = "en",
    tz: dt.tzinfo = dt.UTC,
    width_px: int = 1200,
    height_px: int = 675,
) -> bytes:
    """Return a PNG of liquidated USD per bucket: longs up, shorts down, stacked by exchange.

    `title` replaces the default headline (`chart_title`); the totals line is always drawn.
    Times are shown in `tz`, ticks at round times of that zone's clock.
    """
    if width_px < 200 or height_px < 150:
        raise ValueError("a chart must be at least 200 x 150 pixels")
    dpi = width_px / _WIDTH_IN
    # A quarter pixel more, because the canvas truncates inches * dpi to whole pixels.
    figure = Figure(
        figsize=((width_px + 0.25) / dpi, (height_px + 0.25) / dpi), dpi=dpi, facecolor="white"
    )
    FigureCanvasAgg(figure)  # attaches itself: the figure renders with Agg, headless
    _draw(figure, series, title if title is not None else chart_title(series, lang), lang, tz)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


async def render_chart_async(
    series: Series,
    *,
    title: str | None = None,
    lang: str = "en",
    tz: dt.tzinfo = dt.UTC,
    width_px: int = 1200,
    height_px: int = 675,
) -> bytes:
    """Render in a worker thread (rendering is CPU-bound) and return the PNG bytes."""
    return await asyncio.to_thread(
        render_chart,
        series,
        title=title,
        lang=lang,
        tz=tz,
        width_px=width_px,
        height_px=height_px,
    )


# --- drawing ---------------------------------------------------------------------------------


def _font(size: float, *, bold: bool = False) -> FontProperties:
    # By file, not by family name: the font cache and rcParams cannot pick another font.
    return FontProperties(fname=_BOLD if bold else _REGULAR, size=size)


def _draw(figure: Figure, series: Series, title: str, lang: str, tz: dt.tzinfo) -> None:
    left, bottom, right, plot_top = PLOT_BOX
    axes = figure.add_axes((left, bottom, right - left, plot_top - bottom))
    figure.text(
        left,
        0.965,
        title,
        fontproperties=_font(15, bold=True),
        color=_INK,
        va="top",
        parse_math=False,
    )
    _totals_line(figure, series, left, lang)
    _plot(axes, series, tz)
    if series.totals.count == 0:
        axes.text(
            0.5,
            0.5,
            _text(lang, "empty"),
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontproperties=_font(20),
            color=_MUTED,
            parse_math=False,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 6.0},
        )
    else:
        _legend(figure, series.exchanges, left, lang)
    _footnotes(figure, series, lang, tz)


def _plot(axes: Axes, series: Series, tz: dt.tzinfo) -> None:
    """Draw the bars (longs up, shorts down, stacked by exchange) and style both axes."""
    edges = np.asarray(series.edges_ms, dtype=np.float64)
    longs = np.asarray(series.long_usd, dtype=np.float64).reshape(-1, series.buckets)
    shorts = np.asarray(series.short_usd, dtype=np.float64).reshape(-1, series.buckets)
    bar_left = edges[:-1] + (1 - _BAR_FILL) / 2 * np.diff(edges)
    bar_right = edges[1:] - (1 - _BAR_FILL) / 2 * np.diff(edges)

    for sign, rows, shades in ((1, longs, LONG_SHADES), (-1, shorts, SHORT_SHADES)):
        base = np.zeros(series.buckets)
        for e in range(len(series.exchanges)):
            stacked = base + rows[e]
            _add_bars(axes, bar_left, bar_right, sign * base, sign * stacked, _shade(shades, e))
            base = stacked

    long_peak = float(longs.sum(axis=0).max(initial=0.0))
    short_peak = float(shorts.sum(axis=0).max(initial=0.0))
    axes.set_xlim(float(edges[0]), float(edges[-1]))
    _usd_axis(axes, long_peak, short_peak)
    _time_axis(axes, series, tz)
    axes.axhline(0.0, color=_INK, linewidth=1.0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(_MUTED)
    axes.tick_params(colors=_MUTED, length=3)


def _footnotes(figure: Figure, series: Series, lang: str, tz: dt.tzinfo) -> None:
    """Write the bar size and end time (top right) and the data note (bottom)."""
    left, _, right, _ = PLOT_BOX
    bars = _text(
        lang, "bars", bucket=format_window(series.bucket_s), end=format_time(series.end_ms - 1, tz)
    )
    figure.text(
        right,
        0.958,
        bars,
        ha="right",
        va="top",
        fontproperties=_font(9),
        color=_MUTED,
        parse_math=False,
    )
    figure.text(
        left - 0.08,
        0.015,
        _text(lang, "note"),
        ha="left",
        va="bottom",
        fontproperties=_font(8.5),
        color=_MUTED,
        parse_math=False,
    )


def _shade(shades: tuple[str, ...], exchange: int) -> str:
    return shades[exchange % len(shades)]


def _legend(figure: Figure, exchanges: tuple[str, ...], x: float, lang: str) -> None:
    """Name each exchange and side in one row: "Binance long" ... "OKX short"."""
    names = [_EXCHANGE_NAMES.get(e, e.capitalize()) for e in exchanges]
    longs = [Patch(facecolor=_shade(LONG_SHADES, e)) for e in range(len(exchanges))]
    shorts = [Patch(facecolor=_shade(SHORT_SHADES, e)) for e in range(len(exchanges))]
    handles: list[Artist | tuple[Artist, ...]]
    if len(exchanges) <= 3:
        handles = [*longs, *shorts]
        labels = [_text(lang, "long", exchange=n) for n in names]
        labels += [_text(lang, "short", exchange=n) for n in names]
    else:  # six labels or more would not fit a row: one long+short swatch per exchange
        handles = list(zip(longs, shorts, strict=True))
        labels = names
    # Built directly: Figure.legend's annotations do not admit tuple handles, Legend's do.
    legend = Legend(
        figure,
        handles,
        labels,
        handler_map={tuple: HandlerTuple(ndivide=None, pad=0.0)},
        loc="upper left",
        bbox_to_anchor=(x - 0.008, 0.845),
        ncol=len(labels),
        frameon=False,
        prop=_font(10),
        handlelength=1.2 if len(exchanges) <= 3 else 2.0,
        handletextpad=0.4,
        columnspacing=1.2,
        borderaxespad=0.0,
    )
    figure.add_artist(legend)


def _totals_line(figure: Figure, series: Series, x: float, lang: str) -> None:
    """Draw "▲ Longs $X (n)" in red, then "▼ Shorts $Y (m)" in green, on one line."""
    totals = series.totals
    font = _font(12.5, bold=True)
    longs = figure.text(
        x,
        0.885,
        _text(lang, "longs", usd=format_usd(totals.long_usd), count=f"{totals.long_count:,}"),
        fontproperties=font,
        color=LONG_SHADES[0],
        va="top",
        parse_math=False,
    )
    # Place the second part after the first one's measured width (layout only, no drawing).
    extent = longs.get_window_extent()
    after = figure.transFigure.inverted().transform((extent.x1, extent.y0))[0] + 0.025
    figure.text(
        after,
        0.885,
        _text(lang, "shorts", usd=format_usd(totals.short_usd), count=f"{totals.short_count:,}"),
        fontproperties=font,
        color=SHORT_SHADES[0],
        va="top",
        parse_math=False,
    )


def _add_bars(
    axes: Axes,
    lefts: npt.NDArray[np.float64],
    rights: npt.NDArray[np.float64],
    bottoms: npt.NDArray[np.float64],
    tops: npt.NDArray[np.float64],
    colour: str,
) -> None:
    """Draw rectangles as one collection: far faster than one Rectangle patch per bar."""
    drawn = tops != bottoms
    if not drawn.any():
        return
    lo, hi, y0, y1 = lefts[drawn], rights[drawn], bottoms[drawn], tops[drawn]
    vertices = np.stack(
        [
            np.stack([lo, y0], axis=1),
            np.stack([lo, y1], axis=1),
            np.stack([hi, y1], axis=1),
            np.stack([hi, y0], axis=1),
        ],
        axis=1,
    )
    axes.add_collection(
        PolyCollection(list(vertices), facecolors=colour, edgecolors="none", linewidths=0.0),
        autolim=False,
    )


def _usd_axis(axes: Axes, long_peak: float, short_peak: float) -> None:
    """Scale both sides alike; the smaller keeps at least a quarter of the larger's room."""
    peak = max(long_peak, short_peak)
    if peak <= 0:
        axes.set_ylim(-1.0, 1.0)
        axes.set_yticks([0.0], ["$0"], fontproperties=_font(10), parse_math=False)
        return
    top = max(long_peak, 0.25 * peak) * 1.1
    bottom = max(short_peak, 0.25 * peak) * 1.1
    locator = MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10])
    ticks = [float(t) for t in locator.tick_values(-bottom, top) if -bottom <= t <= top]
    axes.set_ylim(-bottom, top)
    axes.set_yticks(
        ticks, [_axis_usd(t) for t in ticks], fontproperties=_font(10), parse_math=False
    )
    axes.yaxis.grid(True, color=_GRID, linewidth=0.8)
    axes.set_axisbelow(True)


def _axis_usd(value: float) -> str:
    """Return a short tick label of the size (shorts are drawn below zero but are positive)."""
    magnitude = abs(value)
    for unit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= unit:
            return f"${magnitude / unit:.3g}{suffix}"
    return f"${magnitude:.3g}"


def _time_axis(axes: Axes, series: Series, tz: dt.tzinfo) -> None:
    """Tick round times of the zone's clock; the first tick and each midnight show the date."""
    ticks, labels = time_ticks(series.start_ms, series.end_ms, tz)
    axes.set_xticks([float(t) for t in ticks], labels, fontproperties=_font(10), parse_math=False)


def time_ticks(start_ms: int, end_ms: int, tz: dt.tzinfo) -> tuple[list[int], list[str]]:
    """Return the x ticks (ms) and their labels for a span, at round local times."""
    span_s = (end_ms - start_ms) / 1000
    step_s = next((s for s in _TICK_STEPS_S if span_s / s <= _MAX_TIME_TICKS), _TICK_STEPS_S[-1])
    step_ms = step_s * 1000
    # Round on the local clock: with the offset at the start (a DST change inside a day-long
    # chart moves the later ticks by the change, still correctly labelled).
    offset = dt.datetime.fromtimestamp(start_ms / 1000, tz=tz).utcoffset() or dt.timedelta()
    offset_ms = int(offset.total_seconds() * 1000)
    first = -(-(start_ms + offset_ms) // step_ms) * step_ms - offset_ms
    # A label centred on the right edge would be cut off by the figure's edge.
    last = end_ms - int(0.03 * (end_ms - start_ms))
    ticks = list(range(first, last + 1, step_ms))
    labels = [_time_label(t, step_s, tz, dated=i == 0) for i, t in enumerate(ticks)]
    return ticks, labels


def _time_label(ts_ms: int, step_s: int, tz: dt.tzinfo, *, dated: bool) -> str:
    moment = dt.datetime.fromtimestamp(ts_ms / 1000, tz=tz)
    clock = moment.strftime("%H:%M:%S" if step_s < 60 else "%H:%M")
    if dated or (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return f"{clock}\n{_MONTHS[moment.month - 1]} {moment.day}"
    return clock
