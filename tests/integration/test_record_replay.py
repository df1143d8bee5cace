"""Record from local exchange servers, replay the capture, and get the very same events."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path

import httpx

from bot.app.capture import run_record, run_replay, without_float_noise
from collectors.metadata_cache import SqliteMetadataCache
from collectors.registry import build_feeds
from collectors.service import CollectorService
from tests.support import bybit
from tests.support.exchanges import (
    BITFINEX_CONTROL,
    BITMEX_CONTROL,
    BYBIT_INVERSE_FRAMES,
    BYBIT_LINEAR_EVENTS,
    BYBIT_LINEAR_FRAMES,
    COINM_FRAMES,
    DERIBIT_CONTROL,
    KRAKEN_CONTROL,
    OKX_FRAMES,
    USDM_FRAMES,
    bybit_linear_pages,
    exchanges,
)
from tests.support.sinks import CollectingSink
from tests.support.waiting import eventually

# Lines a full recording holds: every frame, the exchangeInfo body, both OKX instruments bodies,
# both again from the one refetch that the unknown CNPY-USDT-SWAP triggers, and one Bybit
# instruments document per category (the linear one holds its two pages).
BYBIT_FRAMES = len(BYBIT_LINEAR_FRAMES) + len(BYBIT_INVERSE_FRAMES)
# Issue 15's venues send control frames only here, plus one metadata body each but Bitfinex.
NEW_VENUE_LINES = (
    len(DERIBIT_CONTROL) + len(BITMEX_CONTROL) + len(BITFINEX_CONTROL) + len(KRAKEN_CONTROL) + 3
)
EXPECTED_LINES = (
    len(USDM_FRAMES) + len(COINM_FRAMES) + len(OKX_FRAMES) + 3 + 2 + BYBIT_FRAMES + 2
) + NEW_VENUE_LINES
EXPECTED_EVENTS = (
    len(USDM_FRAMES)
    + len(COINM_FRAMES)
    + len(OKX_FRAMES)
    - 1  # CNPY unknown
    + BYBIT_LINEAR_EVENTS
    + len(BYBIT_INVERSE_FRAMES)
)


def _line_count(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


async def test_record_then_replay_yields_the_live_events(tmp_path: Path) -> None:
    async with exchanges() as ex:
        settings = ex.settings(tmp_path / "live.db")
        sink = CollectingSink()
        async with (
            httpx.AsyncClient(timeout=5) as http,
            SqliteMetadataCache(settings.database_path) as cache,
        ):
            service = CollectorService(
                build_feeds(settings.exchanges, settings.endpoints()), sink, http=http, cache=cache
            )
            live = asyncio.create_task(service.run())
            await sink.wait_records(EXPECTED_EVENTS)
            live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live

        capture = tmp_path / "capture.jsonl"
        stop = asyncio.Event()
        err = io.StringIO()
        settings = ex.settings(tmp_path / "record.db")
        recording = asyncio.create_task(run_record(settings, capture, None, stop, err))
        await eventually(lambda: _line_count(capture) >= EXPECTED_LINES)
        stop.set()
        stats = await recording
    assert _line_count(capture) == EXPECTED_LINES
    assert f"Recorded {EXPECTED_LINES} lines ({EXPECTED_EVENTS} liquidations)" in err.getvalue()
    assert sum(s.events for s in stats) == EXPECTED_EVENTS
    sources = [json.loads(line)["source"] for line in capture.read_text().splitlines()]
    assert sources.count("okx-instruments") == 4
    assert sources.count("binance-coinm-exchangeinfo") == 1
    assert sources.count("bybit-linear") == len(BYBIT_LINEAR_FRAMES)
    assert sources.count("bybit-inverse") == len(BYBIT_INVERSE_FRAMES)
    bodies = [
        json.loads(line)["frame"]
        for line in capture.read_text().splitlines()
        if json.loads(line)["source"] == "bybit-instruments"
    ]
    assert sorted(bodies) == sorted(
        [bybit.pages(*bybit_linear_pages()), bybit.pages(bybit.inverse_page())]
    )

    out, err = io.StringIO(), io.StringIO()
    assert await run_replay(capture, events=True, out=out, err=err) == 0
    replayed = [json.loads(line) for line in out.getvalue().splitlines()]
    expected = [
        {
            "exchange": r.exchange,
            "market": r.market,
            "symbol": r.symbol,
            "base": r.base,
            "side": r.side.value,
            "price": r.price,
            "qty": r.qty_base,
            "notional_usd": without_float_noise(r.notional_usd),
            "ts_ms": r.ts_ms,
        }
        for r in sink.records
    ]
    key = lambda e: (e["exchange"], e["market"], e["ts_ms"], e["symbol"])  # noqa: E731
    assert sorted(replayed, key=key) == sorted(expected, key=key)
    replayed_bybit = [(e["market"], e["base"]) for e in replayed if e["exchange"] == "bybit"]
    assert len(replayed_bybit) == BYBIT_LINEAR_EVENTS + len(BYBIT_INVERSE_FRAMES)
    assert ("inverse", "BTC") in replayed_bybit
    assert ("linear", "BTC") in replayed_bybit
    assert list(replayed[0]) == [
        "exchange",
        "market",
        "symbol",
        "base",
        "side",
        "price",
        "qty",
        "notional_usd",
        "ts_ms",
    ]
    assert err.getvalue().startswith(f"replay: {EXPECTED_LINES} lines, {EXPECTED_EVENTS} events")


def test_replayed_usd_amounts_carry_no_float_noise() -> None:
    assert 0.29 * 38751.89 == 11238.048099999998  # the noise a product of quotes carries
    assert without_float_noise(0.29 * 38751.89) == 11238.0481
    assert without_float_noise(7067.06235) == 7067.06235
    assert without_float_noise(1234567.891234567) == 1234567.89123
