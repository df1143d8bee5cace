"""What several messages share: catalog lookup, names, times, event lines, tables, coverage."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import unicodedata
from collections.abc import Sequence

from aggregation.query import Backtest, FeedCoverage
from bot.render.html import escape, plain_text
from bot.rules.cascade import CascadeRule
from bot.texts.catalog import Html, Locale, text
from bot.texts.durations import format_window
from bot.texts.formatting import (
    format_duration,
    format_offset,
    format_price,
    format_threshold,
    format_time,
    format_usd,
)
from collectors.record import Liquidation, Side

MAX_GAPS = 3  # gaps listed per feed; older ones are counted

# The seed's convention: red = a long position was liquidated, green = a short.
DOT = {Side.LONG: "🔴", Side.SHORT: "🟢"}

# Table geometry for <pre> blocks: a 7-character label and three 8-character cells make 34
# columns, which a phone shows without wrapping.
LABEL_W = 7
CELL_W = 8


def phrase(loc: Locale, key: str, /, **values: str | int) -> Html:
    """Return catalog entry `key` in the locale's language, values escaped."""
    return text(loc.lang, key, **values)


def join_lines(lines: Sequence[str]) -> Html:
    """Return the lines as one message body."""
    return Html("\n".join(lines))


def clip(value: str, width: int = 24) -> str:
    """Return a value fit for one line: control characters replaced, at most `width` long."""
    # A newline or NUL from an exchange or a user must not break a line, a table or a message.
    clean = "".join(
        "?" if unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" else char
        for char in value
    )
    return clean if len(clean) <= width else clean[: width - 1] + "…"


def venue(record: Liquidation) -> str:
    """Return "exchange market" of an event, each part clipped."""
    return f"{clip(record.exchange, 12)} {clip(record.market, 12)}"


def _side(loc: Locale, side: Side) -> Html:
    if side is Side.LONG:
        return phrase(loc, "side_long")
    return phrase(loc, "side_short")


def same_day(loc: Locale, a_ms: int, b_ms: int) -> bool:
    """Return True if both times fall on one calendar day in the chat's time zone."""
    return _local_date(loc, a_ms) == _local_date(loc, b_ms)


def _local_date(loc: Locale, ts_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=loc.tz).date()


def local_time(loc: Locale, ts_ms: int, *, with_date: bool = True) -> str:
    """Return a time as the chat reads it, in its time zone."""
    return format_time(ts_ms, loc.tz, with_date=with_date)


def time_span(loc: Locale, start_ms: int, end_ms: int) -> Html:
    """Return a span of time; the end's date is left out on the same day."""
    if start_ms == end_ms:
        return Html(escape(local_time(loc, start_ms)))
    end = local_time(loc, end_ms, with_date=not same_day(loc, start_ms, end_ms))
    return phrase(loc, "span", start=local_time(loc, start_ms), end=end)


def event_line(loc: Locale, record: Liquidation, *, with_date: bool) -> Html:
    """Return one event as a line: dot, asset, side, size, price, venue, time."""
    return phrase(
        loc,
        "event_line",
        dot=DOT[record.side],
        asset=clip(record.base),
        side=_side(loc, record.side),
        usd=format_usd(record.notional_usd),
        price=format_price(record.price),
        venue=venue(record),
        time=local_time(loc, record.ts_ms, with_date=with_date),
    )


def _percent(share: float) -> str:
    # Rounded down, so a feed that missed any time never reads as 100.0%.
    tenths = math.floor(max(0.0, min(1.0, share)) * 1000 + 1e-9)
    return f"{tenths / 10:.1f}%"


def pre_block(rows: Sequence[str]) -> Html:
    """Return rows as one monospace block; padding is done before escaping, so columns align."""
    return Html("<pre>" + escape("\n".join(rows)) + "</pre>")


def table_row(label: str, cells: Sequence[str]) -> str:
    """Return a table row: the label left-aligned, the cells right-aligned."""
    cells_text = "".join(" " + align_right(cell, CELL_W) for cell in cells)
    return f"{align_left(clip(label, LABEL_W), LABEL_W)}{cells_text}".rstrip()


def _columns(value: str) -> int:
    """Return how many monospace columns a value takes: CJK and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in value)


def align_left(value: str, width: int) -> str:
    """Pad a value on the right to `width` monospace columns."""
    return value + " " * max(0, width - _columns(value))


def align_right(value: str, width: int) -> str:
    """Pad a value on the left to `width` monospace columns."""
    return " " * max(0, width - _columns(value)) + value


def table_header(loc: Locale, label: Html) -> str:
    """Return a table's header row; cells are plain text, escaped with the whole block."""
    cells = [phrase(loc, "col_long"), phrase(loc, "col_short"), phrase(loc, "col_total")]
    return table_row(plain_text(label), [plain_text(cell) for cell in cells])


