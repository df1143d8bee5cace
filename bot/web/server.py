"""Serve the dashboard on the bot's own event loop: start, stop, and the ingest listener."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import msgspec
from aiohttp import web

from aggregation.query import LiquidationQueries
from bot.web.api import Api
from bot.web.config import WebConfig, WebError
from bot.web.health import FeedHealth
from bot.web.metrics import Metrics, ProcessMetrics, WebCounters
from bot.web.security import Guard, add_security_headers
from bot.web.stream import StreamHub
from bot.web.views import Views
from collectors.clock import now_ms
from collectors.record import Liquidation

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
_SHUTDOWN_TIMEOUT_S = 5.0


class Dashboard:
    """The web dashboard: page, JSON API, live stream, metrics; one per process (or test)."""

    def __init__(
        self,
        config: WebConfig,
        *,
        queries: LiquidationQueries,
        health: Callable[[], Sequence[FeedHealth]],
        metrics: Callable[[], ProcessMetrics] = ProcessMetrics,
        database_path: Path,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.config = config
        self.views = Views(queries, health, clock, started_ms=clock())
        self._encoder = msgspec.json.Encoder()
        self.hub = StreamHub(config, self._snapshot, list(self.views.names))
        self.metrics = Metrics(health, metrics, self._web_counters)
        self.api = Api(self.views, self.metrics, database_path, clock)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._snapshots: asyncio.Task[None] | None = None

    # --- what the composition root uses ---------------------------------------------------

    def on_liquidation(self, record: Liquidation) -> None:
        """The ingest listener: put a new event on the live tape."""
        self.hub.publish(record)
        self.views.largest.offer(record)

    @property
    def url(self) -> str:
        """Return the address to open (without the token)."""
        return self.config.url(self.port)

    async def start(self) -> None:
        """Listen; raise WebError (one line) if the bind is refused or the port is taken."""
        self.config.check()
        runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            # asyncio's message repeats the address: say only what the system said.
            code = exc.errno or 0
            reason = (os.strerror(code) if code > 0 else exc.strerror or str(exc)).lower()
            hint = (
                "set WEB_PORT to a free port" if exc.errno == errno.EADDRINUSE else "check WEB_HOST"
            )
            raise WebError(
                f"cannot listen on {self.config.host}:{self.config.port}: {reason} "
                f"({hint}, or WEB_ENABLED=false)"
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self._snapshots = asyncio.create_task(self.hub.run(), name="dashboard-snapshots")
        log.info("dashboard at %s", self.url)

    async def stop(self) -> None:
        """Close every stream and stop listening."""
        if self._snapshots is not None:
            self._snapshots.cancel()
            await asyncio.gather(self._snapshots, return_exceptions=True)
            self._snapshots = None
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Dashboard:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- the application ------------------------------------------------------------------

    def app(self) -> web.Application:
        """Return the aiohttp application: guard, page, static files, API, stream."""
        app = web.Application(middlewares=[Guard(self.config).middleware])
        app.on_response_prepare.append(add_security_headers)
        app.on_response_prepare.append(_cache_static)
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
        app.router.add_routes(self.api.routes())
        app.router.add_get("/api/v1/stream", self.hub.handle)
        return app

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    def _snapshot(self) -> bytes:
        return self._encoder.encode(self.views.snapshot())

    def _web_counters(self) -> WebCounters:
        return WebCounters(len(self.hub.clients), self.hub.refused, self.hub.tape.seq)


async def _cache_static(request: web.Request, response: web.StreamResponse) -> None:
    """Let browsers keep the page's files but check them again on every load."""
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")
