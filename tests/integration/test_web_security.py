"""The dashboard's guard: refused exposed binds, busy ports, the token, Origin, Host, the cap."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

from aggregation.coverage import CoverageTracker
from aggregation.query import LiquidationQueries
from aggregation.windows import WindowStore
from bot.settings import Settings
from bot.web import Dashboard, WebConfig, WebError
from bot.web.security import COOKIE, CSP, session_value
from tests.support.waiting import eventually
from tests.support.web import running

TOKEN = "s3cret-token-for-tests-only"
REFUSAL = (
    "WEB_HOST=0.0.0.0 is reachable from other machines: set WEB_TOKEN to a long random secret, "
    "or use WEB_HOST=127.0.0.1"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def _bare_dashboard(config: WebConfig, tmp_path: Path) -> Dashboard:
    queries = LiquidationQueries(WindowStore(), CoverageTracker([]))
    return Dashboard(config, queries=queries, health=list, database_path=tmp_path / "none.db")


async def test_an_exposed_host_without_a_token_is_refused(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "192.168.1.10", "bot.example.com"):
        with pytest.raises(WebError) as refused:
            await _bare_dashboard(WebConfig(host=host, port=0), tmp_path).start()
        assert str(refused.value).startswith(f"WEB_HOST={host} is reachable from other machines")
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        WebConfig(host=host).check()  # loopback: no token needed
    WebConfig(host="0.0.0.0", token=TOKEN).check()
    with pytest.raises(WebError, match="WEB_TOKEN must be at least 16 characters long"):
        WebConfig(token="short").check()


def test_settings_refuse_an_exposed_host_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_HOST", "0.0.0.0")
    with pytest.raises(ValidationError, match=REFUSAL.replace(".", r"\.")):
        Settings(_env_file=None)
    monkeypatch.setenv("WEB_ENABLED", "false")
    assert Settings(_env_file=None).web_host == "0.0.0.0"  # no dashboard, nothing exposed
    monkeypatch.setenv("WEB_ENABLED", "true")
    monkeypatch.setenv("WEB_TOKEN", TOKEN)
    settings = Settings(_env_file=None)
    assert WebConfig.from_settings(settings).token == TOKEN
    assert TOKEN not in repr(settings)


def _run_bot(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WEB_", "TELEGRAM_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        capture_output=True,
        text=True,
        env={**clean, "EXCHANGES": "okx", "OKX_WS_URL": "ws://127.0.0.1:9/ws", **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_the_process_exits_with_one_line_when_exposed_without_a_token(tmp_path: Path) -> None:
    result = _run_bot({"WEB_HOST": "0.0.0.0"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"configuration error: WEB_TOKEN: Value error, {REFUSAL}\n"


def test_a_busy_port_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run_bot({"WEB_PORT": str(port), "LOG_LEVEL": "WARNING"}, tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"dashboard: cannot listen on 127.0.0.1:{port}: address already in use "
        "(set WEB_PORT to a free port, or WEB_ENABLED=false)\n"
    )


async def test_a_busy_port_raises_web_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WebError, match=f"cannot listen on 127.0.0.1:{port}: address already"):
            await _bare_dashboard(WebConfig(port=port), tmp_path).start()


async def test_every_path_but_healthz_needs_the_token(tmp_path: Path) -> None:
    async with running(tmp_path, WebConfig(token=TOKEN)) as rig:
        for path in ("/", "/api/v1/windows", "/api/v1/latest", "/api/v1/top", "/api/v1/health",
                     "/api/v1/series?window=1h", "/api/v1/export.csv", "/metrics",
                     "/static/app.js", "/api/v1/stream", "/nowhere"):  # fmt: skip
            async with rig.http.get(rig.url(path)) as response:
                assert response.status == 401, path
                assert response.headers["WWW-Authenticate"] == "Bearer"
            wrong = {"Authorization": "Bearer not-the-token-at-all"}
            async with rig.http.get(rig.url(path), headers=wrong) as response:
                assert response.status == 401, path
        async with rig.http.get(rig.url("/healthz")) as response:
            assert (response.status, await response.text()) == (200, "up\n")
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert await rig.get_json("/api/v1/latest?limit=1", headers=bearer) is not None
        async with rig.http.get(rig.url("/metrics"), headers=bearer) as response:
            assert response.status == 200


async def test_the_token_link_sets_a_strict_cookie_and_leaves_the_address(tmp_path: Path) -> None:
    async with running(tmp_path, WebConfig(token=TOKEN)) as rig:
        async with rig.http.get(rig.url(f"/?token={TOKEN}x"), allow_redirects=False) as response:
            assert response.status == 401
            assert "Set-Cookie" not in response.headers
        async with rig.http.get(
            rig.url(f"/?lang=zh&token={TOKEN}"), allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/?lang=zh"
            cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}={session_value(TOKEN)};")
        assert TOKEN not in cookie
        attributes = {part.strip().split("=")[0] for part in cookie.split(";")[1:]}
        assert {"HttpOnly", "SameSite", "Path", "Max-Age"} <= attributes
        assert "SameSite=Strict" in cookie
        jar = {COOKIE: session_value(TOKEN)}
        async with aiohttp.ClientSession(cookies=jar) as browser:
            async with browser.get(rig.url("/api/v1/latest?limit=1")) as response:
                assert response.status == 200
            async with browser.ws_connect(rig.url("/api/v1/stream")) as ws:
                hello = await ws.receive_json(timeout=5)
                assert hello["type"] == "hello"
        async with (
            aiohttp.ClientSession(cookies={COOKIE: "forged"}) as forged,
            forged.get(rig.url("/api/v1/latest")) as response,
        ):
            assert response.status == 401


async def test_a_foreign_origin_is_refused_on_the_stream(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await rig.http.ws_connect(rig.url("/api/v1/stream"), origin="https://evil.example")
        assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await rig.http.ws_connect(rig.url("/api/v1/stream"), origin="http://localhost:1")
        assert refused.value.status == 403
        async with rig.http.ws_connect(rig.url("/api/v1/stream"), origin=rig.base) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"


async def test_an_unknown_host_name_is_refused(tmp_path: Path) -> None:
    config = WebConfig(allowed_hosts=("bot.example.com",))
    async with running(tmp_path, config) as rig:
        port = rig.dashboard.port
        for host, status in [
            ("rebind.attacker.example", 400),
            (f"rebind.attacker.example:{port}", 400),
            ("", 400),
            (f"localhost:{port}", 200),
            (f"127.0.0.1:{port}", 200),
            (f"[::1]:{port}", 200),
            (f"10.1.2.3:{port}", 200),  # an IP literal cannot be rebound
            ("BOT.example.com", 200),
        ]:
            async with rig.http.get(rig.url("/api/v1/top"), headers={"Host": host}) as response:
                assert response.status == status, host
        body = await rig.get_json("/api/v1/top", status=400, headers={"Host": "evil.example"})
        assert body == {"error": "unknown Host; add it to WEB_ALLOWED_HOSTS"}


async def test_strict_headers_and_no_cors(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        for path in ("/", "/api/v1/windows", "/static/app.js", "/healthz", "/missing"):
            headers = {"Origin": "https://evil.example"}
            async with rig.http.get(rig.url(path), headers=headers) as response:
                assert response.headers["Content-Security-Policy"] == CSP, path
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["Referrer-Policy"] == "no-referrer"
                assert response.headers["X-Frame-Options"] == "DENY"
                assert not any(h.lower().startswith("access-control-") for h in response.headers)
        preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        async with rig.http.options(rig.url("/api/v1/windows"), headers=preflight) as response:
            assert response.status == 405
            assert not any(h.lower().startswith("access-control-") for h in response.headers)


async def test_the_stream_client_cap(tmp_path: Path) -> None:
    async with running(tmp_path, WebConfig(max_clients=2)) as rig:
        first = await rig.http.ws_connect(rig.url("/api/v1/stream"))
        second = await rig.http.ws_connect(rig.url("/api/v1/stream"))
        await eventually(lambda: len(rig.dashboard.hub.clients) == 2)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await rig.http.ws_connect(rig.url("/api/v1/stream"))
        assert refused.value.status == 503
        await first.close()
        await eventually(lambda: len(rig.dashboard.hub.clients) == 1)
        third = await rig.http.ws_connect(rig.url("/api/v1/stream"))
        assert (await third.receive_json(timeout=5))["type"] == "hello"
        assert rig.dashboard.hub.refused == 1
        await second.close()
        await third.close()


async def test_the_token_never_reaches_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(tmp_path, WebConfig(token=TOKEN)) as rig:
        async with rig.http.get(rig.url(f"/?token={TOKEN}"), allow_redirects=False):
            pass
        async with rig.http.get(rig.url("/metrics"), headers={"Authorization": f"Bearer {TOKEN}"}):
            pass
        assert rig.dashboard.url == f"http://127.0.0.1:{rig.dashboard.port}/"
    assert "dashboard at http://127.0.0.1:" in caplog.text
    assert TOKEN not in caplog.text


def test_dashboard_defaults() -> None:
    settings = Settings(_env_file=None)
    assert (settings.web_enabled, settings.web_host, settings.web_port) == (True, "127.0.0.1", 8080)
    assert settings.web_token is None
    assert WebConfig.from_settings(settings) == WebConfig(
        host="127.0.0.1", port=8080, token=None, max_clients=200
    )
