"""Stand-in proxies for the environment's proxy settings: an HTTP forward proxy that records
each request's head and answers as the Bot API would, and a SOCKS5 relay (RFC 1928, no
authentication, CONNECT only) that records where it connects."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

PROXY_ANSWER = b'{"ok": true, "result": true}'


@dataclass
class ForwardProxy:
    """A stand-in HTTP proxy: records each request's head and answers as the Bot API would."""

    url: str = ""
    heads: list[list[str]] = field(default_factory=list)  # request line, then header lines

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")[:-2]
        self.heads.append(head)
        if head[0].startswith("CONNECT "):  # a tunnel for HTTPS: refused, the head is enough
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        length = next(
            (int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:")), 0
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(PROXY_ANSWER), PROXY_ANSWER)
        )
        await writer.drain()
        writer.close()

    def header(self, number: int, name: str) -> str | None:
        """Return a header of the request `number` (None if absent)."""
        for line in self.heads[number][1:]:
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None


@asynccontextmanager
async def forward_proxy() -> AsyncIterator[ForwardProxy]:
    proxy = ForwardProxy()
    async with _listening(proxy.serve) as port:
        proxy.url = f"http://127.0.0.1:{port}"
        yield proxy


def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@dataclass
class SocksProxy:
    """A stand-in SOCKS5 proxy that relays each CONNECT and records its target (and the
    username and password of a client that offers them, RFC 1929)."""

    url: str = ""
    targets: list[tuple[str, int]] = field(default_factory=list)  # each CONNECT's host, port
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse: bool = False  # answer every CONNECT "not allowed by ruleset"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _, methods = await reader.readexactly(2)
            if 2 in await reader.readexactly(methods):  # username and password
                writer.write(b"\x05\x02")
                _, length = await reader.readexactly(2)
                username = (await reader.readexactly(length)).decode()
                password = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
                self.logins.append((username, password))
                writer.write(b"\x01\x00")
            else:
                writer.write(b"\x05\x00")  # no authentication
            _, command, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
            elif kind == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
            port = int.from_bytes(await reader.readexactly(2), "big")
            self.targets.append((host, port))
            if command != 1 or self.refuse:
                reply = 2 if self.refuse else 7  # not allowed by ruleset; command not supported
                writer.write(bytes((5, reply, 0, 1)) + bytes(6))
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            writer.write(b"\x05\x00\x00\x01" + bytes(6))
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def socks_proxy(*, refuse: bool = False) -> AsyncIterator[SocksProxy]:
    proxy = SocksProxy(refuse=refuse)
    async with _listening(proxy.serve) as port:
        proxy.url = f"socks5://127.0.0.1:{port}"
        yield proxy


@asynccontextmanager
async def _listening(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """Serve connections on a free local port; yield the port."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
