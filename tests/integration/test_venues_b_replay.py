"""`replay --events` of Deribit, BitMEX, Bitfinex and Kraken Futures, and their metadata."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx

from bot.app.capture import run_replay
from collectors.exchanges.bitmex import BitmexFeed
from collectors.exchanges.deribit import DeribitFeed
from collectors.exchanges.kraken import KrakenFuturesFeed
from collectors.metadata import MetadataManager
from tests.support.fixtures import lines, text
from tests.support.rest_server import RestStub

RECV = 1_791_565_700_000


def _line(source: str, frame: str, recv_ms: int = RECV) -> str:
    return json.dumps({"recv_ms": recv_ms, "source": source, "frame": frame})


async def test_replay_events_of_every_new_feed(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    rows = [
        _line("deribit-instruments", text("deribit_instruments.json")),
        *(_line("deribit", f) for f in lines("deribit_trades.jsonl")),
        _line("bitmex-instruments", text("bitmex_instruments.json")),
        *(_line("bitmex", f, RECV + 7) for f in lines("bitmex_liquidation.jsonl")),
        *(_line("bitfinex", f) for f in lines("bitfinex_liq_global.jsonl")),
        _line("kraken-instruments", text("kraken_instruments.json")),
        *(_line("kraken-futures", f) for f in lines("kraken_futures_trade.jsonl")),
    ]
    capture.write_text("\n".join(rows) + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert await run_replay(capture, events=True, out=out, err=err) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    summary = [(e["exchange"], e["symbol"], e["side"], e["notional_usd"]) for e in events]
    assert summary == [
        ("deribit", "BTC-PERPETUAL", "long", 8240.0),
        ("deribit", "ETH_USDC-PERPETUAL", "short", 7500.0),
        ("deribit", "BTC-PERPETUAL", "short", 40000.0),
        ("deribit", "BTC-PERPETUAL", "long", 40000.0),
        ("bitmex", "XBTUSD", "short", 314930.0),
        ("bitfinex", "tBTCF0:USTF0", "long", 41200.0),
        ("bitfinex", "tETHF0:USTF0", "short", 12400.0),
        ("kraken", "PF_XBTUSD", "long", 20600.0),
        ("kraken", "PI_XBTUSD", "short", 16480.0),
    ]
    # BitMEX has no event time: the replay stamps the capture line's receive time.
    assert [e["ts_ms"] for e in events if e["exchange"] == "bitmex"] == [RECV + 7]
    assert {e["base"] for e in events} == {"BTC", "ETH"}


async def test_metadata_of_each_venue_comes_from_its_rest_document() -> None:
    deribit = DeribitFeed("ws://unused", "")
    bitmex = BitmexFeed("ws://unused", "")
    kraken = KrakenFuturesFeed("ws://unused", "")
    async with RestStub() as rest, httpx.AsyncClient(timeout=5) as http:
        rest.set(
            "/api/v2/public/get_instruments",
            text("deribit_instruments.json"),
            query="currency=any&kind=future",
        )
        rest.set("/api/v1/instrument/active", text("bitmex_instruments.json"))
        rest.set("/derivatives/api/v3/instruments", text("kraken_instruments.json"))
        for feed in (deribit, bitmex, kraken):
            feed.rest_url = rest.url()
            manager = MetadataManager(
                feed.feed_id, feed.metadata_documents(), http=http, cache=None
            )
            assert await manager.refresh()
        assert rest.requests == {
            "/api/v2/public/get_instruments?currency=any&kind=future": 1,
            "/api/v1/instrument/active": 1,
            "/derivatives/api/v3/instruments": 1,
        }
    assert set(deribit.instruments) == {"BTC-PERPETUAL", "ETH_USDC-PERPETUAL"}
    assert (set(bitmex.instruments), bitmex.xbt_price) == ({"XBTUSD", "ETHUSDT", "ETHUSD"}, 82000.0)
    assert kraken.products == ["FI_XBTUSD_260327", "PF_XBTUSD", "PI_XBTUSD"]
