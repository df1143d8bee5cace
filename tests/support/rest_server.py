"""A local HTTP server on port 0 serving exchange REST documents (metadata stand-in)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web


@dataclass
class Route:
    """What one path answers: a body (or an HTTP error) per query string."""

    status: int = 200
    body: str = ""
    bodies_by_query: dict[str, str] = field(default_factory=dict)
    statuses_by_query: dict[str, int] = field(default_factory=dict)


class RestStub:
    """Serve configured bodies; count requests per path and query."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def set(self, path: str, body: str = "", *, status: int = 200, query: str = "") -> None:
        """Answer `path` (and optionally only this query value) with `body`."""
        route = self.routes.setdefault(path, Route())
        if query:
            route.bodies_by_query[query] = body
            route.statuses_by_query[query] = status
        else:
            route.status = status
            route.body = body

    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        query = "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
        self.requests[f"{request.path}?{query}" if query else request.path] += 1
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text='{"code":404,"msg":"not found"}')
        body = route.bodies_by_query.get(query, route.body)
        status = route.statuses_by_query.get(query, route.status)
        return web.Response(status=status, text=body, content_type="application/json")

    async def __aenter__(self) -> RestStub:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
