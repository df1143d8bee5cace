"""Render every message the Telegram bot sends as Telegram HTML (pure: no I/O, no Telegram)."""

from __future__ import annotations

import datetime as dt
import heapq
import html
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aggregation.coverage import FeedCoverage
from aggregation.query import (
    ExchangeTotals,
    Leaderboard,
    PeriodSummary,
    RankedAsset,
    Series,
    WindowTotals,
)
from bot.prefs.chats import ChatPrefs, QuietHours
from bot.prefs.schedules import Schedule
from bot.rules.cascade import CascadeRule, CascadeSnapshot
from bot.rules.matching import Rule
from bot.texts.catalog import DEFAULT_LANG, DEFAULT_LOCALE, Html, Locale, text
from bot.texts.durations import format_window
from bot.texts.formatting import (
    format_duration,
    format_price,
    format_threshold,
    format_time,
    format_usd,
    zone_name,
)
from bot.texts.usage import UsageError
from collectors.record import Liquidation, Side

MAX_TEXT_LENGTH = 4096  # Telegram's limit on a message's text after entity parsing
MAX_CAPTION_LENGTH = 1024  # and on a photo's caption
DIGEST_MAX_LINES = 25  # more lines than this stop being readable on a phone
MAX_GAPS = 3  # gaps listed per feed; older ones are counted
TOP_SUMMARY = 5  # assets per side in a scheduled summary

# The seed's convention: red = a long position was liquidated, green = a short.
_DOT = {Side.LONG: "🔴", Side.SHORT: "🟢"}

# Table geometry for <pre> blocks: a 7-character label and three 8-character cells make 34
# columns, which a phone shows without wrapping.
_LABEL_W = 7
_CELL_W = 8

_DAY_MS = 86_400_000


# --- public API ------------------------------------------------------------------------------


