"""Market views: /stats, /top, /latest, scheduled summaries and chart captions."""

from __future__ import annotations

from collections.abc import Sequence

from aggregation.query import (
    ExchangeTotals,
    FeedCoverage,
    Leaderboard,
    PeriodSummary,
    RankedAsset,
    Series,
    WindowTotals,
)
from bot.render.common import (
    CELL_W,
    LABEL_W,
    MAX_GAPS,
    align_left,
    align_right,
    clip,
    coverage_lines,
    event_line,
    join_lines,
    local_time,
    phrase,
    pre_block,
    same_day,
    table_header,
    table_row,
    time_span,
    venue_notes,
)
from bot.render.html import MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH, fit, plain_text, utf16_width
from bot.texts.catalog import DEFAULT_LOCALE, Html, Locale
from bot.texts.durations import format_window
from bot.texts.formatting import format_threshold, format_usd
from collectors.record import Liquidation

TOP_SUMMARY = 5  # assets per side in a scheduled summary


def stats(
    asset: str | None,
    windows: Sequence[WindowTotals],
    coverage: Sequence[FeedCoverage],
    *,
    detail_s: int | None = None,
    loc: Locale = DEFAULT_LOCALE,
    since_ms: int | None = None,
) -> str:
    """Return /stats: every window's totals and counts, one window (`detail_s`, else the
    longest) by exchange, and coverage (`since_ms`: collecting began inside the window)."""
    if asset is None:
        head = phrase(loc, "stats_head_market")
    else:
        head = phrase(loc, "stats_head_asset", asset=clip(asset))
    if not windows:
        return str(join_lines([head, phrase(loc, "stats_no_windows"), phrase(loc, "data_note")]))
    longest = max(windows, key=lambda w: w.window_s)
    detail = next((w for w in windows if w.window_s == detail_s), longest)
    window = format_window(detail.window_s)
    span = phrase(loc, "last_window", window=format_window(longest.window_s))
    as_of = phrase(loc, "stats_as_of", time=local_time(loc, longest.end_ms))

    def render(level: int) -> Html:
        lines = [head, as_of]
        if all(w.totals.count == 0 for w in windows):
            lines.append(phrase(loc, "stats_empty", span=span))
        else:
            lines.append(pre_block(_window_rows(loc, windows[:level])))
            if detail.exchanges:
                lines.append(phrase(loc, "stats_by_exchange", window=window))
                lines.append(pre_block(_exchange_rows(loc, detail.exchanges[:level])))
        lines += coverage_lines(loc, coverage, span, level, live=True, since_ms=since_ms)
        lines.append(phrase(loc, "data_note"))
        lines += venue_notes(loc, coverage)
        return join_lines(lines)

    return str(fit(render, max(len(windows), len(detail.exchanges), len(coverage), MAX_GAPS)))


def top(
    board: Leaderboard,
    coverage: Sequence[FeedCoverage],
    *,
    loc: Locale = DEFAULT_LOCALE,
    since_ms: int | None = None,
) -> str:
    """Return /top: the most liquidated assets of a window, longs and shorts, and coverage."""
    window = format_window(board.window_s)
    span = phrase(loc, "last_window", window=window)

    def render(level: int) -> Html:
        lines = [
            phrase(loc, "top_head", window=window),
            phrase(loc, "top_as_of", time=local_time(loc, board.end_ms)),
            phrase(loc, "top_longs"),
            _ranked(loc, board.longs[:level]),
            phrase(loc, "top_shorts"),
            _ranked(loc, board.shorts[:level]),
        ]
        lines += coverage_lines(loc, coverage, span, level, live=True, since_ms=since_ms)
        lines.append(phrase(loc, "data_note"))
        lines += venue_notes(loc, coverage)
        return join_lines(lines)

    return str(fit(render, max(len(board.longs), len(board.shorts), len(coverage), MAX_GAPS)))


