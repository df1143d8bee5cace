"""Status lines: the admins' report, and the console's event, feed, ingest and totals lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aggregation.query import LiquidationQueries, RankedAsset, SideTotals, WindowTotals
from bot.render.common import clip, join_lines, phrase
from bot.render.html import escape, fit
from bot.texts.catalog import DEFAULT_LOCALE, Html, Locale
from bot.texts.durations import format_window
from bot.texts.formatting import format_duration, format_price, format_usd, format_utc
from collectors.record import Liquidation, Side

_RED = "\x1b[31m"


_GREEN = "\x1b[32m"


_RESET = "\x1b[0m"

DATA_NOTE = (
    "Note: Binance sends at most one liquidation per symbol per second, so its totals are a "
    "lower bound; OKX reports only part of its liquidations; Bybit reports all of them; "
    "Deribit and BitMEX (order level) report all of theirs; whether Bitfinex and Kraken report "
    "all of theirs is unknown."
)


class FeedInterval(Protocol):
    """A span during which a feed was up or down (collectors' FeedInterval)."""

    @property
    def start_ms(self) -> int:
        """Return when the span began."""
        ...


class FeedStatus(Protocol):
    """A feed's counters as its status line reads them (collectors' FeedStats)."""

    @property
    def feed_id(self) -> str:
        """Return the feed's id."""
        ...

    @property
    def connected(self) -> bool:
        """Return True while the feed is up."""
        ...

    @property
    def intervals(self) -> Sequence[FeedInterval]:
        """Return the up and down spans, oldest first."""
        ...

    @property
    def last_error(self) -> str:
        """Return why the feed last went down."""
        ...

    @property
    def last_event_ms(self) -> int | None:
        """Return when the feed last produced an event."""
        ...

    @property
    def events(self) -> int:
        """Return the events produced."""
        ...

    @property
    def bad_frames(self) -> int:
        """Return the frames that could not be parsed."""
        ...

    @property
    def unknown_instrument_events(self) -> int:
        """Return the events of instruments the metadata did not know."""
        ...

    @property
    def reconnects(self) -> int:
        """Return how often the feed reconnected."""
        ...


class IngestCounts(Protocol):
    """What ingest did with the events (aggregation's IngestCounters)."""

    @property
    def counted(self) -> int:
        """Return the events counted in the windows."""
        ...

    @property
    def duplicates(self) -> int:
        """Return the events seen before."""
        ...

    @property
    def stale(self) -> int:
        """Return the events older than every window."""
        ...

    @property
    def clamped(self) -> int:
        """Return the events whose future time was set to their receive time."""
        ...


class WriterCounts(Protocol):
    """What the database writer did (aggregation's StoreStats)."""

    @property
    def written(self) -> int:
        """Return the new rows written."""
        ...

    @property
    def dropped(self) -> int:
        """Return the events the full write buffer could not take."""
        ...


class DeliveryCounts(Protocol):
    """What the alert dispatcher did (delivery's DispatchStats)."""

    @property
    def alerts_queued(self) -> int:
        """Return the alerts queued."""

    @property
    def alerts_delivered(self) -> int:
        """Return the alerts in messages Telegram accepted."""

    @property
    def messages_sent(self) -> int:
        """Return the messages sent."""

    @property
    def digests_sent(self) -> int:
        """Return the digests among them."""

    @property
    def alerts_dropped(self) -> int:
        """Return the alerts a full chat queue dropped."""

    @property
    def alerts_uncertain(self) -> int:
        """Return the alerts that may not have arrived."""

    @property
    def alerts_failed(self) -> int:
        """Return the alerts given up on."""

    @property
    def rate_limited(self) -> int:
        """Return the 429s that outlasted the rate limiter."""

    @property
    def chats_gone(self) -> int:
        """Return the chats that blocked or removed the bot."""


class CascadeCounts(Protocol):
    """What the cascade notifier did (delivery's CascadeStats)."""

    @property
    def started(self) -> int:
        """Return the cascades started."""

    @property
    def edits(self) -> int:
        """Return the edits of cascade messages."""

    @property
    def abandoned(self) -> int:
        """Return the cascades no longer followed."""


class BackfillCounts(Protocol):
    """What the gap backfills did."""

    @property
    def runs(self) -> int:
        """Return the backfills run."""

    @property
    def events(self) -> int:
        """Return the events they added."""

    @property
    def errors(self) -> int:
        """Return the requests that failed."""


@dataclass(frozen=True, slots=True)
class StatusFigures:
    """Everything the admins' status report shows; the composition root gathers it."""

    uptime_s: float
    now_ms: int
    feeds: Sequence[FeedStatus]
    ingest: IngestCounts
    writer: WriterCounts
    writer_pending: int  # rows waiting for the database writer
    delivery: DeliveryCounts
    alerts_pending: int
    chats_pending: int  # chats with something waiting
    rules: int
    rule_chats: int  # chats with at least one rule
    summaries: int  # summary jobs scheduled
    late_events: int  # events too old to alert on
    cascade_rules: int
    cascades_open: int  # cascade messages being followed
    cascades: CascadeCounts
    backfill: BackfillCounts
    db_bytes: int
    db_path: str


def status_lines(figures: StatusFigures) -> list[str]:
    """Return the lines of the admins' status report."""
    now = figures.now_ms
    dispatch = figures.delivery
    lines = [f"uptime {format_duration(figures.uptime_s)}"]
    lines += [format_status_line(s, now) for s in figures.feeds]
    lines.append(format_ingest_line(figures.ingest, figures.writer, figures.writer_pending))
    lines.append(
        f"alerts: {dispatch.alerts_queued:,} queued, {dispatch.alerts_delivered:,} delivered in "
        f"{dispatch.messages_sent:,} messages ({dispatch.digests_sent:,} digests), "
        f"{figures.alerts_pending:,} pending in "
        f"{figures.chats_pending:,} chats, {dispatch.alerts_dropped:,} dropped, "
        f"{dispatch.alerts_uncertain:,} uncertain, {dispatch.alerts_failed:,} failed, "
        f"{dispatch.rate_limited:,} rate-limited, {dispatch.chats_gone:,} chats gone"
    )
    lines.append(
        f"rules: {figures.rules:,} in {figures.rule_chats:,} chats; "
        f"summaries: {figures.summaries:,} scheduled; "
        f"late events without alert: {figures.late_events:,}"
    )
    cascade = figures.cascades
    lines.append(
        f"cascades: {figures.cascade_rules:,} rules, "
        f"{figures.cascades_open:,} open, {cascade.started:,} started, "
        f"{cascade.edits:,} edits, {cascade.abandoned:,} abandoned"
    )
    backfill = figures.backfill
    lines.append(
        f"okx backfills: {backfill.runs:,} runs, {backfill.events:,} events, "
        f"{backfill.errors:,} errors"
    )
    lines.append(f"database: {figures.db_bytes / 1e6:,.1f} MB at {figures.db_path}")
    return lines


def status(lines: Sequence[str], *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the admins' status report: the given lines, escaped, as many as fit."""
    escaped = [Html(escape(clip(line, 1000))) for line in lines]

    def render(shown: int) -> Html:
        body = [phrase(loc, "status_head"), *escaped[:shown]]
        if shown < len(escaped):
            body.append(phrase(loc, "status_more", count=len(escaped) - shown))
        return join_lines(body)

    return str(fit(render, len(escaped)))


# --- console lines ---------------------------------------------------------------------------


def format_event_line(record: Liquidation, *, color: bool = False) -> str:
    """Return one readable line: time, exchange, asset, side, USD size, price."""
    side = "LONG  liquidated" if record.side is Side.LONG else "SHORT liquidated"
    if color:
        # The seed's convention: red = a long was liquidated, green = a short.
        side = f"{_RED if record.side is Side.LONG else _GREEN}{side}{_RESET}"
    venue = f"{record.exchange} {record.market}"
    return (
        f"{format_utc(record.ts_ms)}  {venue:<14} {record.base:<10} {side}  "
        f"{format_usd(record.notional_usd):>9}  at {format_price(record.price)}"
    )


def format_status_line(stats: FeedStatus, now_ms: int) -> str:
    """Return one status line for a feed: connected or not, events, errors, reconnects."""
    if stats.connected and stats.intervals:
        state = f"up {format_duration((now_ms - stats.intervals[-1].start_ms) / 1000)}"
    else:
        state = "DOWN" + (f" ({stats.last_error})" if stats.last_error else "")
    last = (
        f", last event {format_duration((now_ms - stats.last_event_ms) / 1000)} ago"
        if stats.last_event_ms is not None
        else ""
    )
    return (
        f"status {stats.feed_id}: {state}, {stats.events:,} events, "
        f"{stats.bad_frames:,} bad frames, {stats.unknown_instrument_events:,} unknown-instrument "
        f"events, {stats.reconnects:,} reconnects{last}"
    )


def _sides(totals: SideTotals) -> str:
    return (
        f"{format_usd(totals.total_usd)} (long {format_usd(totals.long_usd)} / "
        f"short {format_usd(totals.short_usd)})"
    )


def format_market_line(windows: Sequence[WindowTotals]) -> str:
    """Return one line of market-wide totals for every window."""
    return "totals " + " | ".join(
        f"{format_window(w.window_s)} {_sides(w.totals)}" for w in windows
    )


def format_ingest_line(counters: IngestCounts, store: WriterCounts, pending: int) -> str:
    """Return one line of what ingest and the database writer did."""
    return (
        f"ingest: {counters.counted:,} counted, {counters.duplicates:,} duplicates, "
        f"{counters.stale:,} older than every window, {counters.clamped:,} future times clamped; "
        f"database: {store.written:,} rows written, {pending:,} pending, "
        f"{store.dropped:,} dropped"
    )


def _ranked(assets: Sequence[RankedAsset]) -> str:
    if not assets:
        return "none"
    return "  ".join(f"{i}. {a.asset} {format_usd(a.usd)}" for i, a in enumerate(assets, 1))


def format_replay_summary(queries: LiquidationQueries, top: int = 10) -> str:
    """Return window totals and leaderboards as of the newest event (windows on event time)."""
    market = queries.market()
    end = market[0].end_ms
    lines = [f"As of {format_utc(end)} (the capture's newest event; windows on event time):"]
    lines.append(f"{'window':<8}{'long':>12}{'short':>12}{'total':>12}{'events':>9}")
    for totals in market:
        t = totals.totals
        lines.append(
            f"{format_window(totals.window_s):<8}{format_usd(t.long_usd):>12}"
            f"{format_usd(t.short_usd):>12}{format_usd(t.total_usd):>12}{t.count:>9,}"
        )
    longest = market[-1]
    for exchange in longest.exchanges:
        name = format_window(longest.window_s)
        lines.append(f"  {name} {exchange.exchange}: {_sides(exchange.totals)}")
    for window_s in queries.windows_s:
        board = queries.leaderboard(window_s, top)
        name = format_window(window_s)
        lines.append(f"Top longs liquidated, {name}: {_ranked(board.longs)}")
        lines.append(f"Top shorts liquidated, {name}: {_ranked(board.shorts)}")
    lines.append(DATA_NOTE)
    return "\n".join(lines) + "\n"
