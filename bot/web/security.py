"""Guard every request: the Host allowlist, the token (header or cookie), strict headers."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from bot.web.config import WebConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COOKIE = "lb_session"
COOKIE_MAX_AGE_S = 30 * 86400
# Paths anyone may read, even with WEB_TOKEN set: the up/down check for Docker and systemd.
PUBLIC_PATHS = frozenset({"/healthz"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def host_name(host_header: str) -> str:
    """Return the name part of a Host header: "[::1]:8080" -> "::1", "a.b:80" -> "a.b"."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    """Return True for an IP literal, localhost, or a name in the allowlist.

    DNS rebinding reaches a loopback server through an attacker's name; an IP literal or a
    configured name cannot be rebound.
    """
    name = host_name(host_header)
    if not name:
        return False
    if name == "localhost" or name in allowed:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_allowed(origin: str | None, host_header: str) -> bool:
    """Return True if a WebSocket's Origin is this dashboard (a missing Origin: not a browser)."""
    if origin is None:
        return True
    for scheme in ("http://", "https://"):
        if origin.lower() == scheme + host_header.strip().lower():
            return True
    return False


class Guard:
    """The middleware that applies the rules above to every request."""

    def __init__(self, config: WebConfig) -> None:
        self._token = config.token
        self._allowed = frozenset(h.strip().lower().rstrip(".") for h in config.allowed_hosts)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Check Host, Origin and the token before the handler runs."""
        return await self._checked(request, handler)

    async def _checked(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.headers.get(hdrs.HOST, ""), self._allowed):
            return _json_error(400, "unknown Host; add it to WEB_ALLOWED_HOSTS")
        is_stream = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if is_stream and not origin_allowed(
            request.headers.get(hdrs.ORIGIN), request.headers.get(hdrs.HOST, "")
        ):
            return _json_error(403, "cross-origin stream refused")
        if self._token is None or request.path in PUBLIC_PATHS:
            return await handler(request)
        if request.path == "/" and "token" in request.query:
            return self._sign_in(request, self._token)
        if not self._authorized(request, self._token):
            return _json_error(
                401,
                "unauthorized: send Authorization: Bearer WEB_TOKEN, or open /?token=WEB_TOKEN",
                {hdrs.WWW_AUTHENTICATE: "Bearer"},
            )
        return await handler(request)

    def _authorized(self, request: web.Request, token: str) -> bool:
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        if header[:7].lower() == "bearer ":
            return _equal(header[7:].strip(), token)
        cookie = request.cookies.get(COOKIE)
        return cookie is not None and _equal(cookie, session_value(token))

    def _sign_in(self, request: web.Request, token: str) -> web.StreamResponse:
        """`/?token=TOKEN`: set the session cookie and drop the token from the address."""
        if not _equal(request.query["token"], token):
            return _json_error(401, "wrong token", {hdrs.WWW_AUTHENTICATE: "Bearer"})
        rest = [(k, v) for k, v in request.query.items() if k != "token"]
        location = request.rel_url.with_query(rest) if rest else request.rel_url.with_query(None)
        redirect = web.HTTPSeeOther(location=str(location))
        redirect.set_cookie(
            COOKIE,
            session_value(token),
            max_age=COOKIE_MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
        raise redirect


def session_value(token: str) -> str:
    """Return the cookie's value: derived from the token, so the cookie never holds it."""
    return hmac.new(
        token.encode(), b"liquidation-bot dashboard session", hashlib.sha256
    ).hexdigest()


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Put the strict headers on every answer (errors, files and stream upgrades included)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
