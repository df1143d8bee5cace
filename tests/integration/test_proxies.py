"""The proxy settings of the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) outside the Bot
API client: exchange REST calls and feeds go through a SOCKS proxy too; `check` asks Telegram
and opens the feeds the way the bot will."""

from __future__ import annotations

import pytest

from bot.app.checks import feed_problem, telegram_problem
from bot.app.runtime import http_client
from collectors.connection import ConnectionPolicy, FeedRunner
from collectors.exchanges.binance import BinanceUsdmFeed
from tests.support.bot_api import FakeBotApi
from tests.support.feeds import running
from tests.support.fixtures import lines
from tests.support.proxies import forward_proxy, no_proxy_settings, socks_proxy
from tests.support.rest_server import RestStub
from tests.support.sinks import CollectingSink
from tests.support.ws_server import ScriptedServer, frames_then

USDM = lines("binance_usdm_forceorder.jsonl")


async def test_a_socks_proxy_in_all_proxy_carries_the_exchange_rest_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy_settings(monkeypatch)
    async with socks_proxy() as proxy, RestStub() as rest:
        rest.set("/fapi/v1/exchangeInfo", '{"symbols": []}')
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        async with http_client() as client:  # without socksio httpx refused to build it
            response = await client.get(f"{rest.url()}/fapi/v1/exchangeInfo")
    assert response.json() == {"symbols": []}
    assert proxy.targets == [("127.0.0.1", rest.port)]


async def test_check_asks_telegram_through_the_proxy_the_bot_uses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy_settings(monkeypatch)
    async with socks_proxy() as socks, forward_proxy() as http, FakeBotApi() as api:
        # A socks proxy: the bot's client ignores it, so the check goes direct too.
        monkeypatch.setenv("ALL_PROXY", socks.url)
        direct = await telegram_problem(api.base_url, api.token)
        # An http proxy: both use it; this one answers what is no getMe.
        monkeypatch.setenv("ALL_PROXY", http.url.replace("http://", "http://trader:s3cret@"))
        proxied = await telegram_problem(api.base_url, api.token)
    assert direct == (True, "getMe answered: the bot is @liquidation_test_bot")
    assert socks.targets == []
    assert proxied == (False, "getMe failed: HTTP 200, not a bot's getMe answer")
    [head] = http.heads
    assert head[0] == f"POST {api.base_url}<token>/getMe HTTP/1.1".replace("<token>", api.token)
    assert http.header(0, "Proxy-Authorization") == "Basic dHJhZGVyOnMzY3JldA=="


async def test_a_socks_proxy_in_https_proxy_carries_the_feeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy_settings(monkeypatch)
    async with socks_proxy() as proxy, ScriptedServer(frames_then(USDM)) as server:
        # websockets reads HTTPS_PROXY for wss:// and ws:// alike; without python-socks the
        # connect raised ImportError, which no feed loop caught.
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        sink = CollectingSink()
        feed = BinanceUsdmFeed(server.url("/market/ws/!forceOrder@arr"), ConnectionPolicy())
        async with running(FeedRunner(feed, sink)):
            await sink.wait_records(len(USDM))
        assert proxy.targets == [("127.0.0.1", server.port)]


async def test_check_opens_the_feeds_through_the_proxy_the_feeds_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy_settings(monkeypatch)
    async with socks_proxy() as proxy, ScriptedServer(frames_then([])) as server:
        where, port = server.url("/market/ws/!forceOrder@arr"), server.port
        feed = BinanceUsdmFeed(where)
        # The credentials reach the proxy, never the check's output.
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("socks5://", "socks5://me:pw@"))
        proxied = await feed_problem(feed)
        no_proxy_settings(monkeypatch)
        direct = await feed_problem(feed)
    assert proxy.targets == [("127.0.0.1", port)]
    assert proxied == (True, f"connected to {where} through the proxy {proxy.url}")
    assert direct == (True, f"connected to {where}")
