"""Render every message the Telegram bot sends as Telegram HTML (pure: no I/O, no Telegram)."""

from __future__ import annotations

import heapq
import html
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aggregation.coverage import FeedCoverage
from aggregation.query import ExchangeTotals, Leaderboard, PeriodSummary, RankedAsset, WindowTotals
from bot.durations import format_window
from bot.formatting import format_duration, format_price, format_usd, format_utc
from bot.rules import Rule, Schedule
from bot.texts import DEFAULT_LANG, Html, text
from collectors.record import Liquidation, Side

MAX_TEXT_LENGTH = 4096  # Telegram's limit on a message's text after entity parsing
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


def alert(record: Liquidation, *, lang: str = DEFAULT_LANG) -> str:
    """Return one instant alert: asset, side, USD size, venue, symbol, price and time."""
    return str(
        text(
            lang,
            "alert",
            dot=_DOT[record.side],
            asset=_name(record.base),
            liquidated=_liquidated(lang, record.side),
            usd=format_usd(record.notional_usd),
            venue=_venue(record),
            symbol=_name(record.symbol, 40),
            price=format_price(record.price),
            time=format_utc(record.ts_ms),
        )
    )


def dropped_notice(dropped: int, uncertain: int, *, lang: str = DEFAULT_LANG) -> str:
    """Return the line reporting alerts not sent or not confirmed; empty when there are none."""
    details = []
    if dropped > 0:
        details.append(text(lang, "notice_dropped", count=dropped))
    if uncertain > 0:
        details.append(text(lang, "notice_uncertain", count=uncertain))
    if not details:
        return ""
    return str(text(lang, "notice", details=Html(" ".join(details))))


def digest(
    records: Sequence[Liquidation],
    *,
    dropped: int = 0,
    uncertain: int = 0,
    lang: str = DEFAULT_LANG,
) -> str:
    """Merge a chat's pending alerts into one message: totals, span, the largest ones."""
    notice = dropped_notice(dropped, uncertain, lang=lang)
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
    with_date = not _same_day(first, last)
    lines = [_event_line(lang, record, with_date=with_date) for record in largest]
    head = [Html(notice)] if notice else []
    head += [
        text(lang, "digest_head", count=len(records)),
        text(
            lang,
            "digest_totals",
            long_usd=format_usd(long_usd),
            long_count=long_count,
            short_usd=format_usd(short_usd),
            short_count=short_count,
        ),
        _span(lang, first, last),
        text(lang, "digest_largest"),
    ]

    def render(shown: int) -> Html:
        body = head + lines[:shown]
        rest = len(records) - shown
        if rest:
            rest_usd = max(0.0, long_usd + short_usd - sum(map(_notional, largest[:shown])))
            body.append(text(lang, "digest_more", count=rest, usd=format_usd(rest_usd)))
        return _join(body)

    return str(_fit(render, len(lines)))


def stats(
    asset: str | None,
    windows: Sequence[WindowTotals],
    coverage: Sequence[FeedCoverage],
    *,
    lang: str = DEFAULT_LANG,
) -> str:
    """Return /stats: every window's totals and counts, the longest by exchange, coverage."""
    if asset is None:
        head = text(lang, "stats_head_market")
    else:
        head = text(lang, "stats_head_asset", asset=_name(asset))
    if not windows:
        return str(_join([head, text(lang, "stats_no_windows"), text(lang, "data_note")]))
    longest = max(windows, key=lambda w: w.window_s)
    window = format_window(longest.window_s)
    span = text(lang, "last_window", window=window)
    as_of = text(lang, "stats_as_of", time=format_utc(longest.end_ms))

    def render(level: int) -> Html:
        lines = [head, as_of]
        if all(w.totals.count == 0 for w in windows):
            lines.append(text(lang, "stats_empty", span=span))
        else:
            lines.append(_pre(_window_rows(lang, windows[:level])))
            if longest.exchanges:
                lines.append(text(lang, "stats_by_exchange", window=window))
                lines.append(_pre(_exchange_rows(lang, longest.exchanges[:level])))
        lines += _coverage_lines(lang, coverage, span, level, live=True)
        lines.append(text(lang, "data_note"))
        return _join(lines)

    return str(_fit(render, max(len(windows), len(longest.exchanges), len(coverage), MAX_GAPS)))


