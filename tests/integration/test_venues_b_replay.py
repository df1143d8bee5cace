"""`replay --events` of a capture of Deribit, BitMEX, Bitfinex and Kraken Futures."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.app.capture import run_replay
from tests.support.fixtures import lines, text

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
