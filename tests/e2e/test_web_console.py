"""The dashboard inside the running bot: console mode serves it beside the collectors."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import aiohttp

from bot.app.console import run_console
from collectors.exchanges.binance import parse_usdm
from tests.support.exchanges import USDM_FRAMES, exchanges
from tests.support.waiting import eventually

USDM_EVENTS = [r for f in USDM_FRAMES for r in parse_usdm(f, 0).records]


async def test_console_mode_serves_the_dashboard(tmp_path: Path) -> None:
    async with exchanges() as ex:
        settings = ex.settings(tmp_path / "bot.db", exchanges=("binance-usdm",))
        out = io.StringIO()
        stop = asyncio.Event()
        task = asyncio.create_task(run_console(settings, out, stop))
        await eventually(lambda: "Dashboard: http://127.0.0.1:" in out.getvalue())
        match = re.search(r"^Dashboard: (http://127\.0\.0\.1:\d+/)$", out.getvalue(), re.MULTILINE)
        assert match is not None
        base = match.group(1)
        async with aiohttp.ClientSession() as http:
            # The recorded events are years old: no window counts them, but the live tape
            # has them all, from sequence 1 (a resume from 0 in this process's epoch).
            async with http.ws_connect(base + "api/v1/stream") as ws:
                hello = await ws.receive_json(timeout=5)
            events: list[dict[str, object]] = []
            query = f"api/v1/stream?since=0&epoch={hello['epoch']}"
            async with http.ws_connect(base + query) as ws, asyncio.timeout(20):
                assert (await ws.receive_json())["resumed"] is True
                while len(events) < len(USDM_EVENTS):
                    message = await ws.receive_json()
                    if message["type"] == "tape":
                        events += message["events"]
            async with http.get(base + "api/v1/health") as response:
                [feed] = (await response.json())["feeds"]
            async with http.get(base + "healthz") as response:
                assert (response.status, await response.text()) == (200, "up\n")
        stop.set()
        await task
    assert [(e["seq"], e["ts_ms"], e["notional_usd"]) for e in events] == [
        (seq, r.ts_ms, r.notional_usd) for seq, r in enumerate(USDM_EVENTS, start=1)
    ]
    assert (feed["feed"], feed["coverage"], feed["silence_timeout_s"]) == (
        "binance-usdm",
        "throttled",
        600.0,
    )
    assert feed["events"] == len(USDM_EVENTS)
