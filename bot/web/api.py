"""The JSON API (version 1), the CSV export, /metrics and /healthz."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable
from pathlib import Path

import msgspec
from aiohttp import web

from aggregation.query import EXPORT_COLUMNS, export_rows
from bot.web.metrics import CONTENT_TYPE, Metrics
from bot.web.stream import parse_filter
from bot.web.views import TOP_DEFAULT, Views

MAX_LATEST = 1_000
DEFAULT_LATEST = 50
MAX_TOP = 100
MAX_HISTORY_BUCKETS = 2_000
_NO_STORE = {"Cache-Control": "no-store"}
_encoder = msgspec.json.Encoder()


def json_response(value: object, status: int = 200) -> web.Response:
    """Return a JSON answer that no cache keeps."""
    return web.Response(
        body=_encoder.encode(value),
        status=status,
        content_type="application/json",
        headers=_NO_STORE,
    )


def bad_request(reason: str) -> web.HTTPBadRequest:
    """Return a 400 with a JSON reason, to raise."""
    return web.HTTPBadRequest(
        text=_encoder.encode({"error": reason}).decode(), content_type="application/json"
    )


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """Return an integer query parameter within [low, high]; a 400 otherwise."""
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}")
    return value


def symbol_param(request: web.Request) -> str | None:
    """Return the `symbol=` asset (upper case), None when absent; a 400 when malformed."""
    try:
        return parse_filter(request.query.get("symbol"), 0, None, None).symbol
    except ValueError as exc:
        raise bad_request(str(exc)) from None


class Api:
    """Request handlers over the views, the metrics and the database file."""

    def __init__(
        self,
        views: Views,
        metrics: Metrics,
        database_path: Path,
        clock: Callable[[], int],
    ) -> None:
        self.views = views
        self.metrics = metrics
        self.database_path = database_path
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        """Return the API's routes."""
        return [
            web.get("/api/v1/windows", self.windows),
            web.get("/api/v1/latest", self.latest),
            web.get("/api/v1/top", self.top),
            web.get("/api/v1/health", self.health),
            web.get("/api/v1/series", self.series),
            web.get("/api/v1/history", self.history),
            web.get("/api/v1/export.csv", self.export),
            web.get("/metrics", self.prometheus),
            web.get("/healthz", self.healthz),
        ]

    def _window(self, request: web.Request, default: int | None = None) -> int:
        try:
            return self.views.window_s(request.query.get("window"), default)
        except ValueError as exc:
            raise bad_request(str(exc)) from None

    async def windows(self, request: web.Request) -> web.Response:
        """GET /api/v1/windows[?symbol=BTC]."""
        return json_response(self.views.windows(symbol_param(request)))

    async def latest(self, request: web.Request) -> web.Response:
        """GET /api/v1/latest?limit=N[&symbol=&min_usd=&side=&exchange=]."""
        limit = int_param(request, "limit", DEFAULT_LATEST, 1, MAX_LATEST)
        query = request.query
        try:
            wanted = parse_filter(
                query.get("symbol"), query.get("min_usd"), query.get("side"), query.get("exchange")
            )
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        return json_response(self.views.latest(limit, wanted))

    async def top(self, request: web.Request) -> web.Response:
        """GET /api/v1/top?window=1h[&limit=10] (default: the longest window)."""
        window_s = self._window(request, max(self.views.names.values()))
        limit = int_param(request, "limit", TOP_DEFAULT, 1, MAX_TOP)
        return json_response(self.views.top(window_s, limit))

    async def health(self, request: web.Request) -> web.Response:
        """GET /api/v1/health."""
        return json_response(self.views.health())

    async def series(self, request: web.Request) -> web.Response:
        """GET /api/v1/series?window=1h[&symbol=BTC]: the chart's data."""
        window_s = self._window(request)
        return json_response(await self.views.series(window_s, symbol_param(request)))

    async def history(self, request: web.Request) -> web.Response:
        """GET /api/v1/history?since=&until=&interval=[&symbol=]: liquidated USD per interval
        from the one-minute rollups (whole hours once older than memory)."""
        now = self.views.queries.now_ms()
        history_ms = self.views.queries.history_s * 1000
        since = int_param(request, "since", now - 7 * 86_400_000, now - history_ms, now)
        until = int_param(request, "until", now, since + 1000, now + 60_000)
        interval = int_param(request, "interval", 3600, 60, 30 * 86_400)
        if (until - since) // (interval * 1000) > MAX_HISTORY_BUCKETS:
            raise bad_request(f"at most {MAX_HISTORY_BUCKETS} intervals")
        return json_response(
            await self.views.history(symbol_param(request), since, until, interval)
        )

    async def export(self, request: web.Request) -> web.StreamResponse:
        """GET /api/v1/export.csv[?since=&until=&symbol=]: stored events, oldest first."""
        since = int_param(request, "since", 0, 0, 2**62)
        until = int_param(request, "until", 2**62, 0, 2**62)
        symbol = symbol_param(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="liquidations.csv"',
                **_NO_STORE,
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        async with contextlib.aclosing(
            export_rows(self.database_path, since, until, symbol)
        ) as batches:
            async for rows in batches:
                writer.writerows(rows)
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            await response.write(buffer.getvalue().encode())
        await response.write_eof()
        return response

    async def prometheus(self, request: web.Request) -> web.Response:
        """GET /metrics: Prometheus text."""
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def healthz(self, request: web.Request) -> web.Response:
        """GET /healthz: 200 "up" while every feed delivers, else 503 with the reasons."""
        problems = self.views.problems()
        if problems:
            return web.Response(status=503, text="down: " + "; ".join(problems) + "\n")
        return web.Response(text="up\n")
