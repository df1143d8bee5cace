"""`replay --events` for Gate, HTX and Bitget: metadata bodies from the capture, then frames."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.fixtures import lines, text

_SOURCES = [
    ("gate-contracts-usdt", [text("gate_contracts_usdt.json")]),
    ("gate-contracts-btc", [text("gate_contracts_btc.json")]),
    ("htx-linear-contracts", [text("htx_contracts_linear.json")]),
    ("htx-swap-contracts", [text("htx_contracts_swap.json")]),
    ("htx-futures-contracts", [text("htx_contracts_futures.json")]),
    ("gate-usdt", lines("gate_public_liquidates.jsonl")),
    ("gate-btc", lines("gate_public_liquidates_shapes.jsonl")[1:2]),
    ("htx-linear", lines("htx_liquidation_orders.jsonl")),
    ("htx-swap", lines("htx_coinm_liquidation_orders.jsonl")[:1]),
    ("htx-futures", lines("htx_coinm_liquidation_orders.jsonl")[1:]),
    ("bitget", lines("bitget_uta_liquidation.jsonl")),
]


def _capture(path: Path) -> Path:
    rows = [
        {"recv_ms": 1_000 + n, "source": source, "frame": frame}
        for n, (source, frames) in enumerate(_SOURCES)
        for frame in frames
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_replay_events_of_every_new_feed(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "replay", str(_capture(tmp_path / "c.jsonl")), "--events"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [
        (e["exchange"], e["market"], e["symbol"], e["base"], e["side"], e["notional_usd"], e["ts_ms"])
        for e in events
    ] == [  # USD at 12 significant digits: 124.5 x 0.0001 x 215.1 prints as 2.677995
        ("gate", "usdt", "BTC_USDT", "BTC", "long", 2.677995, 1541486601123),
        ("gate", "usdt", "BTC_USDT", "BTC", "long", 0.22596, 1541486601456),
        ("gate", "usdt", "BTC_USDT", "BTC", "long", 2.66724, 1541486601000),
        ("gate", "btc", "BTC_USD", "BTC", "long", 1500.0, 1788000000200),
        ("gate", "btc", "BTC_USD", "BTC", "short", 700.0, 1788000000456),
        ("htx", "linear", "ETH-USDT", "ETH", "short", 12231.3, 1789670297212),
        ("htx", "swap", "BTC-USD", "BTC", "long", 3000.0, 1789670297212),
        ("htx", "futures", "BTC251226", "BTC", "short", 1200.0, 1789670297299),
        ("bitget", "usdt-futures", "BTCUSDT", "BTC", "long", 37.722858, 1736371332162),
    ]  # fmt: skip
    assert events[6]["qty"] == 0.05
    assert "unconfigured source" not in result.stderr
    assert result.stderr.rstrip().endswith(
        "9 events, skipped: 0 bad frames, 0 malformed lines, 0 unknown-instrument events, "
        "0 duplicates, 0 lines of unknown sources, 0 unusable metadata bodies"
    ), result.stderr[-500:]
