"""The HTTP client under python-telegram-bot: aiohttp instead of PTB's default httpx.

Every alert is one Bot API request made on the event loop that also parses the exchanges'
frames, so what a request costs there is paid by every alert queued behind it: a fan-out of one
large liquidation to 20 chats is 20 requests at once. Against a local Bot API in another process
(`bench/bench_http.py`), PTB's default, httpx on httpcore, cost 2.7 times aiohttp's CPU per
sendMessage in a 20-chat fan-out and 1.2 times one at a time (httpcore also looks for sniffio
twice per request; where it is not installed, each look is a failed import that searches the
whole path). aiohttp is already the dashboard's server. PTB's own layer on top (building the
request, its rate limiter, parsing the answer, raising its errors) is unchanged: this is its
documented extension point, `BaseRequest.do_request`.

What PTB's default does and this keeps: the same default timeouts (read, write and connect 5 s,
a free connection within 1 s, 20 s to write an upload), connections kept alive, certificates
checked against certifi's CA bundle (not the system's, which some Python installs lack), the
proxy settings of the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY; credentials in
the proxy's URL; http(s):// proxies and, through aiohttp-socks, socks5(h):// and socks4(a):// ones),
a timeout raised as `TimedOut` and any other transport failure as `NetworkError`. aiohttp has
no write timeout of its own: a request's whole time is bounded by the sum of its limits instead.

The environment is read once per host, at the first request, as httpx reads it once per client.
aiohttp's own `trust_env` would read it (and ~/.netrc) again for every request, each time in the
default thread pool: two thread round trips per sendMessage, which in a 20-30 chat fan-out cost
more of the event loop than the requests themselves.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import certifi
from aiohttp_socks import (
    ProxyConnectionError,
    ProxyConnector,
    ProxyError,
    ProxyTimeoutError,
    ProxyType,
)
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput  # the signature PTB declares

log = logging.getLogger(__name__)

# What a SOCKS proxy's scheme means: its version, and whether it resolves the host names.
_SOCKS = {
    "socks5": (ProxyType.SOCKS5, False),
    "socks5h": (ProxyType.SOCKS5, True),
    "socks4": (ProxyType.SOCKS4, False),
    "socks4a": (ProxyType.SOCKS4, True),
}


@dataclass(frozen=True, slots=True)
class EnvProxy:
    """A proxy the environment sets: its URL without the credentials, and those."""

    url: str  # scheme://host:port
    username: str | None = None
    password: str | None = None

    @property
    def socks(self) -> bool:
        """Return True for a SOCKS proxy (a connector of its own), False for an HTTP one."""
        return self.url.split("://", 1)[0] in _SOCKS

    def authorization(self) -> str | None:
        """Return the credentials as a Proxy-Authorization value (an HTTP proxy's), or None."""
        if self.username is None:
            return None
        credentials = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(credentials).decode("ascii")

    def connector(self, limit: int, tls: ssl.SSLContext | None) -> ProxyConnector:
        """Return a connector through this SOCKS proxy: `limit` connections, `tls` checking
        the certificates."""
        parts = urlsplit(self.url)
        kind, remote_dns = _SOCKS[parts.scheme]
        return ProxyConnector(
            host=parts.hostname or "",
            port=parts.port or 1080,
            proxy_type=kind,
            username=self.username,
            password=self.password,
            rdns=remote_dns,
            limit=limit,
            ssl=tls,
        )


# The Bot API's paths: /bot<token>/<method> and /file/bot<token>/<path>.
_TOKEN_IN_PATH = re.compile(r"/(file/)?bot[^/\s'\"]+")


class AiohttpRequest(BaseRequest):
    """A PTB request backend on one aiohttp session (made in `initialize`, closed in
    `shutdown`)."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, EnvProxy | None] = {}  # by origin, from the environment
        self._socks_sessions: dict[EnvProxy, aiohttp.ClientSession] = {}  # one per proxy
        self.ssl_context: ssl.SSLContext | None = None  # set with the session
        # Called after each answer with HTTP 200 (the long poll's: the end of a Telegram outage).
        self.on_ok: Callable[[], None] | None = None

    @property
    def read_timeout(self) -> float | None:
        """Return the default read timeout (PTB adds it to a long poll's own timeout)."""
        return self._read

    async def initialize(self) -> None:
        """Open the session (PTB calls this from `Application.initialize`)."""
        if self._session is None or self._session.closed:
            self.ssl_context = _ca_context()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=self.ssl_context),
                trust_env=False,  # the proxy settings are read once per host: `_proxy`
            )

    async def shutdown(self) -> None:
        """Close the sessions and their connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        for session in self._socks_sessions.values():
            await session.close()
        self._socks_sessions.clear()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one request; return the HTTP status and the body (PTB reads the rest)."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        timeout = self._timeout(uploads, read_timeout, write_timeout, connect_timeout, pool_timeout)
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            data = _form(request_data) if uploads else request_data.json_parameters
        headers = {"User-Agent": self.USER_AGENT}
        env = self._proxy(url)
        proxy = proxy_headers = None
        if env is not None and env.socks:
            session = self._socks_session(env)  # the connector reaches the host through it
        elif env is not None:
            proxy, credentials = env.url, env.authorization()
            # HTTPS goes through a CONNECT tunnel, which carries them; plain HTTP, the request.
            if credentials is not None and url.startswith("https:"):
                proxy_headers = {"Proxy-Authorization": credentials}
            elif credentials is not None:
                headers["Proxy-Authorization"] = credentials
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                proxy_headers=proxy_headers,
            ) as response:
                status, body = response.status, await response.read()
        except (TimeoutError, ProxyTimeoutError) as exc:  # aiohttp's timeouts derive from it
            raise TimedOut from exc
        except (aiohttp.ClientError, ProxyConnectionError, ProxyError) as exc:
            # (The last two: a SOCKS proxy unreachable or refusing; aiohttp-socks' own classes.)
            # The class name helps when the message is empty. Some of aiohttp's messages quote
            # the URL, whose path holds the token: it goes, whatever a log handler does later.
            detail = _TOKEN_IN_PATH.sub(r"/\1bot<token>", str(exc))
            kind = f"{type(exc).__module__.partition('.')[0]}.{type(exc).__name__}"
            raise NetworkError(f"{kind}: {detail}") from exc
        if status == 200 and self.on_ok is not None:
            self.on_ok()
        return status, body

    def _timeout(
        self,
        uploads: bool,
        read_timeout: ODVInput[float],
        write_timeout: ODVInput[float],
        connect_timeout: ODVInput[float],
        pool_timeout: ODVInput[float],
    ) -> aiohttp.ClientTimeout:
        """Return a request's limits: those PTB passes for the call, else this client's."""
        read = _given(read_timeout, self._read)
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        write = _given(write_timeout, self._media_write if uploads else self._write)
        return aiohttp.ClientTimeout(
            total=_sum(read, write, connect, pool),
            connect=_sum(pool, connect),  # aiohttp's connect includes the wait for the pool
            sock_connect=connect,
            sock_read=read,
        )

    def _proxy(self, url: str) -> EnvProxy | None:
        """Return the proxy the environment sets for the URL's origin (read at its first use)."""
        scheme_end = url.find("://") + 3
        path_start = url.find("/", scheme_end)
        origin = url if path_start < 0 else url[:path_start]
        if origin in self._proxies:
            return self._proxies[origin]
        found = self._proxies[origin] = env_proxy(origin)
        if found is not None:  # neither URL carries credentials or the token here
            target = urlsplit(origin)
            where = urlunsplit((target.scheme, _host_and_port(target.netloc), "", "", ""))
            log.info("requests to %s go through the proxy %s", where, found.url)
        return found

    def _socks_session(self, proxy: EnvProxy) -> aiohttp.ClientSession:
        """Return the session whose connections go through a SOCKS proxy (made at first use)."""
        session = self._socks_sessions.get(proxy)
        if session is None or session.closed:
            connector = proxy.connector(self._pool_size, self.ssl_context)
            session = aiohttp.ClientSession(connector=connector, trust_env=False)
            self._socks_sessions[proxy] = session
        return session


