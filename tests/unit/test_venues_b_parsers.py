"""Parser rules of Deribit, BitMEX, Bitfinex and Kraken Futures (issue 15)."""

from __future__ import annotations

import json

import pytest

from collectors.exchanges.bitfinex import BitfinexFeed, perpetual_asset
from collectors.exchanges.bitmex import NO_XBT_PRICE, BitmexFeed
from collectors.exchanges.deribit import TEST_REPLY, DeribitFeed
from collectors.exchanges.kraken import KrakenFuturesFeed, product_asset
from collectors.parsing import FirstSight, FrameError
from collectors.record import Liquidation, Side
from tests.support.fixtures import lines, text

RECV = 1_791_565_700_000


def deribit() -> DeribitFeed:
    feed = DeribitFeed("ws://x", "http://x")
    assert feed.apply_instruments(text("deribit_instruments.json")) == "2 instruments (1 inverse)"
    return feed


def test_deribit_taker_maker_and_both() -> None:
    feed = deribit()
    frames = lines("deribit_trades.jsonl")
    taker = feed.parse(frames[0], RECV)
    # T, direction sell: the taker sold, a long; inverse amount is USD. The unmarked trade is no event.
    assert taker.records == [
        Liquidation(
            "deribit", "inverse", "BTC-PERPETUAL", "BTC", Side.LONG, 82400.5,
            8240.0 / 82400.5, 8240.0, 1791565601100, RECV,
        )
    ]  # fmt: skip
    maker = feed.parse(frames[1], RECV)
    # M, direction sell: the maker bought, a short; linear amount is base.
    assert maker.records == [
        Liquidation(
            "deribit", "linear", "ETH_USDC-PERPETUAL", "ETH", Side.SHORT, 3000.0, 2.5, 7500.0,
            1791565602000, RECV,
        )
    ]  # fmt: skip
    both = feed.parse(frames[2], RECV)
    assert [(r.side, r.notional_usd, r.qty_base) for r in both.records] == [
        (Side.SHORT, 40000.0, 0.5),
        (Side.LONG, 40000.0, 0.5),
    ]
    # Delivered again (a reconnect): the trade_id was seen; a control frame, not a bad one.
    again = feed.parse(frames[2], RECV)
    assert (again.records, again.control) == ([], "no new liquidation in 1 trades")
    ordinary = frames[0].replace(',"liquidation":"T"', "")
    assert feed.parse(ordinary, RECV).control == "no new liquidation in 2 trades"


def test_deribit_unknown_instrument_is_rescued_later() -> None:
    feed = DeribitFeed("ws://x", "http://x")
    frame = lines("deribit_trades.jsonl")[0]
    first = feed.parse(frame, RECV)
    assert first.records == []
    assert first.rejected is not None
    assert first.rejected[0].unknown_instrument
    feed.apply_instruments(text("deribit_instruments.json"))
    assert len(feed.parse(frame, RECV).records) == 1  # not marked as seen by the rejection


def test_deribit_controls_and_test_request_answer() -> None:
    feed = deribit()
    controls = [feed.parse(f, RECV).control for f in lines("deribit_ws_control.jsonl")]
    assert controls == [
        "reply to request 1",
        "reply to request 2",
        "heartbeat heartbeat",
        "heartbeat test_request",
    ]
    assert feed.outbox is not None
    assert feed.outbox.take_due(0)[0] == [TEST_REPLY]
    assert json.loads(TEST_REPLY)["method"] == "public/test"
    with pytest.raises(FrameError, match="request 3 failed: 10001 bad"):
        feed.parse('{"jsonrpc":"2.0","id":3,"error":{"code":10001,"message":"bad"}}', RECV)
    methods = [json.loads(m)["method"] for m in feed.subscribe_messages()]
    assert methods == ["public/set_heartbeat", "public/subscribe"]


def bitmex(xbt: bool = True) -> BitmexFeed:
    feed = BitmexFeed("ws://x", "http://x")
    rows = json.loads(text("bitmex_instruments.json"))
    if not xbt:
        rows = [r for r in rows if r["symbol"] != "XBTUSD"]
    feed.apply_instruments(json.dumps(rows))
    return feed


def test_bitmex_inverse_first_sight_only() -> None:
    feed = bitmex()
    insert, update = lines("bitmex_liquidation.jsonl")
    parsed = feed.parse(insert, RECV)
    # side Buy: a short; inverse: leavesQty is USD; no event time: the receive time.
    assert parsed.records == [
        Liquidation(
            "bitmex", "inverse", "XBTUSD", "BTC", Side.SHORT, 13854.5, 314930 / 13854.5,
            314930.0, RECV, RECV,
        )
    ]  # fmt: skip
    assert feed.parse(update, RECV).records == []
    assert feed.parse(update, RECV).control == "update of 1 orders"
    partial = insert.replace('"insert"', '"partial"')
    assert feed.parse(partial, RECV + 1).records == []  # the same orderID again


def frame(action: str, symbol: str, side: str, price: float, qty: float, oid: str) -> str:
    row = {"orderID": oid, "symbol": symbol, "side": side, "price": price, "leavesQty": qty}
    return json.dumps({"table": "liquidation", "action": action, "data": [row]})


