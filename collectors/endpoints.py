"""The feed ids and where each feed connects by default: plain data, no feed code imported."""

from __future__ import annotations

from dataclasses import dataclass

FEED_IDS = (
    "binance-usdm",
    "binance-coinm",
    "okx",
    "bybit-linear",
    "bybit-inverse",
    "gate-usdt",
    "gate-btc",
    "htx-linear",
    "htx-swap",
    "htx-futures",
    "bitget",
    "deribit",
    "bitmex",
    "bitfinex",
    "kraken-futures",
)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where each feed connects; every one is overridable (tests point them at local servers)."""

    binance_usdm_ws: str = "wss://fstream.binance.com/market/ws/!forceOrder@arr"
    binance_coinm_ws: str = "wss://dstream.binance.com/ws/!forceOrder@arr"
    binance_coinm_rest: str = "https://dapi.binance.com"
    okx_ws: str = "wss://ws.okx.com:8443/ws/v5/public"
    okx_rest: str = "https://www.okx.com"
    bybit_linear_ws: str = "wss://stream.bybit.com/v5/public/linear"
    bybit_inverse_ws: str = "wss://stream.bybit.com/v5/public/inverse"
    bybit_rest: str = "https://api.bybit.com"
    gate_usdt_ws: str = "wss://fx-ws.gateio.ws/v4/ws/usdt"
    gate_btc_ws: str = "wss://fx-ws.gateio.ws/v4/ws/btc"
    gate_rest: str = "https://api.gateio.ws"
    htx_linear_ws: str = "wss://api.hbdm.com/linear-swap-notification"
    htx_swap_ws: str = "wss://api.hbdm.com/swap-notification"
    htx_futures_ws: str = "wss://api.hbdm.com/notification"
    htx_rest: str = "https://api.hbdm.com"
    bitget_ws: str = "wss://ws.bitget.com/v3/ws/public"
    deribit_ws: str = "wss://www.deribit.com/ws/api/v2"
    deribit_rest: str = "https://www.deribit.com"
    bitmex_ws: str = "wss://ws.bitmex.com/realtime"
    bitmex_rest: str = "https://www.bitmex.com"
    bitfinex_ws: str = "wss://api-pub.bitfinex.com/ws/2"
    kraken_futures_ws: str = "wss://futures.kraken.com/ws/v1"
    kraken_futures_rest: str = "https://futures.kraken.com"