def env_proxy(url: str) -> EnvProxy | None:
    """Return the proxy the environment sets for the URL's scheme and host (none if NO_PROXY
    lists the host): what the bot's requests to `url` go through."""
    target = urlsplit(url)
    scheme, host = target.scheme, target.hostname
    if not host or proxy_bypass(host):
        return None
    proxies = getproxies()
    given = proxies.get(scheme) or proxies.get("all")
    if not given:
        return None
    parts = urlsplit(given if "://" in given else f"http://{given}")
    proxy = urlunsplit((parts.scheme, _host_and_port(parts.netloc), parts.path, "", ""))
    if parts.scheme not in ("http", "https", *_SOCKS):
        log.warning(
            "ignoring the proxy %s for %s://%s: only http(s):// and socks5(h)/socks4(a):// "
            "proxies work here",
            proxy,
            scheme,
            host,
        )
        return None
    if parts.username is None:
        return EnvProxy(proxy)
    return EnvProxy(proxy, unquote(parts.username), unquote(parts.password or ""))


def _host_and_port(netloc: str) -> str:
    """Return a URL's network location without its credentials (`user:password@`)."""
    return netloc.rpartition("@")[2]


@functools.cache
def _ca_context() -> ssl.SSLContext:
    """Return the one TLS context of every backend (loading the bundle takes ~40 ms on the
    event loop; the bot has two backends, sends and the long poll)."""
    return ssl.create_default_context(cafile=certifi.where())


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """Return a timeout passed to the call (None: no limit), else this backend's default."""
    if value is None or isinstance(value, int | float):
        return value
    return default  # BaseRequest.DEFAULT_NONE: not given


def _sum(*limits: float | None) -> float | None:
    """Return the sum of the limits, or None (no limit) if any is None."""
    total = 0.0
    for limit in limits:
        if limit is None:
            return None
        total += limit
    return total


def _form(request_data: RequestData) -> aiohttp.FormData:
    """Return a multipart body: the parameters, then each file with its name and type."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form
