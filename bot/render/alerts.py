"""Alerts: one liquidation, a digest of a chat's pending ones, and what was not sent."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from bot.render.common import (
    DOT,
    clip,
    event_line,
    join_lines,
    local_time,
    phrase,
    same_day,
    time_span,
    venue,
)
from bot.render.html import fit
from bot.texts.catalog import DEFAULT_LOCALE, Html, Locale
from bot.texts.formatting import format_price, format_usd
from collectors.record import Liquidation, Side

DIGEST_MAX_LINES = 25  # more lines than this stop being readable on a phone


def alert(record: Liquidation, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return one instant alert: asset, side, USD size, venue, symbol, price and time."""
    return str(
        phrase(
            loc,
            "alert",
            dot=DOT[record.side],
            asset=clip(record.base),
            liquidated=_liquidated(loc, record.side),
            usd=format_usd(record.notional_usd),
            venue=venue(record),
            symbol=clip(record.symbol, 40),
            price=format_price(record.price),
            time=local_time(loc, record.ts_ms),
        )
    )


def dropped_notice(dropped: int, uncertain: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the line reporting alerts not sent or not confirmed; empty when there are none."""
    details = []
    if dropped > 0:
        details.append(phrase(loc, "notice_dropped", count=dropped))
    if uncertain > 0:
        details.append(phrase(loc, "notice_uncertain", count=uncertain))
    if not details:
        return ""
    return str(phrase(loc, "notice", details=Html(" ".join(details))))


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
    with_date = not same_day(loc, first, last)
    lines = [event_line(loc, record, with_date=with_date) for record in largest]
    head = [Html(notice)] if notice else []
    if held:
        head.append(phrase(loc, "digest_held"))
    head += [
        phrase(loc, "digest_head", count=len(records)),
        phrase(
            loc,
            "digest_totals",
            long_usd=format_usd(long_usd),
            long_count=long_count,
            short_usd=format_usd(short_usd),
            short_count=short_count,
        ),
        time_span(loc, first, last),
        phrase(loc, "digest_largest"),
    ]

    def render(shown: int) -> Html:
        body = head + lines[:shown]
        rest = len(records) - shown
        if rest:
            rest_usd = max(0.0, long_usd + short_usd - sum(map(_notional, largest[:shown])))
            body.append(phrase(loc, "digest_more", count=rest, usd=format_usd(rest_usd)))
        return join_lines(body)

    return str(fit(render, len(lines)))


def _notional(record: Liquidation) -> float:
    return record.notional_usd


def _liquidated(loc: Locale, side: Side) -> Html:
    if side is Side.LONG:
        return phrase(loc, "liquidated_long")
    return phrase(loc, "liquidated_short")