def alert(record: Liquidation, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return one instant alert: asset, side, USD size, venue, symbol, price and time."""
    return str(
        _t(
            loc,
            "alert",
            dot=_DOT[record.side],
            asset=_name(record.base),
            liquidated=_liquidated(loc, record.side),
            usd=format_usd(record.notional_usd),
            venue=_venue(record),
            symbol=_name(record.symbol, 40),
            price=format_price(record.price),
            time=_time(loc, record.ts_ms),
        )
    )


def dropped_notice(dropped: int, uncertain: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the line reporting alerts not sent or not confirmed; empty when there are none."""
    details = []
    if dropped > 0:
        details.append(_t(loc, "notice_dropped", count=dropped))
    if uncertain > 0:
        details.append(_t(loc, "notice_uncertain", count=uncertain))
    if not details:
        return ""
    return str(_t(loc, "notice", details=Html(" ".join(details))))


def digest(
    records: Sequence[Liquidation],
    *,
    dropped: int = 0,
    uncertain: int = 0,
    held: bool = False,
    loc: Locale = DEFAULT_LOCALE,
) -> str:
    """Merge a chat's pending alerts into one message: totals, span, the largest ones.

    `held`: the alerts waited for the chat's quiet hours to end, and the digest says so.
    """
    notice = dropped_notice(dropped, uncertain, loc=loc)
    if not records:
        return notice
    long_usd = short_usd = 0.0
    long_count = short_count = 0
    first = last = records[0].ts_ms
    for record in records:
        if record.side is Side.LONG:
            long_usd += record.notional_usd
            long_count += 1
        else:
            short_usd += record.notional_usd
            short_count += 1
        first = min(first, record.ts_ms)
        last = max(last, record.ts_ms)
    largest = heapq.nlargest(DIGEST_MAX_LINES, records, key=_notional)
    with_date = not _same_day(loc, first, last)
    lines = [_event_line(loc, record, with_date=with_date) for record in largest]
    head = [Html(notice)] if notice else []
    if held:
        head.append(_t(loc, "digest_held"))
    head += [
        _t(loc, "digest_head", count=len(records)),
        _t(
            loc,
            "digest_totals",
            long_usd=format_usd(long_usd),
            long_count=long_count,
            short_usd=format_usd(short_usd),
            short_count=short_count,
        ),
        _span(loc, first, last),
        _t(loc, "digest_largest"),
    ]

    def render(shown: int) -> Html:
        body = head + lines[:shown]
        rest = len(records) - shown
        if rest:
            rest_usd = max(0.0, long_usd + short_usd - sum(map(_notional, largest[:shown])))
            body.append(_t(loc, "digest_more", count=rest, usd=format_usd(rest_usd)))
        return _join(body)

    return str(_fit(render, len(lines)))


def stats(
    asset: str | None,
    windows: Sequence[WindowTotals],
    coverage: Sequence[FeedCoverage],
    *,
    detail_s: int | None = None,
    loc: Locale = DEFAULT_LOCALE,
) -> str:
    """Return /stats: every window's totals and counts, one window (`detail_s`, else the
    longest) by exchange, and coverage."""
    if asset is None:
        head = _t(loc, "stats_head_market")
    else:
        head = _t(loc, "stats_head_asset", asset=_name(asset))
    if not windows:
        return str(_join([head, _t(loc, "stats_no_windows"), _t(loc, "data_note")]))
    longest = max(windows, key=lambda w: w.window_s)
    detail = next((w for w in windows if w.window_s == detail_s), longest)
    window = format_window(detail.window_s)
    span = _t(loc, "last_window", window=format_window(longest.window_s))
    as_of = _t(loc, "stats_as_of", time=_time(loc, longest.end_ms))

    def render(level: int) -> Html:
        lines = [head, as_of]
        if all(w.totals.count == 0 for w in windows):
            lines.append(_t(loc, "stats_empty", span=span))
        else:
            lines.append(_pre(_window_rows(loc, windows[:level])))
            if detail.exchanges:
                lines.append(_t(loc, "stats_by_exchange", window=window))
                lines.append(_pre(_exchange_rows(loc, detail.exchanges[:level])))
        lines += _coverage_lines(loc, coverage, span, level, live=True)
        lines.append(_t(loc, "data_note"))
        return _join(lines)

    return str(_fit(render, max(len(windows), len(detail.exchanges), len(coverage), MAX_GAPS)))


def top(
    board: Leaderboard, coverage: Sequence[FeedCoverage], *, loc: Locale = DEFAULT_LOCALE
) -> str:
    """Return /top: the most liquidated assets of a window, longs and shorts, and coverage."""
    window = format_window(board.window_s)
    span = _t(loc, "last_window", window=window)

    def render(level: int) -> Html:
        lines = [
            _t(loc, "top_head", window=window),
            _t(loc, "top_as_of", time=_time(loc, board.end_ms)),
            _t(loc, "top_longs"),
            _ranked(loc, board.longs[:level]),
            _t(loc, "top_shorts"),
            _ranked(loc, board.shorts[:level]),
        ]
        lines += _coverage_lines(loc, coverage, span, level, live=True)
        lines.append(_t(loc, "data_note"))
        return _join(lines)

    return str(_fit(render, max(len(board.longs), len(board.shorts), len(coverage), MAX_GAPS)))


def latest(
    records: Sequence[Liquidation],
    *,
    asset: str | None,
    min_usd: float,
    loc: Locale = DEFAULT_LOCALE,
) -> str:
    """Return /latest: one line per event, newest first, under a head naming the floor."""
    floor = (
        _t(loc, "latest_floor", usd=format_threshold(min_usd))
        if min_usd > 0
        else _t(loc, "latest_any_size")
    )
    who = _t(loc, "latest_all_assets") if asset is None else _name(asset)
    head = _t(loc, "latest_head", asset=who, floor=floor)
    if not records:
        return str(_join([head, _t(loc, "latest_none")]))
    newest_first = sorted(records, key=lambda r: r.ts_ms, reverse=True)
    with_date = not _same_day(loc, newest_first[-1].ts_ms, newest_first[0].ts_ms)
    # An event line is over 30 characters, so no more than this many can fit one message.
    lines = [
        _event_line(loc, record, with_date=with_date)
        for record in newest_first[: MAX_TEXT_LENGTH // 30]
    ]

    def render(shown: int) -> Html:
        body = [head, *lines[:shown]]
        if shown < len(records):
            body.append(_t(loc, "more_lines", count=len(records) - shown))
        return _join(body)

    return str(_fit(render, len(lines)))


def summary(data: PeriodSummary, *, label: str, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return a scheduled summary of one period; it always fits one message."""
    period = _t(loc, "summary_period")
    with_date = not _same_day(loc, data.start_ms, max(data.start_ms, data.end_ms - 1))
    totals = data.totals

    def render(level: int) -> Html:
        lines = [
            _t(loc, "summary_head", label=_name(label, 64)),
            _span(loc, data.start_ms, data.end_ms),
        ]
        if totals.count == 0:
            lines.append(_t(loc, "summary_empty"))
        else:
            lines += [
                _t(
                    loc,
                    "summary_totals",
                    long_usd=format_usd(totals.long_usd),
                    long_count=totals.long_count,
                    short_usd=format_usd(totals.short_usd),
                    short_count=totals.short_count,
                ),
                _t(loc, "summary_total", usd=format_usd(totals.total_usd), count=totals.count),
            ]
            if data.exchanges:
                lines.append(_t(loc, "summary_by_exchange"))
                lines.append(_pre(_exchange_rows(loc, data.exchanges[:level])))
            top_n = min(level, TOP_SUMMARY)
            lines += [_t(loc, "summary_top_longs"), _ranked(loc, data.longs[:top_n])]
            lines += [_t(loc, "summary_top_shorts"), _ranked(loc, data.shorts[:top_n])]
            if data.largest is not None:
                event = _event_line(loc, data.largest, with_date=with_date)
                lines.append(_t(loc, "summary_largest", event=event))
        lines += _coverage_lines(loc, data.coverage, period, level, live=False)
        lines.append(_t(loc, "data_note"))
        return _join(lines)

    return str(_fit(render, max(len(data.exchanges), len(data.coverage), TOP_SUMMARY, MAX_GAPS)))


def cascade_body(snap: CascadeSnapshot, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return a cascade message without its final line and note: totals, split, the largest."""
    exchanges = " · ".join(f"{_name(name, 12)} {format_usd(usd)}" for name, usd in snap.exchanges)
    with_date = not _same_day(loc, snap.started_ms, snap.last_ms)
    lines = [
        _t(
            loc,
            "cascade_head",
            asset=_name(snap.asset),
            usd=format_usd(snap.usd),
            duration=format_duration((snap.last_ms - snap.started_ms) / 1000),
        ),
        _t(
            loc,
            "digest_totals",
            long_usd=format_usd(snap.long_usd),
            long_count=snap.long_count,
            short_usd=format_usd(snap.short_usd),
            short_count=snap.short_count,
        ),
        Html(_escape(exchanges)),
        _t(loc, "summary_largest", event=_event_line(loc, snap.largest, with_date=with_date)),
        _t(
            loc,
            "cascade_since",
            start=_time(loc, snap.started_ms, with_date=with_date),
            rule=_cascade_rule_text(loc, snap.rule, snap.threshold_usd),
        ),
    ]
    return str(_join(lines))


def cascade(snap: CascadeSnapshot, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return a cascade message as it is now: the body, a final line once over, the note."""
    lines = [Html(cascade_body(snap, loc=loc))]
    if snap.ended_ms is not None:
        lines.append(
            _t(
                loc,
                "cascade_over",
                time=_time(loc, snap.ended_ms),
                peak=format_usd(snap.peak_window_usd),
                window=format_window(snap.rule.window_ms // 1000),
            )
        )
    lines.append(_t(loc, "data_note"))
    return str(_join(lines))


def cascade_orphaned(body: str, restarted_ms: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the last text of a cascade the bot lost track of when it restarted."""
    line = _t(loc, "cascade_orphaned", time=_time(loc, restarted_ms))
    return str(_join([Html(body), line, _t(loc, "data_note")]))


def cascade_rule_added(rule: CascadeRule, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /cascade, restating the rule as understood."""
    return str(_t(loc, "cascade_added", rule=_cascade_rule_text(loc, rule, None)))


def cascades_removed(count: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /cascade off."""
    if count <= 0:
        return str(_t(loc, "cascades_removed_none"))
    return str(_t(loc, "cascades_removed", count=count))


def chart_caption(
    series: Series, coverage: Sequence[FeedCoverage], *, loc: Locale = DEFAULT_LOCALE
) -> str:
    """Return a chart's caption: what it shows, its totals, coverage gaps and the data note."""
    window = format_window(series.span_s)
    subject = _t(loc, "chart_market") if series.asset is None else _name(series.asset)
    head = _t(
        loc,
        "chart_caption",
        subject=subject,
        window=window,
        long_usd=format_usd(series.totals.long_usd),
        short_usd=format_usd(series.totals.short_usd),
    )
    span = _t(loc, "last_window", window=window)
    for level in (MAX_GAPS, 1, 0):
        lines = [head, *_coverage_lines(loc, coverage, span, level, live=True)]
        caption = _join([*lines, _t(loc, "data_note")])
        if _width(plain_text(caption)) <= MAX_CAPTION_LENGTH:
            return str(caption)
    return str(head)


def chart_failed(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply when a chart could not be drawn."""
    return str(_t(loc, "chart_failed"))


def period_label(period_s: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return "last hour" for 3600 (the periods summaries cover), "last 2h" otherwise."""
    if period_s in (900, 3600, 14400, 86400):
        return str(_t(loc, f"period_{period_s}"))
    return str(_t(loc, "period_other", window=format_window(period_s)))


def rules_list(
    rules: Sequence[Rule],
    schedule: Schedule | None,
    *,
    cascades: Sequence[CascadeRule] = (),
    prefs: ChatPrefs | None = None,
    loc: Locale = DEFAULT_LOCALE,
) -> str:
    """Return /subs: one line per rule, the summary schedule, the chat's preferences and how
    to change them."""
    most_assets = max((len(rule.assets) + len(rule.exchanges) for rule in rules), default=0)

    def render(level: int) -> Html:
        # Levels first add rules (one asset each), then assets to every rule.
        shown = min(len(rules), level)
        per_rule = max(1, level - len(rules) + 1)
        lines = [_t(loc, "rules_head")]
        if not rules:
            lines.append(_t(loc, "rules_none"))
        for rule in rules[:shown]:
            desc = _rule_text(loc, rule, per_rule)
            lines.append(_t(loc, "rule_line", rule_id=str(rule.rule_id), rule=desc))
        if shown < len(rules):
            lines.append(_t(loc, "rules_more", count=len(rules) - shown))
        lines += [_cascade_rule_text(loc, rule, None) for rule in cascades]
        lines.append(_t(loc, "rules_schedule", schedule=_schedule(loc, schedule)))
        if prefs is not None:
            lines.append(_prefs_line(loc, prefs))
        lines.append(_t(loc, "rules_change"))
        return _join(lines)

    return str(_fit(render, len(rules) + most_assets))


def rule_added(rule: Rule, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /subscribe, restating the rule as understood."""

    def render(level: int) -> Html:
        desc = _rule_text(loc, rule, max(1, level))
        return _t(loc, "rule_added", rule_id=str(rule.rule_id), rule=desc)

    return str(_fit(render, len(rule.assets) + len(rule.exchanges)))


def language_set(lang: str | None, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /lang: the chosen language, or None for each user's own."""
    if lang is None:
        return str(_t(loc, "lang_auto", name=_t(loc, "lang_name")))
    return str(_t(loc, "lang_set", name=_t(loc, "lang_name")))


def zone_set(zone_name: str, now_ms: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /tz: the zone and the time there now."""
    return str(_t(loc, "tz_set", zone=_name(zone_name, 40), time=_time(loc, now_ms)))


def quiet_set(quiet: QuietHours | None, zone_name: str, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /quiet; None means quiet hours were turned off."""
    if quiet is None:
        return str(_t(loc, "quiet_off"))
    return str(_t(loc, "quiet_set", hours=quiet.label(), zone=_name(zone_name, 40)))


def rules_removed(count: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /unsubscribe."""
    if count <= 0:
        return str(_t(loc, "rules_removed_none"))
    return str(_t(loc, "rules_removed", count=count))


def schedule_set(schedule: Schedule | None, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /summary; None means summaries were turned off."""
    if schedule is None:
        return str(_t(loc, "schedule_off"))
    return str(_t(loc, "schedule_set", schedule=_schedule(loc, schedule)))


def usage_key(key: str, example: str, *, loc: Locale = DEFAULT_LOCALE, **values: str | int) -> str:
    """Return the reply to a bad command whose reason is catalog entry `key`."""
    reason = _t(
        loc, key, **{k: _name(v, 200) if isinstance(v, str) else v for k, v in values.items()}
    )
    return str(_t(loc, "usage", reason=reason, example=_name(example, 200)))


def usage_error(exc: UsageError, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to a command whose arguments failed to parse."""
    return usage_key(exc.key, exc.example, loc=loc, **exc.values)


def not_admin(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the refusal for a member who is not a chat administrator."""
    return str(_t(loc, "not_admin"))


def help_text(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return /help: every command with examples, the colours and the data note."""
    return str(_join([_t(loc, "help_body"), Html(""), _t(loc, "data_note")]))


def start_text(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return /start: what the bot does, then the same guide as /help."""
    return str(_join([_t(loc, "start_intro"), Html(""), Html(help_text(loc=loc))]))


def status(lines: Sequence[str], *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the admins' status report: the given lines, escaped, as many as fit."""
    escaped = [Html(_escape(_name(line, 1000))) for line in lines]

    def render(shown: int) -> Html:
        body = [_t(loc, "status_head"), *escaped[:shown]]
        if shown < len(escaped):
            body.append(_t(loc, "status_more", count=len(escaped) - shown))
        return _join(body)

    return str(_fit(render, len(escaped)))


def plain_text(html_text: str) -> str:
    """Return the text Telegram would show for `html_text`: tags removed, entities decoded."""
    return "".join(_decode(token.raw) if token.name is None else "" for token in _tokens(html_text))


def split_message(html_text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Split Telegram HTML between lines into parts of at most `limit` visible characters."""
    # Tags open at a cut are closed at the end of one part and reopened at the start of the
    # next, so every part parses alone. A line longer than `limit` is cut between characters
    # (never inside a tag or a character reference). Blank parts are left out: Telegram
    # refuses an empty message.
    if limit < 2:
        raise ValueError("limit must be at least 2 (one character can take two units)")
    parts: list[str] = []
    stack: list[_Token] = []  # tags open where the current part starts
    opening = ""
    body: list[str] = []
    size = 0  # visible length of body, in UTF-16 units

    def flush() -> None:
        nonlocal opening, body, size
        if body:
            closing = "".join(f"</{tag.name}>" for tag in reversed(stack))
            part = opening + "\n".join(body) + closing
            if plain_text(part).strip():
                parts.append(part)
        opening = "".join(tag.raw for tag in stack)
        body = []
        size = 0

    for line in _lines(html_text):
        for piece in _cut(line, limit):
            width = sum(_width(_decode(t.raw)) for t in piece if t.name is None)
            if body and size + 1 + width > limit:
                flush()
            size += width + (1 if body else 0)
            body.append("".join(t.raw for t in piece))
            for token in piece:
                _track(stack, token)
    flush()
    return parts


# --- the command menu ------------------------------------------------------------------------


_MENU = (
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
)


def commands(lang: str) -> tuple[tuple[str, str], ...]:
    """Return the command menu (name, description) in a language, for setMyCommands."""
    # /status is left out: it is for the bot's admins, so it belongs in their chat's scope.
    return tuple((name, str(text(lang, f"cmd_{name}"))) for name in _MENU)


COMMANDS: tuple[tuple[str, str], ...] = commands(DEFAULT_LANG)


# --- pieces shared by several messages -------------------------------------------------------


def _notional(record: Liquidation) -> float:
    return record.notional_usd


def _name(value: str, width: int = 24) -> str:
    """Return a value fit for one line: control characters replaced, at most `width` long."""
    # A newline or NUL from an exchange or a user must not break a line, a table or a message.
    clean = "".join(
        "?" if unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" else char
        for char in value
    )
    return clean if len(clean) <= width else clean[: width - 1] + "…"


def _venue(record: Liquidation) -> str:
    return f"{_name(record.exchange, 12)} {_name(record.market, 12)}"


def _liquidated(loc: Locale, side: Side) -> Html:
    if side is Side.LONG:
        return _t(loc, "liquidated_long")
    return _t(loc, "liquidated_short")


def _side(loc: Locale, side: Side) -> Html:
    if side is Side.LONG:
        return _t(loc, "side_long")
    return _t(loc, "side_short")


def _same_day(loc: Locale, a_ms: int, b_ms: int) -> bool:
    """Return True if both times fall on one calendar day in the chat's time zone."""
    return _local_date(loc, a_ms) == _local_date(loc, b_ms)


def _local_date(loc: Locale, ts_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=loc.tz).date()


def _time(loc: Locale, ts_ms: int, *, with_date: bool = True) -> str:
    return format_time(ts_ms, loc.tz, with_date=with_date)


def _t(loc: Locale, key: str, /, **values: str | int) -> Html:
    return text(loc.lang, key, **values)


def _span(loc: Locale, start_ms: int, end_ms: int) -> Html:
    if start_ms == end_ms:
        return Html(_escape(_time(loc, start_ms)))
    end = _time(loc, end_ms, with_date=not _same_day(loc, start_ms, end_ms))
    return _t(loc, "span", start=_time(loc, start_ms), end=end)


def _event_line(loc: Locale, record: Liquidation, *, with_date: bool) -> Html:
    return _t(
        loc,
        "event_line",
        dot=_DOT[record.side],
        asset=_name(record.base),
        side=_side(loc, record.side),
        usd=format_usd(record.notional_usd),
        price=format_price(record.price),
        venue=_venue(record),
        time=_time(loc, record.ts_ms, with_date=with_date),
    )


def _join(lines: Sequence[str]) -> Html:
    return Html("\n".join(lines))


def _percent(share: float) -> str:
    # Rounded down, so a feed that missed any time never reads as 100.0%.
    tenths = math.floor(max(0.0, min(1.0, share)) * 1000 + 1e-9)
    return f"{tenths / 10:.1f}%"


def _cascade_rule_text(loc: Locale, rule: CascadeRule, threshold_usd: float | None) -> Html:
    """Describe a cascade rule: "#C2 BTC: at least $5M within 2m" (the threshold now, if known,
    for a relative rule)."""
    asset = _t(loc, "rule_every_asset") if rule.asset is None else Html(_escape(_name(rule.asset)))
    window = format_window(rule.window_ms // 1000)
    if rule.min_usd is not None:
        return _t(
            loc,
            "cascade_rule_abs",
            rule_id=str(rule.rule_id),
            asset=asset,
            usd=format_threshold(rule.min_usd),
            window=window,
        )
    multiple = f"{rule.multiple:g}"
    if threshold_usd is None:
        return _t(
            loc,
            "cascade_rule_rel",
            rule_id=str(rule.rule_id),
            asset=asset,
            multiple=multiple,
            window=window,
        )
    return _t(
        loc,
        "cascade_rule_rel_now",
        rule_id=str(rule.rule_id),
        asset=asset,
        multiple=multiple,
        window=window,
        usd=format_usd(threshold_usd),
    )


def _prefs_line(loc: Locale, prefs: ChatPrefs) -> Html:
    quiet = _t(loc, "quiet_none") if prefs.quiet is None else prefs.quiet.label()
    return _t(
        loc, "prefs_line", zone=_name(prefs.tz or "UTC", 40), quiet=quiet, lang=_t(loc, "lang_name")
    )


def _schedule(loc: Locale, schedule: Schedule | None) -> Html:
    if schedule is None:
        return _t(loc, "schedule_none")
    if schedule.every_s is not None:
        return _t(loc, "schedule_every", window=format_window(schedule.every_s))
    minute = schedule.daily_minute or 0
    clock = f"{minute // 60:02d}:{minute % 60:02d}"
    return _t(loc, "schedule_daily", clock=clock, zone=zone_name(loc.tz))


def _rule_text(loc: Locale, rule: Rule, most: int) -> Html:
    """Describe a rule, listing at most `most` assets and `most` exchanges."""
    every = _t(loc, "rule_every_asset")
    assets = _listed(loc, sorted(rule.assets), most) if rule.assets else every
    if rule.side is None:
        side = _t(loc, "rule_both_sides")
    elif rule.side is Side.LONG:
        side = _t(loc, "rule_longs_only")
    else:
        side = _t(loc, "rule_shorts_only")
    if rule.exchanges:
        exchanges = _listed(loc, sorted(rule.exchanges), most)
    else:
        exchanges = _t(loc, "rule_all_exchanges")
    return _t(
        loc,
        "rule_desc",
        assets=assets,
        min_usd=format_threshold(rule.min_usd),
        side=side,
        exchanges=exchanges,
    )


def _listed(loc: Locale, names: Sequence[str], most: int) -> Html:
    shown = ", ".join(_name(name) for name in names[:most])
    if len(names) <= most:
        return Html(_escape(shown))
    return _t(loc, "rule_more", names=shown, count=len(names) - most)


def _escape(value: str) -> str:
    # Telegram needs only <, > and & escaped outside tags; quotes stay readable.
    return html.escape(value, quote=False)


def _pre(rows: Sequence[str]) -> Html:
    """Return rows as one monospace block; padding is done before escaping, so columns align."""
    return Html("<pre>" + _escape("\n".join(rows)) + "</pre>")


def _row(label: str, cells: Sequence[str]) -> str:
    cells_text = "".join(" " + _right(cell, _CELL_W) for cell in cells)
    return f"{_left(_name(label, _LABEL_W), _LABEL_W)}{cells_text}".rstrip()


def _columns(value: str) -> int:
    """Return how many monospace columns a value takes: CJK and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in value)


def _left(value: str, width: int) -> str:
    return value + " " * max(0, width - _columns(value))


def _right(value: str, width: int) -> str:
    return " " * max(0, width - _columns(value)) + value


def _header(loc: Locale, label: Html) -> str:
    """Return a table's header row; cells are plain text, escaped with the whole block."""
    cells = [_t(loc, "col_long"), _t(loc, "col_short"), _t(loc, "col_total")]
    return _row(plain_text(label), [plain_text(cell) for cell in cells])


def _window_rows(loc: Locale, windows: Sequence[WindowTotals]) -> list[str]:
    rows = [_header(loc, _t(loc, "col_usd"))]
    empty = plain_text(_t(loc, "no_liquidations"))
    for window in windows:
        name = format_window(window.window_s)
        t = window.totals
        if t.count == 0:
            rows.append(f"{_left(name, _LABEL_W)} {empty}")
        else:
            usd = [format_usd(t.long_usd), format_usd(t.short_usd), format_usd(t.total_usd)]
            rows.append(_row(name, usd))
    rows.append("")
    rows.append(_header(loc, _t(loc, "col_events")))
    for window in windows:
        t = window.totals
        counts = [f"{t.long_count:,}", f"{t.short_count:,}", f"{t.count:,}"]
        rows.append(_row(format_window(window.window_s), counts))
    return rows


def _exchange_rows(loc: Locale, exchanges: Sequence[ExchangeTotals]) -> list[str]:
    rows = [_header(loc, _t(loc, "col_usd"))]
    for exchange in exchanges:
        t = exchange.totals
        usd = [format_usd(t.long_usd), format_usd(t.short_usd), format_usd(t.total_usd)]
        rows.append(_row(exchange.exchange, usd))
    return rows


def _ranked(loc: Locale, assets: Sequence[RankedAsset]) -> Html:
    if not assets:
        return _t(loc, "no_liquidations")
    rank, asset, usd, count = (
        plain_text(_t(loc, "col_rank")),
        plain_text(_t(loc, "col_asset")),
        plain_text(_t(loc, "col_usd")),
        plain_text(_t(loc, "col_count")),
    )
    rows = [f"{_right(rank, 2)} {_left(asset, 10)} {_right(usd, _CELL_W)} {_right(count, 7)}"]
    for position, entry in enumerate(assets, 1):
        rows.append(
            f"{position:>2} {_left(_name(entry.asset, 12), 10)} "
            f"{_right(format_usd(entry.usd), _CELL_W)} {entry.count:>7,}"
        )
    return _pre(rows)


def _coverage_lines(
    loc: Locale, coverage: Sequence[FeedCoverage], span: Html, level: int, *, live: bool
) -> list[Html]:
    """Return a line per feed that missed part of the span, with its newest gaps."""
    # A `live` span ends now (/stats, /top): a feed down at its end is down now.
    lines: list[Html] = []
    missing = [feed for feed in coverage if feed.uptime_share < 1.0]
    for feed in missing[: max(1, level)]:
        name = _name(feed.feed_id)
        share = _percent(feed.uptime_share)
        if feed.connected:
            lines.append(_t(loc, "feed_down", feed=name, share=share, span=span))
        elif live:
            lines.append(_t(loc, "feed_down_now", feed=name, share=share, span=span))
        else:
            lines.append(_t(loc, "feed_down_at_end", feed=name, share=share, span=span))
        keep = min(level, MAX_GAPS)
        shown = feed.gaps[max(0, len(feed.gaps) - keep) :] if keep else ()
        if len(shown) < len(feed.gaps):
            lines.append(_t(loc, "more_gaps", count=len(feed.gaps) - len(shown)))
        for gap in shown:
            state = _t(loc, "gap_backfilled") if gap.backfilled else _t(loc, "gap_missing")
            start = _time(loc, gap.start_ms)
            duration = format_duration((gap.end_ms - gap.start_ms) / 1000)
            lines.append(_t(loc, "gap", start=start, duration=duration, state=state))
    if len(missing) > max(1, level):
        lines.append(_t(loc, "more_feeds", count=len(missing) - max(1, level)))
    return lines


def _fit(render: Callable[[int], Html], most: int) -> Html:
    """Return render(level) for the largest level in 0..most whose text fits one message."""
    # A higher level shows more of every list, so the text grows with it: bisect.
    candidate = render(most)
    if _fits(candidate):
        return candidate
    best: Html | None = None
    low, high = 0, most  # render(high) is known not to fit
    while low < high:
        middle = (low + high) // 2
        candidate = render(middle)
        if _fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle
    if best is not None:
        return best
    # Names are clipped and lists capped, so only absurd inputs get here: keep the first part.
    return Html(split_message(render(0))[0])


def _fits(html_text: str) -> bool:
    return _width(plain_text(html_text)) <= MAX_TEXT_LENGTH


def _width(plain: str) -> int:
    # UTF-16 units: Telegram is said to count characters, and these are never fewer.
    return len(plain.encode("utf-16-le", "surrogatepass")) // 2


# --- Telegram HTML: tokens, references, lines ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    """A tag (`name` set; `closing` for an end tag) or a run of text (`name` None)."""

    raw: str
    name: str | None = None
    closing: bool = False


# A tag may hold quoted attribute values containing ">" (Telegram allows it in an href).
_TAG = re.compile(r"""<(/?)([^\s>/"']*)[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>""")
# Telegram's references: four names, decimal or lowercase-x hex numbers, ";" optional.
_REFERENCE = re.compile(r"&(?:#x([0-9a-fA-F]*)|#([0-9]*)|([A-Za-z]*));?")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _tokens(html_text: str) -> list[_Token]:
    tokens = []
    position = 0
    for match in _TAG.finditer(html_text):
        if match.start() > position:
            tokens.append(_Token(html_text[position : match.start()]))
        tokens.append(_Token(match.group(), match.group(2).lower(), match.group(1) == "/"))
        position = match.end()
    if position < len(html_text):
        tokens.append(_Token(html_text[position:]))
    return tokens


def _decode(raw: str) -> str:
    """Decode character references as Telegram does; anything else stays as written."""
    return _REFERENCE.sub(_reference, raw) if "&" in raw else raw


def _reference(match: re.Match[str]) -> str:
    hex_digits, decimal, name = match.groups()
    if name is not None:
        return _NAMED.get(name, match.group())
    digits = hex_digits if hex_digits is not None else decimal
    code = int(digits, 16 if hex_digits is not None else 10) if digits else 0
    # Telegram gives up on a reference of ten characters or more before the ";".
    too_long = len(match.group().rstrip(";")) >= 10
    if code == 0 or code >= 0x10FFFF or too_long:
        return match.group()
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"  # a lone surrogate cannot be sent; show what a client would
    return chr(code)


def _lines(html_text: str) -> list[list[_Token]]:
    """Return the tokens of each line; a newline inside a tag does not end a line."""
    lines: list[list[_Token]] = [[]]
    for token in _tokens(html_text):
        if token.name is not None:
            lines[-1].append(token)
            continue
        first, *rest = token.raw.split("\n")
        if first:
            lines[-1].append(_Token(first))
        for piece in rest:
            lines.append([_Token(piece)] if piece else [])
    return lines


def _cut(line: list[_Token], limit: int) -> list[list[_Token]]:
    """Return the line whole, or cut into pieces of at most `limit` visible characters."""
    if sum(_width(_decode(t.raw)) for t in line if t.name is None) <= limit:
        return [line]
    pieces: list[list[_Token]] = [[]]
    size = 0
    for token in line:
        if token.name is not None:
            pieces[-1].append(token)
            continue
        for unit in _units(token.raw):
            width = _width(_decode(unit))
            if size + width > limit and size > 0:
                pieces.append([])
                size = 0
            pieces[-1].append(_Token(unit))
            size += width
    return pieces


def _units(raw: str) -> list[str]:
    """Return the characters of a text run, keeping each character reference whole."""
    units: list[str] = []
    position = 0
    for match in _REFERENCE.finditer(raw):
        reference = match.group()
        if _decode(reference) == reference:
            continue  # not a reference to Telegram: its characters are text
        units.extend(raw[position : match.start()])
        units.append(reference)
        position = match.end()
    units.extend(raw[position:])
    return units


def _track(stack: list[_Token], token: _Token) -> None:
    """Keep the stack of open tags up to date with one token."""
    if token.name is None:
        return
    if token.closing:
        if stack:
            stack.pop()
    else:
        stack.append(token)
