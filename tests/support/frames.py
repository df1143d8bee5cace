"""Build exchange frames with chosen times (recorded fixtures carry old timestamps)."""

from __future__ import annotations

import json
import time


def now_ms() -> int:
    """Return wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


def okx_push(inst_id: str, *details: tuple[str, str, str, str, int]) -> str:
    """An OKX liquidation-orders push; each detail is (sz, bkPx, posSide, side, ts_ms)."""
    return json.dumps(
        {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [
                {
                    "instId": inst_id,
                    "instFamily": inst_id.rsplit("-", 1)[0],
                    "instType": "SWAP",
                    "details": [
                        {
                            "bkPx": px,
                            "sz": sz,
                            "posSide": pos,
                            "side": side,
                            "ts": str(ts),
                            "bkLoss": "0",
                            "ccy": "",
                        }
                        for sz, px, pos, side, ts in details
                    ],
                }
            ],
        }
    )


def okx_history(inst_id: str, *details: tuple[str, str, str, str, int]) -> str:
    """A GET /api/v5/public/liquidation-orders body with the same details, newest first."""
    push = json.loads(okx_push(inst_id, *sorted(details, key=lambda d: -d[4])))
    return json.dumps({"code": "0", "msg": "", "data": push["data"]})


def binance_force_order(symbol: str, side: str, qty: str, price: str, ts: int) -> str:
    """A bare USDⓈ-M forceOrder event."""
    order = {"s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": qty, "p": price,
             "ap": price, "X": "FILLED", "l": qty, "z": qty, "T": ts}  # fmt: skip
    return json.dumps({"e": "forceOrder", "E": ts, "o": order})
