"""`liquidation-bot check`: one ✓/✗ line per thing a start needs, against the local stand-ins."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.support.bot_api import FakeBotApi
from tests.support.exchanges import SCRIPTED_FEEDS, exchanges
from tests.support.processes import closed_port


async def _check(env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "check", env={**os.environ, **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_everything_reachable_is_all_ticks(tmp_path: Path) -> None:
    async with FakeBotApi() as api, exchanges() as ex:
        env = {
            **ex.env(tmp_path / "data" / "bot.db"),
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
        }
        status, out, err = await _check(env, tmp_path)
        settings = ex.settings(tmp_path / "data" / "bot.db")
    urls = {
        "binance-usdm": settings.binance_usdm_ws_url,
        "binance-coinm": settings.binance_coinm_ws_url,
        "okx": settings.okx_ws_url,
        "bybit-linear": settings.bybit_ws_linear_url,
        "bybit-inverse": settings.bybit_ws_inverse_url,
    }
    assert (status, err) == (0, ""), out + err
    lines = out.splitlines()
    assert lines[:4] == [
        "✓ settings: valid",
        f"✓ database: {tmp_path}/data/bot.db is writable",
        f"✓ bot database: {tmp_path}/data/bot-bot.db is writable",
        "✓ telegram: getMe answered: the bot is @liquidation_test_bot",
    ]
    # Every enabled feed of the registry gets its line, whatever feeds exist.
    assert [line.split(":")[0] for line in lines[4:]] == [f"✓ feed {f}" for f in SCRIPTED_FEEDS]
    for feed_id, url in urls.items():
        assert f"✓ feed {feed_id}: connected to {url}" in lines
    assert api.token not in out


async def test_a_wrong_token_and_a_dead_feed_are_crosses_with_the_reason(tmp_path: Path) -> None:
    port = closed_port()
    async with FakeBotApi() as api:
        env = {
            "DATABASE_PATH": str(tmp_path / "bot.db"),
            "TELEGRAM_BOT_TOKEN": "999:wrong-token",
            "TELEGRAM_BASE_URL": api.base_url,
            "EXCHANGES": "okx",
            "OKX_WS_URL": f"ws://127.0.0.1:{port}/ws",
        }
        status, out, err = await _check(env, tmp_path)
    assert (status, err) == (1, "")
    assert out.splitlines() == [
        "✓ settings: valid",
        f"✓ database: {tmp_path}/bot.db is writable",
        f"✓ bot database: {tmp_path}/bot-bot.db is writable",
        "✗ telegram: Telegram refused TELEGRAM_BOT_TOKEN: check the token from @BotFather",
        f"✗ feed okx: cannot connect to ws://127.0.0.1:{port}/ws: ConnectionRefusedError(111, "
        f"\"Connect call failed ('127.0.0.1', {port})\")",
    ]
    assert "wrong-token" not in out


async def test_bad_settings_are_a_cross_and_exit_2(tmp_path: Path) -> None:
    status, out, err = await _check({"EXCHANGES": "kraken"}, tmp_path)
    assert status == 2
    assert out == "✗ settings: see the configuration errors above\n"
    assert err.startswith("configuration error: EXCHANGES: ")