def test_bitmex_linear_and_quanto() -> None:
    feed = bitmex()
    linear = feed.parse(frame("partial", "ETHUSDT", "Sell", 3000.0, 2500, "a"), RECV).records
    assert [(r.side, r.qty_base, r.notional_usd, r.market) for r in linear] == [
        (Side.LONG, 2.5, 7500.0, "linear")
    ]
    quanto = feed.parse(frame("insert", "ETHUSD", "Sell", 3000.0, 10, "b"), RECV).records
    usd = 10 * 100 / 1e8 * 3000.0 * 82000.0  # XBTUSD markPrice
    assert [(r.qty_base, r.notional_usd, r.base) for r in quanto] == [(usd / 3000.0, usd, "ETH")]


def test_bitmex_quanto_without_xbt_price_is_skipped_and_said() -> None:
    feed = bitmex(xbt=False)
    parsed = feed.parse(frame("insert", "ETHUSD", "Sell", 3000.0, 10, "c"), RECV)
    assert parsed.records == []
    assert parsed.rejected is not None
    assert [r.reason for r in parsed.rejected] == [NO_XBT_PRICE]


def test_bitmex_controls() -> None:
    feed = bitmex()
    assert feed.parse("pong", RECV).control == "pong"
    assert feed.parse('{"info":"Welcome to the BitMEX Realtime API."}', RECV).control == "welcome"
    ack = '{"success":true,"subscribe":"liquidation","request":{"op":"subscribe"}}'
    assert feed.parse(ack, RECV).control == "subscribed liquidation"
    with pytest.raises(FrameError, match="400"):
        feed.parse('{"status":400,"error":"Unknown table"}', RECV)


def test_bitfinex_rows() -> None:
    feed = BitfinexFeed("ws://x")
    info, subscribed, snapshot, hb, repeat = lines("bitfinex_liq_global.jsonl")
    assert feed.parse(info, RECV).control == "info"
    assert feed.parse(subscribed, RECV).control == "subscribed"
    assert feed.parse(hb, RECV).control == "hb"
    # Long from AMOUNT > 0 at PRICE_ACQUIRED; short at BASE_PRICE when nothing was acquired;
    # the margin pair and the IS_MATCH == 1 row are no events.
    assert feed.parse(snapshot, RECV).records == [
        Liquidation(
            "bitfinex", "perpetual", "tBTCF0:USTF0", "BTC", Side.LONG, 82400.0, 0.5, 41200.0,
            1791565601100, RECV,
        ),
        Liquidation(
            "bitfinex", "perpetual", "tETHF0:USTF0", "ETH", Side.SHORT, 3100.0, 4.0, 12400.0,
            1791565601200, RECV,
        ),
    ]  # fmt: skip
    assert feed.parse(repeat, RECV).records == []  # the same POS_ID in an update
    assert perpetual_asset("tBTCF0:USTF0") == "BTC"
    assert perpetual_asset("tBTCUSD") is None
    assert perpetual_asset("tF0:USTF0") is None


def test_kraken_trades() -> None:
    feed = KrakenFuturesFeed("ws://x", "http://x")
    assert feed.apply_instruments(text("kraken_instruments.json")) == "3 products"
    assert feed.products == ["FI_XBTUSD_260327", "PF_XBTUSD", "PI_XBTUSD"]
    parsed = [feed.parse(f, RECV) for f in lines("kraken_futures_trade.jsonl")]
    assert [p.control for p in parsed] == [
        "info",
        "subscribed",
        "trade_snapshot",
        None,
        None,
        "trade of type fill",
    ]
    assert parsed[3].records == [
        Liquidation(
            "kraken", "linear", "PF_XBTUSD", "BTC", Side.LONG, 82400.0, 0.25, 20600.0,
            1791565601100, RECV,
        )
    ]  # fmt: skip
    assert parsed[4].records == [
        Liquidation(
            "kraken", "inverse", "PI_XBTUSD", "BTC", Side.SHORT, 82400.0, 0.2, 16480.0,
            1791565601200, RECV,
        )
    ]  # fmt: skip
    assert product_asset("FI_ETHUSD_260327") == ("ETH", True)
    assert product_asset("in_xbtusd") is None


def test_kraken_subscribes_new_products_on_the_open_connection() -> None:
    feed = KrakenFuturesFeed("ws://x", "http://x")
    assert feed.subscribe_messages() == []  # nothing listed yet
    feed.apply_instruments(text("kraken_instruments.json"))
    assert feed.outbox is not None
    sent = [json.loads(m) for m in feed.outbox.take_due(0)[0]]
    assert sent == [
        {
            "event": "subscribe",
            "feed": "trade",
            "product_ids": ["FI_XBTUSD_260327", "PF_XBTUSD", "PI_XBTUSD"],
        }
    ]
    feed.apply_instruments(text("kraken_instruments.json"))
    assert feed.outbox.take_due(0)[0] == []


def test_first_sight_forgets_after_two_generations() -> None:
    seen = FirstSight(capacity=3)
    assert [seen.first(k) for k in (1, 2, 3, 1)] == [True, True, True, False]
    assert seen.first(4)  # the first generation is full: a new one starts
    assert not seen.first(1)  # still remembered in the older generation
    for key in (5, 6, 7):
        seen.first(key)
    assert seen.first(1)  # forgotten once two newer generations filled
