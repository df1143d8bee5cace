"""`replay` of what a user may hand it: raw frames, repeated unknown instruments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.texts.formatting import plural
from tests.support.fixtures import lines

ROOT = Path(__file__).resolve().parents[2]


def _replay(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "replay", str(path), *args],
        capture_output=True, text=True, env=dict(os.environ), cwd=path.parent,
        timeout=60, check=False,
    )  # fmt: skip


def test_a_file_of_raw_exchange_frames_is_said_once_with_the_capture_format(
    tmp_path: Path,
) -> None:
    frames = lines("binance_usdm_forceorder.jsonl")
    done = _replay(ROOT / "tests" / "fixtures" / "binance_usdm_forceorder.jsonl")
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        done.stderr.splitlines()[0],
        done.stderr.splitlines()[1],
        f"replay: 0 lines, 0 events, skipped: 0 bad frames, {len(frames)} malformed lines, "
        "0 unknown-instrument events, 0 duplicates, 0 lines of unknown sources, "
        "0 unusable metadata bodies",
    ]
    first, rest = done.stderr.splitlines()[:2]
    assert first.endswith(
        "capture line 1 is an exchange frame, not a capture line: replay reads files written by "
        '`liquidation-bot record`, JSON lines {"recv_ms": int, "source": feed id, "frame": the '
        "raw text}; such lines are skipped"
    )
    assert rest.endswith(f"capture: {len(frames) - 1} more malformed line(s) skipped")


def test_unknown_instruments_are_counted_and_summarised_once(tmp_path: Path) -> None:
    okx = [json.loads(f) for f in lines("okx_liquidation_orders.jsonl")]
    frame = json.dumps(okx[0])
    rows = [{"recv_ms": n, "source": "okx", "frame": frame} for n in range(200)]  # no metadata
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = _replay(path)
    assert done.returncode == 0
    log = done.stderr.splitlines()
    # One summary line instead of 200 per-frame warnings.
    assert len([line for line in log if "unknown instrument" in line]) == 1
    events = len(okx[0]["data"][0]["details"]) * 200
    assert log[-1] == (
        "replay: 200 lines, 0 events, skipped: 0 bad frames, 0 malformed lines, "
        f"{events:,} unknown-instrument events, 0 duplicates, 0 lines of unknown sources, "
        "0 unusable metadata bodies"
    )
    assert f"capture: okx: skipped {events:,} event(s) of unknown instrument(s)" in log[-2]


def test_the_closing_line_counts_every_kind_of_skip(tmp_path: Path) -> None:
    okx = lines("okx_liquidation_orders.jsonl")[0]
    rows = [
        {"recv_ms": 1, "source": "kucoin", "frame": "{}"},  # no feed reads this source
        {"recv_ms": 2, "source": "okx-instruments", "frame": "not json"},  # unusable metadata
        {"recv_ms": 3, "source": "okx", "frame": "{nonsense"},  # a bad frame
        {"recv_ms": 4, "source": "okx", "frame": okx},  # no instruments yet: unknown
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "torn line\n")
    done = _replay(path)
    assert done.returncode == 0
    unknown = len(json.loads(okx)["data"][0]["details"])
    assert done.stderr.splitlines()[-1] == (
        "replay: 4 lines, 0 events, skipped: 1 bad frame, 1 malformed line, "
        f"{plural(unknown, 'unknown-instrument event', 'unknown-instrument events')}, "
        "0 duplicates, 1 line of an unknown source, 1 unusable metadata body"
    )
