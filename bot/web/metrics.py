"""Expose the process's counters in Prometheus' text format, names prefixed liquidation_bot_."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.web.health import FeedHealth

PREFIX = "liquidation_bot_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ProcessMetrics:
    """Counters of the rest of the process, handed to the dashboard by the composition root."""

    events_counted: int = 0  # ingested into the windows
    events_duplicate: int = 0
    alerts_sent: int = 0  # Telegram mode: alerts delivered
    alerts_failed: int = 0
    alerts_dropped: int = 0  # a chat's queue was full
    alert_queue: int = 0  # alerts waiting to be sent
    database_queue: int = 0  # rows waiting for the database writer
    database_rows_written: int = 0
    database_rows_dropped: int = 0
    database_bytes: int = 0


@dataclass(frozen=True, slots=True)
class WebCounters:
    """The dashboard's own figures."""

    clients: int
    refused: int
    events_streamed: int


class _Collector(Collector):
    """Read every figure at scrape time from the callables it was given."""

    def __init__(
        self,
        feeds: Callable[[], Sequence[FeedHealth]],
        process: Callable[[], ProcessMetrics],
        web: Callable[[], WebCounters],
    ) -> None:
        self._feeds = feeds
        self._process = process
        self._web = web

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families."""
        yield from self._feed_metrics(self._feeds())
        yield from self._process_metrics(self._process())
        web = self._web()
        yield _gauge("web_clients", "Open dashboard streams", web.clients)
        yield _counter("web_clients_refused", "Streams refused at the client cap", web.refused)
        yield _counter(
            "web_events_streamed", "Liquidations put on the live tape", web.events_streamed
        )

    @staticmethod
    def _feed_metrics(feeds: Sequence[FeedHealth]) -> Iterator[Metric]:
        families = [
            (CounterMetricFamily, "feed_events", "Liquidations received per feed", "events"),
            (CounterMetricFamily, "feed_bad_frames", "Frames dropped as malformed", "bad_frames"),
            (CounterMetricFamily, "feed_reconnects", "Reconnects per feed", "reconnects"),
            (GaugeMetricFamily, "feed_connected", "1 while the feed is connected", "connected"),
        ]
        for kind, name, documentation, attribute in families:
            family = kind(PREFIX + name, documentation, labels=["feed", "exchange"])
            for feed in feeds:
                family.add_metric([feed.feed_id, feed.exchange], float(getattr(feed, attribute)))
            yield family

    @staticmethod
    def _process_metrics(p: ProcessMetrics) -> Iterator[Metric]:
        yield _counter("events_counted", "Liquidations counted in the windows", p.events_counted)
        yield _counter("events_duplicate", "Re-delivered liquidations dropped", p.events_duplicate)
        yield _counter("alerts_sent", "Alerts delivered to Telegram chats", p.alerts_sent)
        yield _counter("alerts_failed", "Alerts Telegram refused for good", p.alerts_failed)
        yield _counter("alerts_dropped", "Alerts dropped from a full chat queue", p.alerts_dropped)
        yield _gauge("alert_queue_depth", "Alerts waiting to be sent", p.alert_queue)
        yield _gauge("database_queue_depth", "Rows waiting for the writer", p.database_queue)
        yield _counter("database_rows_written", "Rows written", p.database_rows_written)
        yield _counter(
            "database_rows_dropped", "Rows the full buffer lost", p.database_rows_dropped
        )
        yield _gauge("database_bytes", "Size of the database file and its WAL", p.database_bytes)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, value=value)


class Metrics:
    """One registry per dashboard (never the global one, so several can live in one process)."""

    def __init__(
        self,
        feeds: Callable[[], Sequence[FeedHealth]],
        process: Callable[[], ProcessMetrics],
        web: Callable[[], WebCounters],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(feeds, process, web))

    def render(self) -> bytes:
        """Return the exposition text."""
        return generate_latest(self.registry)
