"""The bot's HTTP backend under python-telegram-bot (aiohttp) against the fake Bot API."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

import certifi
import pytest
from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.app.application import TelegramTuning, build_application
from bot.app.http import AiohttpRequest
from bot.settings import Settings
from tests.support.bot_api import FakeBotApi
from tests.support.proxies import forward_proxy, no_proxy_settings, socks_proxy

CHAT = 4242
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def bot_on(api: FakeBotApi, request: AiohttpRequest) -> Bot:
    """Return a Bot whose two backends are the bot's, as in `build_application`."""
    return Bot(
        api.token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=request,
        get_updates_request=AiohttpRequest(),
    )


async def test_text_goes_as_a_form_and_the_answer_is_parsed() -> None:
    async with FakeBotApi() as api, bot_on(api, AiohttpRequest()) as bot:
        api.add_private_chat(CHAT)
        html = "<b>BTC</b> &amp; ETH: 1 &lt; 2 🔴"
        message = await bot.send_message(CHAT, html, parse_mode="HTML")
        assert isinstance(message, Message)
        assert (message.chat_id, message.text) == (CHAT, "BTC & ETH: 1 < 2 🔴")
        [call] = api.calls_to("sendMessage")
        assert call.params["text"] == html
        assert call.params["parse_mode"] == "HTML"


async def test_a_photo_goes_as_multipart_with_its_caption_intact() -> None:
    async with FakeBotApi() as api, bot_on(api, AiohttpRequest()) as bot:
        api.add_private_chat(CHAT)
        photo = InputFile(PNG, filename="chart.png")
        await bot.send_photo(CHAT, photo, caption="<i>24 h</i> chart", parse_mode="HTML")
        [upload] = api.sent_photos(CHAT)
        assert (upload.filename, upload.content_type, upload.data) == (
            "chart.png",
            "image/png",
            PNG,
        )
        [call] = api.calls_to("sendPhoto")
        assert call.params["caption"] == "<i>24 h</i> chart"


async def test_telegrams_refusal_reaches_ptb_as_its_error() -> None:
    async with FakeBotApi() as api, bot_on(api, AiohttpRequest()) as bot:
        with pytest.raises(BadRequest, match=r"^Chat not found$"):
            await bot.send_message(CHAT, "nobody there")  # never added to the fake


async def test_a_late_answer_is_a_timeout_and_a_per_call_limit_wins() -> None:
    async with FakeBotApi() as api, bot_on(api, AiohttpRequest(read_timeout=5.0)) as bot:
        api.add_private_chat(CHAT)
        api.delay_next("sendMessage", 1.0, times=2)
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "slow", read_timeout=0.2)
        # The default (5 s) waits for the same delay.
        message = await bot.send_message(CHAT, "slow but fine")
        assert message.text == "slow but fine"
        # Both reached Telegram: a timeout says nothing about delivery.
        assert [c.params["text"] for c in api.calls_to("sendMessage")] == ["slow", "slow but fine"]


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AiohttpRequest(connect_timeout=2.0) as request:  # PTB's: initialize, shutdown
        with pytest.raises(NetworkError, match=r"^aiohttp\.ClientConnectorError") as caught:
            await request.do_request(f"http://127.0.0.1:{port}/botX/getMe", "POST")
        assert not isinstance(caught.value, TimedOut)


async def test_an_error_that_quotes_the_url_leaves_the_token_out() -> None:
    async with AiohttpRequest() as request:
        for url in ("ftp://127.0.0.1:9/bot123:SECRET/getMe", "ftp://h/file/bot123:SECRET/a.png"):
            with pytest.raises(NetworkError) as caught:
                await request.do_request(url, "POST")
            assert "SECRET" not in caught.value.message
            assert caught.value.message.startswith("aiohttp.NonHttpUrlClientError: ftp://")
            assert "bot<token>/" in caught.value.message


async def test_certificates_are_checked_against_certifis_bundle() -> None:
    async with AiohttpRequest() as request:
        context = request.ssl_context
        assert context is not None
        assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
        bundle = ssl.create_default_context(cafile=certifi.where())
        assert context.get_ca_certs() == bundle.get_ca_certs()
        async with AiohttpRequest() as other:
            assert other.ssl_context is context  # loaded once for every backend


