"""Liquidation's field order, which the hot parsers rely on when they build records by position."""

from __future__ import annotations

from collectors.record import Liquidation


def test_liquidation_fields_keep_the_order_the_positional_parsers_use() -> None:
    # collectors/exchanges/gate/parsing.py builds records positionally (cheaper per event than
    # keywords): reordering these fields would silently swap values there.
    assert Liquidation.__struct_fields__ == (
        "exchange",
        "market",
        "symbol",
        "base",
        "side",
        "price",
        "qty_base",
        "notional_usd",
        "ts_ms",
        "recv_ms",
    )