def top(board: Leaderboard, coverage: Sequence[FeedCoverage], *, lang: str = DEFAULT_LANG) -> str:
    """Return /top: the most liquidated assets of a window, longs and shorts, and coverage."""
    window = format_window(board.window_s)
    span = text(lang, "last_window", window=window)

    def render(level: int) -> Html:
        lines = [
            text(lang, "top_head", window=window),
            text(lang, "top_as_of", time=format_utc(board.end_ms)),
            text(lang, "top_longs"),
            _ranked(lang, board.longs[:level]),
            text(lang, "top_shorts"),
            _ranked(lang, board.shorts[:level]),
        ]
        lines += _coverage_lines(lang, coverage, span, level, live=True)
        lines.append(text(lang, "data_note"))
        return _join(lines)

    return str(_fit(render, max(len(board.longs), len(board.shorts), len(coverage), MAX_GAPS)))


def latest(
    records: Sequence[Liquidation],
    *,
    asset: str | None,
    min_usd: float,
    lang: str = DEFAULT_LANG,
) -> str:
    """Return /latest: one line per event, newest first, under a head naming the floor."""
    floor = (
        text(lang, "latest_floor", usd=_threshold(min_usd))
        if min_usd > 0
        else text(lang, "latest_any_size")
    )
    who = text(lang, "latest_all_assets") if asset is None else _name(asset)
    head = text(lang, "latest_head", asset=who, floor=floor)
    if not records:
        return str(_join([head, text(lang, "latest_none")]))
    newest_first = sorted(records, key=lambda r: r.ts_ms, reverse=True)
    with_date = not _same_day(newest_first[-1].ts_ms, newest_first[0].ts_ms)
    # An event line is over 30 characters, so no more than this many can fit one message.
    lines = [
        _event_line(lang, record, with_date=with_date)
        for record in newest_first[: MAX_TEXT_LENGTH // 30]
    ]

    def render(shown: int) -> Html:
        body = [head, *lines[:shown]]
        if shown < len(records):
            body.append(text(lang, "more_lines", count=len(records) - shown))
        return _join(body)

    return str(_fit(render, len(lines)))


def summary(data: PeriodSummary, *, label: str, lang: str = DEFAULT_LANG) -> str:
    """Return a scheduled summary of one period; it always fits one message."""
    period = text(lang, "summary_period")
    with_date = not _same_day(data.start_ms, max(data.start_ms, data.end_ms - 1))
    totals = data.totals

    def render(level: int) -> Html:
        lines = [
            text(lang, "summary_head", label=_name(label, 64)),
            _span(lang, data.start_ms, data.end_ms),
        ]
        if totals.count == 0:
            lines.append(text(lang, "summary_empty"))
        else:
            lines += [
                text(
                    lang,
                    "summary_totals",
                    long_usd=format_usd(totals.long_usd),
                    long_count=totals.long_count,
                    short_usd=format_usd(totals.short_usd),
                    short_count=totals.short_count,
                ),
                text(lang, "summary_total", usd=format_usd(totals.total_usd), count=totals.count),
            ]
            if data.exchanges:
                lines.append(text(lang, "summary_by_exchange"))
                lines.append(_pre(_exchange_rows(lang, data.exchanges[:level])))
            top_n = min(level, TOP_SUMMARY)
            lines += [text(lang, "summary_top_longs"), _ranked(lang, data.longs[:top_n])]
            lines += [text(lang, "summary_top_shorts"), _ranked(lang, data.shorts[:top_n])]
            if data.largest is not None:
                event = _event_line(lang, data.largest, with_date=with_date)
                lines.append(text(lang, "summary_largest", event=event))
        lines += _coverage_lines(lang, data.coverage, period, level, live=False)
        lines.append(text(lang, "data_note"))
        return _join(lines)

    return str(_fit(render, max(len(data.exchanges), len(data.coverage), TOP_SUMMARY, MAX_GAPS)))


def rules_list(
    rules: Sequence[Rule], schedule: Schedule | None, *, lang: str = DEFAULT_LANG
) -> str:
    """Return /subs: one line per rule, the summary schedule, and how to change them."""
    most_assets = max((len(rule.assets) + len(rule.exchanges) for rule in rules), default=0)

    def render(level: int) -> Html:
        # Levels first add rules (one asset each), then assets to every rule.
        shown = min(len(rules), level)
        per_rule = max(1, level - len(rules) + 1)
        lines = [text(lang, "rules_head")]
        if not rules:
            lines.append(text(lang, "rules_none"))
        for rule in rules[:shown]:
            desc = _rule_text(lang, rule, per_rule)
            lines.append(text(lang, "rule_line", rule_id=str(rule.rule_id), rule=desc))
        if shown < len(rules):
            lines.append(text(lang, "rules_more", count=len(rules) - shown))
        lines.append(text(lang, "rules_schedule", schedule=_schedule(lang, schedule)))
        lines.append(text(lang, "rules_change"))
        return _join(lines)

    return str(_fit(render, len(rules) + most_assets))


def rule_added(rule: Rule, *, lang: str = DEFAULT_LANG) -> str:
    """Return the reply to /subscribe, restating the rule as understood."""

    def render(level: int) -> Html:
        desc = _rule_text(lang, rule, max(1, level))
        return text(lang, "rule_added", rule_id=str(rule.rule_id), rule=desc)

    return str(_fit(render, len(rule.assets) + len(rule.exchanges)))


def rules_removed(count: int, *, lang: str = DEFAULT_LANG) -> str:
    """Return the reply to /unsubscribe."""
    if count <= 0:
        return str(text(lang, "rules_removed_none"))
    return str(text(lang, "rules_removed", count=count))


def schedule_set(schedule: Schedule | None, *, lang: str = DEFAULT_LANG) -> str:
    """Return the reply to /summary; None means summaries were turned off."""
    if schedule is None:
        return str(text(lang, "schedule_off"))
    return str(text(lang, "schedule_set", schedule=_schedule(lang, schedule)))


def usage(reason: str, example: str, *, lang: str = DEFAULT_LANG) -> str:
    """Return the reply to a bad command: the reason and a correct example."""
    return str(text(lang, "usage", reason=_name(reason, 500), example=_name(example, 200)))


def not_admin(*, lang: str = DEFAULT_LANG) -> str:
    """Return the refusal for a member who is not a chat administrator."""
    return str(text(lang, "not_admin"))


def help_text(*, lang: str = DEFAULT_LANG) -> str:
    """Return /help: every command with examples, the colours and the data note."""
    return str(_join([text(lang, "help_body"), Html(""), text(lang, "data_note")]))


def start_text(*, lang: str = DEFAULT_LANG) -> str:
    """Return /start: what the bot does, then the same guide as /help."""
    return str(_join([text(lang, "start_intro"), Html(""), Html(help_text(lang=lang))]))


def status(lines: Sequence[str], *, lang: str = DEFAULT_LANG) -> str:
    """Return the admins' status report: the given lines, escaped, as many as fit."""
    escaped = [Html(_escape(_name(line, 1000))) for line in lines]

    def render(shown: int) -> Html:
        body = [text(lang, "status_head"), *escaped[:shown]]
        if shown < len(escaped):
            body.append(text(lang, "status_more", count=len(escaped) - shown))
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


def _commands(lang: str) -> tuple[tuple[str, str], ...]:
    # /status is left out: it is for the bot's admins, so it belongs in their chat's scope.
    return (
        ("start", str(text(lang, "cmd_start"))),
        ("help", str(text(lang, "cmd_help"))),
        ("subscribe", str(text(lang, "cmd_subscribe"))),
        ("unsubscribe", str(text(lang, "cmd_unsubscribe"))),
        ("subs", str(text(lang, "cmd_subs"))),
        ("stats", str(text(lang, "cmd_stats"))),
        ("top", str(text(lang, "cmd_top"))),
        ("latest", str(text(lang, "cmd_latest"))),
        ("summary", str(text(lang, "cmd_summary"))),
    )


COMMANDS: tuple[tuple[str, str], ...] = _commands(DEFAULT_LANG)


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


def _liquidated(lang: str, side: Side) -> Html:
    if side is Side.LONG:
        return text(lang, "liquidated_long")
    return text(lang, "liquidated_short")


def _side(lang: str, side: Side) -> Html:
    if side is Side.LONG:
        return text(lang, "side_long")
    return text(lang, "side_short")


def _same_day(a_ms: int, b_ms: int) -> bool:
    return a_ms // _DAY_MS == b_ms // _DAY_MS


def _span(lang: str, start_ms: int, end_ms: int) -> Html:
    if start_ms == end_ms:
        return Html(_escape(format_utc(start_ms)))
    end = format_utc(end_ms, with_date=not _same_day(start_ms, end_ms))
    return text(lang, "span", start=format_utc(start_ms), end=end)


def _event_line(lang: str, record: Liquidation, *, with_date: bool) -> Html:
    return text(
        lang,
        "event_line",
        dot=_DOT[record.side],
        asset=_name(record.base),
        side=_side(lang, record.side),
        usd=format_usd(record.notional_usd),
        price=format_price(record.price),
        venue=_venue(record),
        time=format_utc(record.ts_ms, with_date=with_date),
    )


def _join(lines: Sequence[str]) -> Html:
    return Html("\n".join(lines))


def _percent(share: float) -> str:
    # Rounded down, so a feed that missed any time never reads as 100.0%.
    tenths = math.floor(max(0.0, min(1.0, share)) * 1000 + 1e-9)
    return f"{tenths / 10:.1f}%"


def _threshold(usd: float) -> str:
    """Return a threshold as people type it ($250K, $1.5M), exact when that would round."""
    short = format_usd(usd)
    match = re.fullmatch(r"\$([\d,]+\.\d\d)([KMB])", short)
    if match is None:  # under $1,000: format_usd shows whole dollars
        return short if usd == round(usd) else f"${usd:,.2f}"
    scale = {"K": 1e3, "M": 1e6, "B": 1e9}[match[2]]
    if not math.isclose(float(match[1].replace(",", "")) * scale, usd, rel_tol=1e-12):
        return f"${usd:,.0f}" if usd == round(usd) else f"${usd:,.2f}"
    return "$" + match[1].rstrip("0").rstrip(".") + match[2]


def _schedule(lang: str, schedule: Schedule | None) -> Html:
    if schedule is None:
        return text(lang, "schedule_none")
    if schedule.every_s is not None:
        return text(lang, "schedule_every", window=format_window(schedule.every_s))
    minute = schedule.daily_minute or 0
    return text(lang, "schedule_daily", clock=f"{minute // 60:02d}:{minute % 60:02d}")


def _rule_text(lang: str, rule: Rule, most: int) -> Html:
    """Describe a rule, listing at most `most` assets and `most` exchanges."""
    if rule.assets:
        assets = _listed(lang, sorted(rule.assets), most)
    else:
        assets = text(lang, "rule_every_asset")
    if rule.side is None:
        side = text(lang, "rule_both_sides")
    elif rule.side is Side.LONG:
        side = text(lang, "rule_longs_only")
    else:
        side = text(lang, "rule_shorts_only")
    if rule.exchanges:
        exchanges = _listed(lang, sorted(rule.exchanges), most)
    else:
        exchanges = text(lang, "rule_all_exchanges")
    return text(
        lang,
        "rule_desc",
        assets=assets,
        min_usd=_threshold(rule.min_usd),
        side=side,
        exchanges=exchanges,
    )


def _listed(lang: str, names: Sequence[str], most: int) -> Html:
    shown = ", ".join(_name(name) for name in names[:most])
    if len(names) <= most:
        return Html(_escape(shown))
    return text(lang, "rule_more", names=shown, count=len(names) - most)


def _escape(value: str) -> str:
    # Telegram needs only <, > and & escaped outside tags; quotes stay readable.
    return html.escape(value, quote=False)


def _pre(rows: Sequence[str]) -> Html:
    """Return rows as one monospace block; padding is done before escaping, so columns align."""
    return Html("<pre>" + _escape("\n".join(rows)) + "</pre>")


def _row(label: str, cells: Sequence[str]) -> str:
    cells_text = "".join(f" {cell:>{_CELL_W}}" for cell in cells)
    return f"{_name(label, _LABEL_W):<{_LABEL_W}}{cells_text}".rstrip()


def _header(lang: str, label: Html) -> str:
    """Return a table's header row; cells are plain text, escaped with the whole block."""
    cells = [text(lang, "col_long"), text(lang, "col_short"), text(lang, "col_total")]
    return _row(plain_text(label), [plain_text(cell) for cell in cells])


def _window_rows(lang: str, windows: Sequence[WindowTotals]) -> list[str]:
    rows = [_header(lang, text(lang, "col_usd"))]
    empty = plain_text(text(lang, "no_liquidations"))
    for window in windows:
        name = format_window(window.window_s)
        t = window.totals
        if t.count == 0:
            rows.append(f"{name:<{_LABEL_W}} {empty}")
        else:
            usd = [format_usd(t.long_usd), format_usd(t.short_usd), format_usd(t.total_usd)]
            rows.append(_row(name, usd))
    rows.append("")
    rows.append(_header(lang, text(lang, "col_events")))
    for window in windows:
        t = window.totals
        counts = [f"{t.long_count:,}", f"{t.short_count:,}", f"{t.count:,}"]
        rows.append(_row(format_window(window.window_s), counts))
    return rows


def _exchange_rows(lang: str, exchanges: Sequence[ExchangeTotals]) -> list[str]:
    rows = [_header(lang, text(lang, "col_usd"))]
    for exchange in exchanges:
        t = exchange.totals
        usd = [format_usd(t.long_usd), format_usd(t.short_usd), format_usd(t.total_usd)]
        rows.append(_row(exchange.exchange, usd))
    return rows


def _ranked(lang: str, assets: Sequence[RankedAsset]) -> Html:
    if not assets:
        return text(lang, "no_liquidations")
    rank, asset, usd, count = (
        plain_text(text(lang, "col_rank")),
        plain_text(text(lang, "col_asset")),
        plain_text(text(lang, "col_usd")),
        plain_text(text(lang, "col_count")),
    )
    rows = [f"{rank:>2} {asset:<10} {usd:>{_CELL_W}} {count:>7}"]
    for position, entry in enumerate(assets, 1):
        rows.append(
            f"{position:>2} {_name(entry.asset, 12):<10} {format_usd(entry.usd):>{_CELL_W}} "
            f"{entry.count:>7,}"
        )
    return _pre(rows)


def _coverage_lines(
    lang: str, coverage: Sequence[FeedCoverage], span: Html, level: int, *, live: bool
) -> list[Html]:
    """Return a line per feed that missed part of the span, with its newest gaps."""
    # A `live` span ends now (/stats, /top): a feed down at its end is down now.
    lines: list[Html] = []
    missing = [feed for feed in coverage if feed.uptime_share < 1.0]
    for feed in missing[: max(1, level)]:
        name = _name(feed.feed_id)
        share = _percent(feed.uptime_share)
        if feed.connected:
            lines.append(text(lang, "feed_down", feed=name, share=share, span=span))
        elif live:
            lines.append(text(lang, "feed_down_now", feed=name, share=share, span=span))
        else:
            lines.append(text(lang, "feed_down_at_end", feed=name, share=share, span=span))
        keep = min(level, MAX_GAPS)
        shown = feed.gaps[max(0, len(feed.gaps) - keep) :] if keep else ()
        if len(shown) < len(feed.gaps):
            lines.append(text(lang, "more_gaps", count=len(feed.gaps) - len(shown)))
        for gap in shown:
            state = text(lang, "gap_backfilled") if gap.backfilled else text(lang, "gap_missing")
            start = format_utc(gap.start_ms)
            duration = format_duration((gap.end_ms - gap.start_ms) / 1000)
            lines.append(text(lang, "gap", start=start, duration=duration, state=state))
    if len(missing) > max(1, level):
        lines.append(text(lang, "more_feeds", count=len(missing) - max(1, level)))
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