async def test_requests_need_initialize_and_shutdown_is_idempotent() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/botX/getMe", "POST")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/botX/getMe", "POST")
    await request.initialize()  # PTB may initialize a bot again after a shutdown
    await request.shutdown()


async def test_the_bot_sends_and_polls_through_it() -> None:
    async with FakeBotApi() as api:
        settings = Settings(
            _env_file=None,
            telegram_bot_token=api.token,
            telegram_base_url=api.base_url,
        )
        application = build_application(settings, TelegramTuning())
        bot = application.bot
        assert isinstance(bot.request, AiohttpRequest)
        # The long poll has its own backend (PTB keeps it beside the other, unexposed).
        updates_request = bot._request[0]
        assert isinstance(updates_request, AiohttpRequest)
        assert updates_request is not bot.request
        await bot.initialize()
        try:
            assert (await bot.get_me()).username == api.bot_username
            assert await bot.get_updates(timeout=0) == ()
        finally:
            await bot.shutdown()


# --- the environment's proxy ------------------------------------------------------------------


async def test_the_environments_proxy_carries_requests_with_its_credentials(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_proxy_settings(monkeypatch)
    caplog.set_level(logging.INFO, logger="bot.app.http")
    async with forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://trader:s3cr%40t@"))
        async with AiohttpRequest() as request:
            url = "http://127.0.0.1:9/bot123:TOKEN/getMe"
            assert await request.post(url) is True
            # Read once per host, as httpx reads it once per client: a later change is not seen.
            monkeypatch.delenv("HTTP_PROXY")
            assert await request.post(url) is True
        assert [head[0] for head in proxy.heads] == [f"POST {url} HTTP/1.1"] * 2
        expected = "Basic " + base64.b64encode(b"trader:s3cr@t").decode()  # %40 decoded
        assert proxy.header(0, "Proxy-Authorization") == expected
        assert proxy.header(0, "User-Agent") == AiohttpRequest.USER_AGENT
    assert caplog.messages == [
        f"requests to http://127.0.0.1:9 go through the proxy {proxy.url}"
    ]  # once, and neither the credentials nor the token


async def test_all_proxy_is_the_fallback_and_a_socks_proxy_carries_the_bot_and_its_poll(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_proxy_settings(monkeypatch)
    caplog.set_level(logging.INFO, logger="bot.app.http")
    async with socks_proxy() as socks, forward_proxy() as proxy, FakeBotApi() as api:
        api.add_private_chat(CHAT)
        api.push_text(CHAT, CHAT, "/start")
        # socks5h: the proxy resolves the host; the credentials are the proxy's, URL-decoded.
        monkeypatch.setenv("ALL_PROXY", socks.url.replace("socks5://", "socks5h://me:p%40ss@"))
        # Both backends are the bot's: PTB's default httpx long poll refused a socks proxy.
        async with bot_on(api, AiohttpRequest()) as bot:
            await bot.send_message(CHAT, "through socks")
            [update] = await bot.get_updates(timeout=0)
        assert [c.params["text"] for c in api.calls_to("sendMessage")] == ["through socks"]
        assert update.message is not None
        assert update.message.text == "/start"
        host, port = api.base_url.split("/")[2].split(":")
        assert {(h, int(p)) for h, p in socks.targets} == {(host, int(port))}
        assert set(socks.logins) == {("me", "p@ss")}
        where = f"requests to http://{host}:{port} go through the proxy"
        assert caplog.messages == [f"{where} socks5h://127.0.0.1:{socks.url.split(':')[-1]}"] * 2
        # An http proxy in ALL_PROXY, the fallback for every scheme.
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        async with AiohttpRequest() as request:
            assert await request.post("http://127.0.0.1:9/bot123:TOKEN/getMe") is True
        assert [head[0] for head in proxy.heads] == [
            "POST http://127.0.0.1:9/bot123:TOKEN/getMe HTTP/1.1"
        ]


async def test_a_proxy_of_another_kind_is_ignored_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_proxy_settings(monkeypatch)
    async with FakeBotApi() as api:
        api.add_private_chat(CHAT)
        monkeypatch.setenv("ALL_PROXY", "ftp://trader:s3cret@127.0.0.1:2121")
        async with bot_on(api, AiohttpRequest()) as bot:
            await bot.send_message(CHAT, "direct")
        assert [c.params["text"] for c in api.calls_to("sendMessage")] == ["direct"]
        host = api.base_url.split("/")[2].split(":")[0]
    assert caplog.messages == [
        f"ignoring the proxy ftp://127.0.0.1:2121 for http://{host}: "
        "only http(s):// and socks5(h)/socks4(a):// proxies work here"
    ]


async def test_a_socks_proxy_that_refuses_is_a_network_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy_settings(monkeypatch)
    url = "http://127.0.0.1:9/bot123:TOKEN/getMe"
    # do_request itself, as `check` calls it (PTB's `post` would wrap any exception anyway).
    async with socks_proxy(refuse=True) as socks:
        monkeypatch.setenv("ALL_PROXY", socks.url)
        async with AiohttpRequest() as request:
            with pytest.raises(NetworkError) as refused:
                await request.do_request(url, "POST")
    assert type(refused.value) is NetworkError
    assert refused.value.message.startswith("aiohttp_socks.ProxyError: ")
    assert "not allowed by ruleset" in refused.value.message
    # Nobody listening where the proxy should be.
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:9")
    async with AiohttpRequest() as request:
        with pytest.raises(NetworkError) as unreachable:
            await request.do_request(url, "POST")
    assert type(unreachable.value) is NetworkError
    assert unreachable.value.message.startswith("aiohttp_socks.ProxyConnectionError: ")
    assert "TOKEN" not in refused.value.message + unreachable.value.message


async def test_https_goes_through_the_proxys_tunnel_with_the_credentials_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy_settings(monkeypatch)
    async with forward_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://trader:s3cret@"))
        async with AiohttpRequest() as request:
            with pytest.raises(NetworkError, match=r"^aiohttp\.ClientHttpProxyError: 403"):
                await request.post("https://api.telegram.org/bot123:TOKEN/getMe")
        [head] = proxy.heads
        assert head[0] == "CONNECT api.telegram.org:443 HTTP/1.1"
        expected = "Basic " + base64.b64encode(b"trader:s3cret").decode()
        assert proxy.header(0, "Proxy-Authorization") == expected


async def test_a_host_in_no_proxy_and_a_host_without_a_proxy_go_direct(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy_settings(monkeypatch)
    async with forward_proxy() as proxy, FakeBotApi() as api:
        api.add_private_chat(CHAT)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)  # the fake is http://: not for it
        async with bot_on(api, AiohttpRequest()) as bot:
            await bot.send_message(CHAT, "direct")
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with bot_on(api, AiohttpRequest()) as bot:
            await bot.send_message(CHAT, "direct again")
        assert [c.params["text"] for c in api.calls_to("sendMessage")] == [
            "direct",
            "direct again",
        ]
        assert proxy.heads == []


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, counting what is handed to it."""

    submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


async def test_a_request_makes_no_round_trip_through_the_thread_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # aiohttp's trust_env reads the proxy settings and ~/.netrc in the thread pool at every
    # request: two round trips per sendMessage, which a fan-out to many chats multiplies.
    no_proxy_settings(monkeypatch)
    executor = CountingExecutor(max_workers=2)
    asyncio.get_running_loop().set_default_executor(executor)
    async with FakeBotApi() as api, bot_on(api, AiohttpRequest()) as bot:
        chats = [CHAT + number for number in range(20)]
        for chat in chats:
            api.add_private_chat(chat)
        await bot.send_message(CHAT, "first")  # the connection and the proxy settings
        before = executor.submitted
        await asyncio.gather(*(bot.send_message(chat, "fan-out") for chat in chats))
        assert executor.submitted == before
        assert len(api.calls_to("sendMessage")) == 21
