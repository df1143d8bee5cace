"""Synthetic Bybit instruments-info pages and a Bybit-like server reply (acks and pongs).

The pages follow the documented response example (bybit-exchange/docs
`docs/v5/market/instrument.mdx`); only the fields the collector reads, plus `settleCoin`, are
filled in. They are not recordings (there is no recorded instruments-info body in the samples).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.support.ws_server import Reply

# (symbol, contractType, baseCoin, quoteCoin): every linear symbol of bybit_all_liquidation.jsonl,
# a USDC perpetual, a dated future and the multiplier listings.
LINEAR_ROWS = [
    ("ROSEUSDT", "LinearPerpetual", "ROSE", "USDT"),
    ("ICPUSDT", "LinearPerpetual", "ICP", "USDT"),
    ("MARSCOINUSDT", "LinearPerpetual", "MARSCOIN", "USDT"),
    ("COTIUSDT", "LinearPerpetual", "COTI", "USDT"),
    ("BTCUSDT", "LinearPerpetual", "BTC", "USDT"),
    ("BTCPERP", "LinearPerpetual", "BTC", "USDC"),
    ("BTCUSDT-26DEC26", "LinearFutures", "BTC", "USDT"),
    ("1000PEPEUSDT", "LinearPerpetual", "1000PEPE", "USDT"),
    ("SHIB1000USDT", "LinearPerpetual", "SHIB1000", "USDT"),
]
INVERSE_ROWS = [
    ("BTCUSD", "InversePerpetual", "BTC", "USD"),
    ("ETHUSD", "InversePerpetual", "ETH", "USD"),
    ("BTCUSDH27", "InverseFutures", "BTC", "USD"),
]


def row(
    symbol: str, contract_type: str, base: str, quote: str, status: str = "Trading"
) -> dict[str, object]:
    """Return one instrument object of the documented shape."""
    settle = base if contract_type.startswith("Inverse") else quote
    return {
        "symbol": symbol,
        "contractType": contract_type,
        "status": status,
        "baseCoin": base,
        "quoteCoin": quote,
        "settleCoin": settle,
        "deliveryTime": "0",
    }


def page(category: str, rows: list[dict[str, object]], cursor: str = "") -> str:
    """Return one instruments-info response body."""
    return json.dumps(
        {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"category": category, "list": rows, "nextPageCursor": cursor},
            "retExtInfo": {},
            "time": 1791460000000,
        },
        separators=(",", ":"),
    )


def pages(*bodies: str) -> str:
    """Return the document the collector installs: the JSON array of page bodies."""
    return "[" + ",".join(bodies) + "]"


def linear_page(cursor: str = "") -> str:
    """Every linear row on one page."""
    return page("linear", [row(*r) for r in LINEAR_ROWS], cursor)


def inverse_page(cursor: str = "") -> str:
    """Every inverse row on one page."""
    return page("inverse", [row(*r) for r in INVERSE_ROWS], cursor)


def topics_of(message: str) -> list[str]:
    """Return the topics of a subscribe frame (empty for any other message)."""
    try:
        request = json.loads(message)
    except ValueError:
        return []
    if not isinstance(request, dict) or request.get("op") != "subscribe":
        return []
    return list(request["args"])


def replies(reject: Callable[[list[str]], str | None] | None = None, *, pong: bool = True) -> Reply:
    """Answer like Bybit: a pong to each ping, an ack to each subscribe.

    `reject(topics)` returns a `ret_msg` to refuse a subscribe frame with, or None to accept it.
    """

    def reply(message: str) -> str | None:
        try:
            request = json.loads(message)
        except ValueError:
            return None
        if not isinstance(request, dict):
            return None
        req_id = request.get("req_id", "")
        if request.get("op") == "ping":
            if not pong:
                return None
            answer = {"success": True, "ret_msg": "pong", "conn_id": "c", "req_id": req_id}
            return json.dumps({**answer, "op": "ping"})
        if request.get("op") == "subscribe":
            refusal = reject(list(request["args"])) if reject is not None else None
            answer = {"success": refusal is None, "ret_msg": refusal or "", "conn_id": "c"}
            return json.dumps({**answer, "req_id": req_id, "op": "subscribe"})
        return None

    return reply
