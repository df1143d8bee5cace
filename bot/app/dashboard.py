"""Serve the web dashboard beside the runtime, in console and Telegram mode alike."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable

from bot.app.runtime import Runtime
from bot.handlers.context import Services
from bot.settings import Settings
from bot.web import Dashboard, ProcessMetrics, WebConfig, WebError, feed_health


def runtime_metrics(runtime: Runtime) -> ProcessMetrics:
    """Return the ingest and database figures the dashboard's /metrics shows."""
    health = runtime.queries.ingest_health()
    return ProcessMetrics(
        events_counted=health.ingest.counted,
        events_duplicate=health.ingest.duplicates,
        database_queue=health.pending,
        database_rows_written=health.store.written,
        database_rows_dropped=health.store.dropped,
        database_bytes=health.db_bytes,
    )


def telegram_metrics(runtime: Runtime, services: Services) -> ProcessMetrics:
    """Return the dashboard's /metrics figures, alerts included."""
    stats = services.dispatcher.stats
    return dataclasses.replace(
        runtime_metrics(runtime),
        alerts_sent=stats.alerts_delivered,
        alerts_failed=stats.alerts_failed,
        alerts_dropped=stats.alerts_dropped,
        alert_queue=services.dispatcher.pending_alerts(),
    )


@contextlib.asynccontextmanager
async def serve_dashboard(
    settings: Settings, runtime: Runtime, metrics: Callable[[], ProcessMetrics] | None = None
) -> AsyncIterator[Dashboard | None]:
    """Serve the web dashboard beside the runtime (None when WEB_ENABLED is false).

    A refused bind or a taken port ends the process with a one-line reason.
    """
    if not settings.web_enabled:
        yield None
        return
    dashboard = Dashboard(
        WebConfig.from_settings(settings),
        queries=runtime.queries,
        health=lambda: feed_health(runtime.feeds, runtime.feed_stats()),
        metrics=metrics or (lambda: runtime_metrics(runtime)),
        database_path=settings.database_path,
    )
    try:
        await dashboard.start()
    except WebError as exc:
        raise SystemExit(f"dashboard: {exc}") from None
    runtime.aggregation.add_listener(dashboard.on_liquidation)
    try:
        yield dashboard
    finally:
        runtime.aggregation.remove_listener(dashboard.on_liquidation)
        await dashboard.stop()
