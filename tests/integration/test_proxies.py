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
        # A socks proxy: the bot's client, which the check uses, goes through it.
        monkeypatch.setenv("ALL_PROXY", socks.url)
        through_socks = await telegram_problem(api.base_url, api.token)
        # An http proxy: the same; this one answers what is no getMe.
        monkeypatch.setenv("ALL_PROXY", http.url.replace("http://", "http://trader:s3cret@"))
        proxied = await telegram_problem(api.base_url, api.token)
        # A socks proxy nobody answers at: a line that says so, not a traceback.
        monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:9")
        unreachable = await telegram_problem(api.base_url, api.token)
        api_port = int(api.base_url.split("/")[2].split(":")[1])
    assert through_socks == (True, "getMe answered: the bot is @liquidation_test_bot")
    assert unreachable[0] is False
    assert unreachable[1].startswith(
        f"Telegram is unreachable at {api.base_url}: "
        "NetworkError('aiohttp_socks.ProxyConnectionError: "
    )
    assert api.token not in unreachable[1]
    assert socks.targets == [("127.0.0.1", api_port)]
    assert proxied == (False, "getMe failed: HTTP 200, not a bot's getMe answer")
    [head] = http.heads
    assert head[0] == f"POST {api.base_url}<token>/getMe HTTP/1.1".replace("<token>", api.token)
    assert http.header(0, "Proxy-Authorization") == "Basic dHJhZGVyOnMzY3JldA=="


@pytest.mark.parametrize("setting", ["HTTPS_PROXY", "ALL_PROXY"])
async def test_a_socks_proxy_carries_the_feeds(
    monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    no_proxy_settings(monkeypatch)
    async with socks_proxy() as proxy, ScriptedServer(frames_then(USDM)) as server:
        # websockets reads HTTPS_PROXY for wss:// and ws:// alike (without python-socks the
        # connect raised ImportError, which no feed loop caught) but not ALL_PROXY, which the
        # bot's other connections fall back to: the feeds do too.
        monkeypatch.setenv(setting, proxy.url)
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
    assert proxy.logins == [("me", "pw")]
    assert proxied == (True, f"connected to {where} through the proxy {proxy.url}")
    assert direct == (True, f"connected to {where}")


async def test_a_feed_host_in_no_proxy_connects_direct_and_credentials_stay_out_of_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy_settings(monkeypatch)
    async with socks_proxy() as proxy, ScriptedServer(frames_then(USDM)) as server:
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        sink = CollectingSink()
        feed = BinanceUsdmFeed(server.url("/market/ws/!forceOrder@arr"), ConnectionPolicy())
        async with running(FeedRunner(feed, sink)):
            await sink.wait_records(len(USDM))
    assert proxy.targets == []
    # A proxy URL websockets cannot use: the check says so without the password.
    no_proxy_settings(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "socks9://me:s3cret@127.0.0.1:1080")
    ok, said = await feed_problem(BinanceUsdmFeed("ws://127.0.0.1:9/ws"))
    assert not ok
    assert "s3cret" not in said
    assert said.startswith("cannot connect to ws://127.0.0.1:9/ws through the proxy (unusable: ")
