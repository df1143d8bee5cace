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
        "deribit": "ws://deribit_ws",
        "bitmex": "ws://bitmex_ws",
        "bitfinex": "ws://bitfinex_ws",
        "kraken-futures": "ws://kraken_futures_ws",
    }


def test_an_unknown_id_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown feed 'kraken'; known feeds: binance-usdm, "):
        build_feed("kraken", Endpoints())