def latest(
    records: Sequence[Liquidation],
    *,
    asset: str | None,
    min_usd: float,
    loc: Locale = DEFAULT_LOCALE,
) -> str:
    """Return /latest: one line per event, newest first, under a head naming the floor."""
    floor = (
        phrase(loc, "latest_floor", usd=format_threshold(min_usd))
        if min_usd > 0
        else phrase(loc, "latest_any_size")
    )
    who = phrase(loc, "latest_all_assets") if asset is None else clip(asset)
    head = phrase(loc, "latest_head", asset=who, floor=floor)
    if not records:
        return str(join_lines([head, phrase(loc, "latest_none")]))
    newest_first = sorted(records, key=lambda r: r.ts_ms, reverse=True)
    with_date = not same_day(loc, newest_first[-1].ts_ms, newest_first[0].ts_ms)
    # An event line is over 30 characters, so no more than this many can fit one message.
    lines = [
        event_line(loc, record, with_date=with_date)
        for record in newest_first[: MAX_TEXT_LENGTH // 30]
    ]

    def render(shown: int) -> Html:
        body = [head, *lines[:shown]]
        if shown < len(records):
            body.append(phrase(loc, "more_lines", count=len(records) - shown))
        return join_lines(body)

    return str(fit(render, len(lines)))


def summary(data: PeriodSummary, *, label: str, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return a scheduled summary of one period; it always fits one message."""
    period = phrase(loc, "summary_period")
    with_date = not same_day(loc, data.start_ms, max(data.start_ms, data.end_ms - 1))
    totals = data.totals

    def render(level: int) -> Html:
        lines = [
            phrase(loc, "summary_head", label=clip(label, 64)),
            time_span(loc, data.start_ms, data.end_ms),
        ]
        if totals.count == 0:
            lines.append(phrase(loc, "summary_empty"))
        else:
            lines += [
                phrase(
                    loc,
                    "summary_totals",
                    long_usd=format_usd(totals.long_usd),
                    long_count=totals.long_count,
                    short_usd=format_usd(totals.short_usd),
                    short_count=totals.short_count,
                ),
                phrase(loc, "summary_total", usd=format_usd(totals.total_usd), count=totals.count),
            ]
            if data.exchanges:
                lines.append(phrase(loc, "summary_by_exchange"))
                lines.append(pre_block(_exchange_rows(loc, data.exchanges[:level])))
            top_n = min(level, TOP_SUMMARY)
            lines += [phrase(loc, "summary_top_longs"), _ranked(loc, data.longs[:top_n])]
            lines += [phrase(loc, "summary_top_shorts"), _ranked(loc, data.shorts[:top_n])]
            if data.largest is not None:
                event = event_line(loc, data.largest, with_date=with_date)
                lines.append(phrase(loc, "summary_largest", event=event))
        lines += coverage_lines(loc, data.coverage, period, level, live=False)
        lines.append(phrase(loc, "data_note"))
        lines += venue_notes(loc, data.coverage)
        return join_lines(lines)

    return str(fit(render, max(len(data.exchanges), len(data.coverage), TOP_SUMMARY, MAX_GAPS)))


def period_label(period_s: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return "last hour" for 3600 (the periods summaries cover), "last 2h" otherwise."""
    if period_s in (900, 3600, 14400, 86400):
        return str(phrase(loc, f"period_{period_s}"))
    return str(phrase(loc, "period_other", window=format_window(period_s)))


def chart_caption(
    series: Series,
    coverage: Sequence[FeedCoverage],
    *,
    loc: Locale = DEFAULT_LOCALE,
    since_ms: int | None = None,
) -> str:
    """Return a chart's caption: what it shows, its totals, coverage gaps and the data note."""
    window = format_window(series.span_s)
    subject = phrase(loc, "chart_market") if series.asset is None else clip(series.asset)
    head = phrase(
        loc,
        "chart_caption",
        subject=subject,
        window=window,
        long_usd=format_usd(series.totals.long_usd),
        short_usd=format_usd(series.totals.short_usd),
    )
    span = phrase(loc, "last_window", window=window)
    for level in (MAX_GAPS, 1, 0):
        lines = [head, *coverage_lines(loc, coverage, span, level, live=True, since_ms=since_ms)]
        caption = join_lines([*lines, phrase(loc, "data_note"), *venue_notes(loc, coverage)])
        if utf16_width(plain_text(caption)) <= MAX_CAPTION_LENGTH:
            return str(caption)
    return str(head)


def chart_failed(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply when a chart could not be drawn."""
    return str(phrase(loc, "chart_failed"))


def _window_rows(loc: Locale, windows: Sequence[WindowTotals]) -> list[str]:
    rows = [table_header(loc, phrase(loc, "col_usd"))]
    empty = plain_text(phrase(loc, "no_liquidations"))
    for window in windows:
        name = format_window(window.window_s)
        t = window.totals
        if t.count == 0:
            rows.append(f"{align_left(name, LABEL_W)} {empty}")
        else:
            usd = [format_usd(t.long_usd), format_usd(t.short_usd), format_usd(t.total_usd)]
            rows.append(table_row(name, usd))
    rows.append("")
    rows.append(table_header(loc, phrase(loc, "col_events")))
    for window in windows:
        t = window.totals
        counts = [f"{t.long_count:,}", f"{t.short_count:,}", f"{t.count:,}"]
        rows.append(table_row(format_window(window.window_s), counts))
    return rows


def _exchange_rows(loc: Locale, exchanges: Sequence[ExchangeTotals]) -> list[str]:
    rows = [table_header(loc, phrase(loc, "col_usd"))]
    for exchange in exchanges:
        t = exchange.totals
        usd = [format_usd(t.long_usd), format_usd(t.short_usd), format_usd(t.total_usd)]
        rows.append(table_row(exchange.exchange, usd))
    return rows


def _ranked(loc: Locale, assets: Sequence[RankedAsset]) -> Html:
    if not assets:
        return phrase(loc, "no_liquidations")
    rank, asset, usd, count = (
        plain_text(phrase(loc, "col_rank")),
        plain_text(phrase(loc, "col_asset")),
        plain_text(phrase(loc, "col_usd")),
        plain_text(phrase(loc, "col_count")),
    )
    head = f"{align_right(rank, 2)} {align_left(asset, 10)} {align_right(usd, CELL_W)}"
    rows = [f"{head} {align_right(count, 7)}"]
    for position, entry in enumerate(assets, 1):
        rows.append(
            f"{position:>2} {align_left(clip(entry.asset, 12), 10)} "
            f"{align_right(format_usd(entry.usd), CELL_W)} {entry.count:>7,}"
        )
    return pre_block(rows)
