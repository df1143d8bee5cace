"""The command line: replay output, exit statuses and one-line configuration errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
        "replay: 19 lines, 17 events, 0 bad frames, 1 malformed lines"
    )


def test_replay_summary_without_events(tmp_path: Path) -> None:
    result = _run("replay", str(_capture(tmp_path / "c.jsonl")))
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "binance-usdm: 11 frames, 11 events, 0 bad frames, 0 unknown-instrument events, "
        "0 duplicates",
        "okx: 7 frames, 6 events, 0 bad frames, 1 unknown-instrument events, 0 duplicates",
    ]


def test_replay_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = _run("replay", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == f"replay: cannot read {tmp_path / 'missing.jsonl'}: No such file or directory\n"
    )


def test_configuration_errors_are_one_line_each(tmp_path: Path) -> None:
    result = _run(env={"EXCHANGES": "okx,bitmex", "MIN_EVENT_USD": "-1"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "configuration error: EXCHANGES: Value error, unknown feed id(s) bitmex; choose from "
        "binance-usdm,binance-coinm,okx,bybit-linear,bybit-inverse",
        "configuration error: MIN_EVENT_USD: Input should be greater than or equal to 0",
    ]


def test_record_rejects_a_non_positive_duration(tmp_path: Path) -> None:
    result = _run("record", str(tmp_path / "c.jsonl"), "--duration", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "record: --duration must be a positive number of seconds\n"
