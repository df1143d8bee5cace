"""Every feed id builds its feed, at the endpoint configured for it."""

from __future__ import annotations

import pytest

from collectors.endpoints import FEED_IDS, Endpoints
from collectors.registry import build_feed, build_feeds


def test_every_feed_id_builds_the_feed_of_that_id_in_order() -> None:
    feeds = build_feeds(FEED_IDS, Endpoints())
    assert [feed.feed_id for feed in feeds] == list(FEED_IDS)


def test_each_feed_connects_to_its_own_endpoint() -> None:
    endpoints = Endpoints(**{name: f"ws://{name}" for name in Endpoints.__dataclass_fields__})
    urls = {feed.feed_id: feed.url for feed in build_feeds(FEED_IDS, endpoints)}
    assert urls == {
        "binance-usdm": "ws://binance_usdm_ws",
        "binance-coinm": "ws://binance_coinm_ws",
        "okx": "ws://okx_ws",
        "bybit-linear": "ws://bybit_linear_ws",
        "bybit-inverse": "ws://bybit_inverse_ws",
        "gate-usdt": "ws://gate_usdt_ws",
        "gate-btc": "ws://gate_btc_ws",
        "htx-linear": "ws://htx_linear_ws",
        "htx-swap": "ws://htx_swap_ws",
        "htx-futures": "ws://htx_futures_ws",
        "bitget": "ws://bitget_ws",
        "deribit": "ws://deribit_ws",
        "bitmex": "ws://bitmex_ws",
        "bitfinex": "ws://bitfinex_ws",
        "kraken-futures": "ws://kraken_futures_ws",
    }


def test_gate_and_htx_fetch_their_contract_lists_from_their_rest_endpoint() -> None:
    endpoints = Endpoints(**{name: f"http://{name}" for name in Endpoints.__dataclass_fields__})
    ids = ("gate-usdt", "gate-btc", "htx-linear", "htx-swap", "htx-futures", "bitget")
    documents = {
        feed.feed_id: [(d.capture_source, d.url) for d in feed.metadata_documents()]
        for feed in build_feeds(ids, endpoints)
    }
    assert documents == {
        "gate-usdt": [("gate-contracts-usdt", "http://gate_rest/api/v4/futures/usdt/contracts")],
        "gate-btc": [("gate-contracts-btc", "http://gate_rest/api/v4/futures/btc/contracts")],
        "htx-linear": [
            ("htx-linear-contracts", "http://htx_rest/linear-swap-api/v1/swap_contract_info")
        ],
        "htx-swap": [("htx-swap-contracts", "http://htx_rest/swap-api/v1/swap_contract_info")],
        "htx-futures": [("htx-futures-contracts", "http://htx_rest/api/v1/contract_contract_info")],
        "bitget": [],
    }


def test_an_unknown_id_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown feed 'kraken'; known feeds: binance-usdm, "):
        build_feed("kraken", Endpoints())
