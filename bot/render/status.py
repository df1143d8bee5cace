"""Status lines: the admins' report, and the console's event, feed, ingest and totals lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aggregation.query import SideTotals, WindowTotals
from bot.render.common import clip, join_lines, phrase
from bot.render.html import escape, fit
from bot.texts.catalog import DEFAULT_LOCALE, Html, Locale
from bot.texts.durations import format_window
from bot.texts.formatting import format_duration, format_price, format_usd, format_utc, plural
from collectors.record import Liquidation, Side

_RED = "\x1b[31m"


_GREEN = "\x1b[32m"


_RESET = "\x1b[0m"

DATA_NOTE = (
    "Note: Binance sends at most one liquidation per symbol per second, so its totals are a "
    "lower bound; OKX reports only part of its liquidations; Bybit reports all of them; Gate "
    "reports all of them since 2026-08-20; Deribit and BitMEX (order level) report all of "
    "theirs; HTX, Bitfinex and Kraken do not say; Bitget sends only the largest per side per "
    "symbol per second (a lower bound) and its USD amounts are unverified."
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
    def connect_failures(self) -> int:
        """Return how many connects failed (each one a reconnect attempt)."""
        ...

    @property
    def last_event_ms(self) -> int | None:
        """Return when the feed last produced an event."""
        ...

    @property
    def degraded(self) -> str:
        """Return why the feed runs on older metadata than it fetched ("" if it does not)."""
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

    @property
    def write_failures(self) -> int:
        """Return the failed write transactions (each batch is retried)."""
        ...

    @property
    def failing_since_ms(self) -> int | None:
        """Return when writes started failing, or None while they succeed."""
        ...

    @property
    def last_write_error(self) -> str:
        """Return the last write error."""
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


class TaskStatus(Protocol):
    """How a supervised background task has fared (collectors' TaskHealth)."""

    @property
    def name(self) -> str:
        """Return the task's name."""

    @property
    def restarts(self) -> int:
        """Return how often it failed and was restarted."""

    @property
    def last_error(self) -> str:
        """Return its last failure."""


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
    tasks: Sequence[TaskStatus] = ()  # the supervised background tasks


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
        f"okx backfills: {plural(backfill.runs, 'run', 'runs')}, "
        f"{plural(backfill.events, 'event', 'events')}, "
        f"{plural(backfill.errors, 'error', 'errors')}"
    )
    lines.append(f"database: {figures.db_bytes / 1e6:,.1f} MB at {figures.db_path}")
    if figures.tasks:
        lines.append(format_tasks_line(figures.tasks))
    return lines


def format_tasks_line(tasks: Sequence[TaskStatus]) -> str:
    """Return one line of the supervised tasks' failures (each failure restarted the task)."""
    failed = [t for t in tasks if t.restarts]
    total = sum(t.restarts for t in tasks)
    line = f"background tasks: {len(tasks):,} supervised, {total:,} failures"
    if failed:
        line += "; " + ", ".join(
            f"{t.name} {t.restarts:,} ({clip(t.last_error, 120)})" for t in failed
        )
    return line


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


_UNKNOWN = ("unknown-instrument event", "unknown-instrument events")


def format_status_line(stats: FeedStatus, now_ms: int) -> str:
    """Return one status line for a feed: connected or not, events, errors, reconnects."""
    if stats.connected and stats.intervals:
        state = f"up {format_duration((now_ms - stats.intervals[-1].start_ms) / 1000)}"
    else:
        state = "DOWN" + (f" ({stats.last_error})" if stats.last_error else "")
    if stats.degraded:
        state += f", DEGRADED (unreadable metadata, last good kept: {stats.degraded})"
    last = (
        f", last event {format_duration((now_ms - stats.last_event_ms) / 1000)} ago"
        if stats.last_event_ms is not None
        else ""
    )
    return (
        f"status {stats.feed_id}: {state}, {plural(stats.events, 'event', 'events')}, "
        f"{plural(stats.bad_frames, 'bad frame', 'bad frames')}, "
        f"{plural(stats.unknown_instrument_events, *_UNKNOWN)}, "
        f"{plural(stats.reconnects + stats.connect_failures, 'reconnect', 'reconnects')}{last}"
    )


def format_sides(totals: SideTotals) -> str:
    """Return "$1.2M (long $800K / short $400K)"."""
    return (
        f"{format_usd(totals.total_usd)} (long {format_usd(totals.long_usd)} / "
        f"short {format_usd(totals.short_usd)})"
    )


def format_market_line(windows: Sequence[WindowTotals]) -> str:
    """Return one line of market-wide totals for every window."""
    return "totals " + " | ".join(
        f"{format_window(w.window_s)} {format_sides(w.totals)}" for w in windows
    )


def format_ingest_line(counters: IngestCounts, store: WriterCounts, pending: int) -> str:
    """Return one line of what ingest and the database writer did."""
    return (
        f"ingest: {counters.counted:,} counted, {counters.duplicates:,} duplicates, "
        f"{counters.stale:,} older than every window, {counters.clamped:,} future times clamped; "
        f"database: {store.written:,} rows written, {pending:,} pending, "
        f"{store.dropped:,} dropped"
    ) + (
        ""
        if store.failing_since_ms is None
        else f"; WRITES FAILING ({store.write_failures:,} attempts so far): "
        f"{store.last_write_error}"
    )
