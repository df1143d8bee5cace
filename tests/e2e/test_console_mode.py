"""Console mode end to end: local exchanges -> collectors -> printed lines and status lines."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import stat
import sys
from pathlib import Path

from bot.app.console import CONSOLE_BANNER, run_console
from bot.render.status import format_event_line
from collectors.exchanges.binance import parse_usdm
from tests.support.exchanges import USDM_FRAMES, exchanges
from tests.support.waiting import eventually

USDM_LINES = [format_event_line(r) for f in USDM_FRAMES for r in parse_usdm(f, 0).records]


async def test_console_prints_events_and_status(tmp_path: Path) -> None:
    async with exchanges() as ex:
        settings = ex.settings(tmp_path / "db" / "bot.db", status_interval_s=0.2, min_event_usd=100)
        out = io.StringIO()
        stop = asyncio.Event()
        task = asyncio.create_task(run_console(settings, out, stop))
        # The floor is 100 USD: STG ($0.68), ETH ($97.36) and one BTC ($83.60) are not printed.
        shown = [line for line in USDM_LINES if not any(x in line for x in ("$1 ", "$97", "$84"))]
        assert len(shown) == len(USDM_LINES) - 3
        await eventually(lambda: all(line in out.getvalue() for line in shown))
        await eventually(lambda: "binance coinm" in out.getvalue())
        await eventually(lambda: "status binance-usdm: up" in out.getvalue())
        stop.set()
        await task
    printed = out.getvalue().splitlines()
    assert out.getvalue().startswith(CONSOLE_BANNER)
    assert [line for line in printed if "binance usdm" in line] == shown
    assert stat.S_IMODE((tmp_path / "db" / "bot.db").stat().st_mode) == 0o600


async def test_the_process_prints_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with exchanges() as ex:
        env = {**os.environ, **ex.env(tmp_path / "bot.db"), "EXCHANGES": "binance-usdm"}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=tmp_path,
        )
        assert process.stdout is not None
        seen: list[str] = []
        async with asyncio.timeout(20):
            while not any(USDM_LINES[7] in line for line in seen):  # the BTC long, $15.70K
                seen.append((await process.stdout.readline()).decode())
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert seen[0] == CONSOLE_BANNER.splitlines(keepends=True)[0]
    assert [line.rstrip("\n") for line in seen if "liquidated" in line] == USDM_LINES[
        :5
    ] + USDM_LINES[6:8]
    assert b"Traceback" not in stderr
