"""The command line: replay output, exit statuses and one-line configuration errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.render.status import DATA_NOTE
from tests.support.fixtures import lines, text


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def _capture(path: Path) -> Path:
    rows = [
        {"recv_ms": 1, "source": "okx-instruments", "frame": text("okx_instruments_swap.json")},
        *(
            {"recv_ms": 2, "source": "okx", "frame": f}
            for f in lines("okx_liquidation_orders.jsonl")
        ),
        *(
            {"recv_ms": 3, "source": "binance-usdm", "frame": f}
            for f in lines("binance_usdm_forceorder.jsonl")
        ),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not a json line\n")
    return path


def test_replay_events_prints_only_json_lines(tmp_path: Path) -> None:
    result = _run("replay", str(_capture(tmp_path / "c.jsonl")), "--events")
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 6 + 11
    assert events[4] == {
        "exchange": "okx",
        "market": "swap",
        "symbol": "BTC-USDT-SWAP",
        "base": "BTC",
        "side": "long",
        "price": 82655.7,
        "qty": 0.0855,
        "notional_usd": 7067.06235,
        "ts_ms": 1791565600771,
    }
    assert "capture line 20 skipped" in result.stderr
    assert "unknown instrument(s) ['CNPY-USDT-SWAP']" in result.stderr
    assert result.stderr.rstrip().endswith(
        "replay: 19 lines, 17 events, skipped: 0 bad frames, 1 malformed line, "
        "1 unknown-instrument event, 0 duplicates, 0 lines of unknown sources, "
        "0 unusable metadata bodies"
    )


def test_replay_summary_without_events(tmp_path: Path) -> None:
    result = _run("replay", str(_capture(tmp_path / "c.jsonl")))
    assert result.returncode == 0
    # The newest event is the 2026-10-09 Binance BTC long ($15,703.86); within 24 h of it are
    # OKX BTC ($7,067.06 long) and OKX CELO ($1,914.59 short, 139.5 s earlier). The other
    # recorded frames are older, so they are replayed but outside every window.
    rows = [
        f"{w:<8}     $22.77K      $1.91K     $24.69K        3"
        for w in ("3m", "15m", "1h", "4h", "24h")
    ]
    boards = [
        line
        for w in ("3m", "15m", "1h", "4h", "24h")
        for line in (
            f"Top longs liquidated, {w}: 1. BTC $22.77K",
            f"Top shorts liquidated, {w}: 1. CELO $1.91K",
        )
    ]
    assert result.stdout.splitlines() == [
        "binance-usdm: 11 frames, 11 events, 0 bad frames, 0 unknown-instrument events, "
        "0 duplicates",
        "okx: 7 frames, 6 events, 0 bad frames, 1 unknown-instrument events, 0 duplicates",
        "As of 2026-10-09 17:06:42 UTC (the capture's newest event; windows on event time):",
        "window          long       short       total   events",
        *rows,
        "  24h binance: $15.70K (long $15.70K / short $0)",
        "  24h okx: $8.98K (long $7.07K / short $1.91K)",
        *boards,
        DATA_NOTE,
    ]


def test_replay_store_imports_once(tmp_path: Path) -> None:
    capture = _capture(tmp_path / "c.jsonl")
    env = {"DATABASE_PATH": str(tmp_path / "bot.db")}
    first = _run("replay", str(capture), "--store", env=env, cwd=tmp_path)
    second = _run("replay", str(capture), "--store", env=env, cwd=tmp_path)
    assert first.returncode == second.returncode == 0
    assert f"stored into {tmp_path / 'bot.db'}: 17 new rows, 0 already there" in first.stderr
    assert f"stored into {tmp_path / 'bot.db'}: 0 new rows, 17 already there" in second.stderr
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0] == 17


def test_replay_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = _run("replay", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == f"replay: cannot read {tmp_path / 'missing.jsonl'}: No such file or directory\n"
    )


def test_configuration_errors_are_one_line_each(tmp_path: Path) -> None:
    result = _run(env={"EXCHANGES": "okx,kucoin", "MIN_EVENT_USD": "-1"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "configuration error: EXCHANGES: Value error, unknown feed id(s) kucoin; choose from "
        "binance-usdm,binance-coinm,okx,bybit-linear,bybit-inverse,gate-usdt,gate-btc,htx-linear,"
        "htx-swap,htx-futures,bitget,deribit,bitmex,bitfinex,kraken-futures",
        "configuration error: MIN_EVENT_USD: Input should be greater than or equal to 0",
    ]


def test_record_rejects_a_non_positive_duration(tmp_path: Path) -> None:
    result = _run("record", str(tmp_path / "c.jsonl"), "--duration", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "record: --duration must be a positive number of seconds\n"