def coverage_lines(
    loc: Locale,
    coverage: Sequence[FeedCoverage],
    span: Html,
    level: int,
    *,
    live: bool,
    since_ms: int | None = None,
) -> list[Html]:
    """Return a line per feed that missed part of the span, with its newest gaps; with
    `since_ms` (collecting began inside the span), one "collecting since" line first and
    real outages only."""
    # A `live` span ends now (/stats, /top): a feed down at its end is down now.
    lines: list[Html] = []
    if since_ms is not None:
        lines.append(phrase(loc, "collecting_since", time=local_clock(loc, since_ms)))
        coverage = [_after(feed, since_ms) for feed in coverage]
        missing = [feed for feed in coverage if feed.gaps or not feed.connected]
    else:
        missing = [feed for feed in coverage if feed.uptime_share < 1.0]
    for feed in missing[: max(1, level)]:
        name = clip(feed.feed_id)
        share = _percent(feed.uptime_share)
        if feed.connected:
            lines.append(phrase(loc, "feed_down", feed=name, share=share, span=span))
        elif live:
            lines.append(phrase(loc, "feed_down_now", feed=name, share=share, span=span))
        else:
            lines.append(phrase(loc, "feed_down_at_end", feed=name, share=share, span=span))
        keep = min(level, MAX_GAPS)
        shown = feed.gaps[max(0, len(feed.gaps) - keep) :] if keep else ()
        if len(shown) < len(feed.gaps):
            lines.append(phrase(loc, "more_gaps", count=len(feed.gaps) - len(shown)))
        for gap in shown:
            state = phrase(loc, "gap_backfilled") if gap.backfilled else phrase(loc, "gap_missing")
            start = local_time(loc, gap.start_ms)
            duration = format_duration((gap.end_ms - gap.start_ms) / 1000)
            lines.append(phrase(loc, "gap", start=start, duration=duration, state=state))
    if len(missing) > max(1, level):
        lines.append(phrase(loc, "more_feeds", count=len(missing) - max(1, level)))
    return lines


def _after(feed: FeedCoverage, since_ms: int) -> FeedCoverage:
    """Return a feed's coverage without the time before collecting began (no outage)."""
    return dataclasses.replace(feed, gaps=tuple(g for g in feed.gaps if g.start_ms > since_ms))


def local_clock(loc: Locale, ts_ms: int) -> str:
    """Return "HH:MM UTC+8": a time of day in the chat's zone."""
    moment = dt.datetime.fromtimestamp(ts_ms / 1000, tz=loc.tz)
    return f"{moment:%H:%M} {format_offset(moment.utcoffset())}"


def backtest_line(backtest: Backtest | None, loc: Locale) -> Html:
    """Return "would have alerted 14 times in the last 24h, largest $3.2M" (empty: no data)."""
    if backtest is None or not backtest.has_events:
        return Html("")
    span = format_window(backtest.span_s)
    if backtest.count == 0:
        return phrase(loc, "backtest_none", span=span)
    usd = format_usd(backtest.largest_usd)
    return phrase(loc, "backtest", count=backtest.count, span=span, usd=usd)


def venue_notes(loc: Locale, coverage: Sequence[FeedCoverage]) -> list[Html]:
    """Return the coverage note of each venue among these feeds that the data note leaves out
    (Binance, OKX and Bybit are in it), in a fixed order."""
    exchanges = {feed.exchange for feed in coverage}
    notes = {
        "gate": phrase(loc, "note_gate"),  # complete since 2026-08-20
        "htx": phrase(loc, "note_htx"),  # unknown
        "bitget": phrase(loc, "note_bitget"),  # sampled, amounts unverified
        "deribit": phrase(loc, "note_deribit"),  # complete
        "bitmex": phrase(loc, "note_bitmex"),  # complete at order level
        "bitfinex": phrase(loc, "note_bitfinex"),  # unknown
        "kraken": phrase(loc, "note_kraken"),  # unknown
    }
    return [note for venue, note in notes.items() if venue in exchanges]


def cascade_rule_text(loc: Locale, rule: CascadeRule, threshold_usd: float | None) -> Html:
    """Describe a cascade rule: "#C2 BTC: at least $5M within 2m" (the threshold now, if known,
    for a relative rule)."""
    asset = (
        phrase(loc, "rule_every_asset") if rule.asset is None else Html(escape(clip(rule.asset)))
    )
    window = format_window(rule.window_ms // 1000)
    if rule.min_usd is not None:
        return phrase(
            loc,
            "cascade_rule_abs",
            rule_id=str(rule.rule_id),
            asset=asset,
            usd=format_threshold(rule.min_usd),
            window=window,
        )
    multiple = f"{rule.multiple:g}"
    if threshold_usd is None:
        return phrase(
            loc,
            "cascade_rule_rel",
            rule_id=str(rule.rule_id),
            asset=asset,
            multiple=multiple,
            window=window,
        )
    return phrase(
        loc,
        "cascade_rule_rel_now",
        rule_id=str(rule.rule_id),
        asset=asset,
        multiple=multiple,
        window=window,
        usd=format_usd(threshold_usd),
    )
