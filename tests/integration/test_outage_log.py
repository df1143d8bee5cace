"""Without network a feed's failure is logged once, then one line per minute while it lasts."""

from __future__ import annotations

import logging

import pytest

from bot.render.status import format_status_line
from collectors.backoff import Backoff
from collectors.connection import ConnectionPolicy, FeedRunner
from collectors.exchanges.binance import BinanceUsdmFeed
from collectors.outage import OutageLog
from tests.support.feeds import running
from tests.support.processes import closed_port
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually
from tests.support.ws_server import ScriptedServer, frames_then


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("collectors") and r.levelno >= level
    ]


async def test_refused_connects_log_one_warning_and_count_every_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    port = closed_port()
    url = f"ws://127.0.0.1:{port}/ws"
    policy = ConnectionPolicy(backoff=Backoff(initial_s=0.01, max_s=0.02))
    runner = FeedRunner(BinanceUsdmFeed(url, policy), CollectingSink())
    async with running(runner):
        await eventually(lambda: runner.stats.connect_failures >= 20, timeout=10)
    # Before: two lines per attempt (a warning and "retrying in"), 40 or more here.
    assert _lines(caplog, logging.INFO) == [
        f'binance-usdm: connect failed: ConnectionRefusedError(111, "Connect call failed '
        f"('127.0.0.1', {port})\") ({url}); retrying (one line a minute while it persists)"
    ]
    line = format_status_line(runner.stats, 0)
    assert f"{runner.stats.connect_failures} reconnects" in line


async def test_recovery_after_an_outage_says_how_long_it_lasted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    port = closed_port()
    policy = ConnectionPolicy(backoff=Backoff(initial_s=0.01, max_s=0.02))
    runner = FeedRunner(BinanceUsdmFeed(f"ws://127.0.0.1:{port}/ws", policy), CollectingSink())
    async with running(runner):
        await eventually(lambda: runner.stats.connect_failures >= 3, timeout=10)
        async with ScriptedServer(frames_then([]), port=port):
            await eventually(lambda: runner.stats.connected, timeout=10)
    recovered = [m for m in _lines(caplog, logging.INFO) if "connected after" in m]
    assert len(recovered) == 1
    assert recovered[0].startswith("binance-usdm: connected after ")


def test_one_line_per_minute_while_the_failure_persists(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    now = [0.0]
    outage = OutageLog("okx", logging.getLogger("collectors.connection"), clock=lambda: now[0])
    for _ in range(300):  # one attempt every 0.5 s for 150 s
        outage.failed("connect failed: OSError(101)")
        now[0] += 0.5
    assert _lines(caplog, logging.WARNING) == [
        "okx: connect failed: OSError(101); retrying (one line a minute while it persists)",
        "okx: still failing after 121 attempts over 60s: connect failed: OSError(101)",
        "okx: still failing after 241 attempts over 120s: connect failed: OSError(101)",
    ]
    outage.recovered()
    outage.failed("connect failed: OSError(101)")  # a new outage is said again at once
    assert len(_lines(caplog, logging.WARNING)) == 4
