"""Synthetic Gate, HTX and Bitget frames and metadata for bench_normalize.py.

Built from the recorded or documented shapes in tests/fixtures, with varied contracts, sizes,
prices and times. HTX frames are returned both as text (what the parser sees after the
connection loop inflates them) and gzip-compressed (what the wire carries).
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
RECV_MS = 1_800_000_000_000
_CONTRACTS = 300


def _line(name: str, index: int = 0) -> dict[str, object]:
    text = (FIXTURES / name).read_text().splitlines()[index]
    return dict(json.loads(text))


def _dump(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def gate_contracts(settle: str) -> str:
    """A contract list for the synthetic Gate contracts of one settle currency."""
    if settle == "btc":
        return json.dumps([{"name": f"C{i}_USD", "quanto_multiplier": "0"} for i in range(5)])
    rows = [{"name": f"C{i}_USDT", "quanto_multiplier": "0.0001"} for i in range(_CONTRACTS)]
    return json.dumps(rows)


def gate_frames(count: int, rng: random.Random, settle: str) -> list[bytes]:
    """`futures.public_liquidates` pushes with one row (the usual size of a 1 s window)."""
    template = _line("gate_public_liquidates.jsonl")
    names = [f"C{i}_USD" for i in range(5)] if settle == "btc" else None
    frames = []
    for n in range(count):
        push = json.loads(json.dumps(template))
        name = rng.choice(names) if names else f"C{rng.randrange(_CONTRACTS)}_USDT"
        size = rng.randint(1, 50000) / 10 * rng.choice((-1, 1))
        row = {"price": f"{rng.uniform(0.001, 90000):.4f}", "size": f"{size:.1f}"}
        push["result"] = [{**row, "time_ms": RECV_MS + n, "contract": name}]
        push["time_ms"] = RECV_MS + n
        frames.append(_dump(push))
    return frames


def htx_contracts(market: str) -> str:
    """A contract list for the synthetic HTX contracts of one market."""
    suffix = {"linear": "-USDT", "swap": "-USD", "futures": "251226"}[market]
    size = 0.01 if market == "linear" else 10.0
    rows = [
        {"symbol": f"C{i}", "contract_code": f"C{i}{suffix}", "contract_size": size}
        for i in range(_CONTRACTS)
    ]
    return json.dumps({"status": "ok", "data": rows})


def htx_frames(count: int, rng: random.Random, market: str) -> tuple[list[bytes], list[bytes]]:
    """`liquidation_orders` pushes with one row: (inflated text, gzip-compressed) frames."""
    template = _line("htx_liquidation_orders.jsonl")
    suffix = {"linear": "-USDT", "swap": "-USD", "futures": "251226"}[market]
    texts = []
    for n in range(count):
        push = json.loads(json.dumps(template))
        row = push["data"][0]
        i = rng.randrange(_CONTRACTS)
        price = round(rng.uniform(0.001, 90000), 4)
        amount = rng.randint(1, 50000) / 100
        row.update(
            symbol=f"C{i}",
            contract_code=f"C{i}{suffix}",
            direction=rng.choice(("buy", "sell")),
            volume=rng.randint(1, 5000),
            price=price,
            created_at=RECV_MS + n,
            amount=amount,
            trade_turnover=round(amount * price, 4),
        )
        if market != "linear":
            del row["trade_turnover"]
        push["topic"] = f"public.C{i}{suffix}.liquidation_orders"
        push["ts"] = RECV_MS + n
        texts.append(_dump(push))
    return texts, [gzip.compress(frame) for frame in texts]


def bitget_frames(count: int, rng: random.Random) -> list[bytes]:
    """UTA `liquidation` pushes with one row."""
    template = _line("bitget_uta_liquidation.jsonl")
    frames = []
    for n in range(count):
        push = json.loads(json.dumps(template))
        row = push["data"][0]
        row["symbol"] = f"C{rng.randrange(_CONTRACTS)}USDT"
        row["side"] = rng.choice(("buy", "sell"))
        row["price"] = f"{rng.uniform(0.001, 90000):.4f}"
        row["amount"] = f"{rng.uniform(1, 500000):.6f}"
        row["ts"] = str(RECV_MS + n)
        push["ts"] = RECV_MS + n
        frames.append(_dump(push))
    return frames
