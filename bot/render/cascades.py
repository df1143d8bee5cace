"""Cascade messages (posted once, edited as the cascade grows) and the replies to /cascade."""

from __future__ import annotations

from aggregation.query import Backtest
from bot.render.common import (
    backtest_line,
    cascade_rule_text,
    clip,
    event_line,
    join_lines,
    local_time,
    phrase,
    same_day,
)
from bot.render.html import escape
from bot.rules.cascade import CascadeRule, CascadeSnapshot
from bot.texts.catalog import DEFAULT_LOCALE, Html, Locale
from bot.texts.durations import format_window
from bot.texts.formatting import format_duration, format_usd


def cascade(snap: CascadeSnapshot, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return a cascade message as it is now: the body, a final line once over, the note."""
    lines = [Html(cascade_body(snap, loc=loc))]
    if snap.ended_ms is not None:
        lines.append(
            phrase(
                loc,
                "cascade_over",
                time=local_time(loc, snap.ended_ms),
                peak=format_usd(snap.peak_window_usd),
                window=format_window(snap.rule.window_ms // 1000),
            )
        )
    lines.append(phrase(loc, "data_note"))
    return str(join_lines(lines))


def cascade_body(snap: CascadeSnapshot, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return a cascade message without its final line and note: totals, split, the largest."""
    exchanges = " · ".join(f"{clip(name, 12)} {format_usd(usd)}" for name, usd in snap.exchanges)
    with_date = not same_day(loc, snap.started_ms, snap.last_ms)
    lines = [
        phrase(
            loc,
            "cascade_head",
            asset=clip(snap.asset),
            usd=format_usd(snap.usd),
            duration=format_duration((snap.last_ms - snap.started_ms) / 1000),
        ),
        phrase(
            loc,
            "digest_totals",
            long_usd=format_usd(snap.long_usd),
            long_count=snap.long_count,
            short_usd=format_usd(snap.short_usd),
            short_count=snap.short_count,
        ),
        Html(escape(exchanges)),
        phrase(loc, "summary_largest", event=event_line(loc, snap.largest, with_date=with_date)),
        phrase(
            loc,
            "cascade_since",
            start=local_time(loc, snap.started_ms, with_date=with_date),
            rule=cascade_rule_text(loc, snap.rule, snap.threshold_usd),
        ),
    ]
    return str(join_lines(lines))


def cascade_orphaned(body: str, restarted_ms: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the last text of a cascade the bot lost track of when it restarted."""
    line = phrase(loc, "cascade_orphaned", time=local_time(loc, restarted_ms))
    return str(join_lines([Html(body), line, phrase(loc, "data_note")]))


def cascade_rule_added(
    rule: CascadeRule, *, loc: Locale = DEFAULT_LOCALE, backtest: Backtest | None = None
) -> str:
    """Return the reply to /cascade, restating the rule as understood, and how often it would
    have fired over the stored events (if any are stored)."""
    added = phrase(loc, "cascade_added", rule=cascade_rule_text(loc, rule, None))
    line = backtest_line(backtest, loc)
    return str(join_lines([added, line]) if line else added)


def cascades_removed(count: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /cascade off."""
    if count <= 0:
        return str(phrase(loc, "cascades_removed_none"))
    return str(phrase(loc, "cascades_removed", count=count))
