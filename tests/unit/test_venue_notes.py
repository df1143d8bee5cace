"""Coverage notes of the venues the data note leaves out, beside every total that includes them."""

from __future__ import annotations

from aggregation.coverage import FeedCoverage
from bot.render.common import venue_notes
from bot.render.status import DATA_NOTE
from bot.texts.catalog import Locale
from collectors.record import Coverage


def _feed(feed_id: str, exchange: str, coverage: Coverage) -> FeedCoverage:
    return FeedCoverage(feed_id, exchange, coverage, 1.0, 0, (), True)


FEEDS = [
    _feed("okx", "okx", Coverage.PARTIAL),
    _feed("bitget", "bitget", Coverage.THROTTLED),
    _feed("htx-linear", "htx", Coverage.UNKNOWN),
    _feed("htx-swap", "htx", Coverage.UNKNOWN),
    _feed("gate-usdt", "gate", Coverage.COMPLETE),
]
LATER = [
    _feed("kraken-futures", "kraken", Coverage.UNKNOWN),
    _feed("bitfinex", "bitfinex", Coverage.UNKNOWN),
    _feed("bitmex", "bitmex", Coverage.COMPLETE),
    _feed("deribit", "deribit", Coverage.COMPLETE),
]


def test_each_new_venue_gets_one_note_in_a_fixed_order() -> None:
    assert venue_notes(Locale("en"), FEEDS) == [
        "<i>ℹ️ Gate reports all of its liquidations since 2026-08-20.</i>",
        "<i>ℹ️ HTX does not say whether it reports all of its liquidations.</i>",
        "<i>ℹ️ Bitget totals are a lower bound: it reports only the largest liquidation per side "
        "per symbol per second. Its USD amounts are unverified.</i>",
    ]


def test_the_notes_name_the_venues_in_chinese_too() -> None:
    gate, htx, bitget = venue_notes(Locale("zh"), FEEDS)
    assert "芝麻开门 Gate" in gate
    assert "火币 HTX" in htx
    assert "Bitget" in bitget


def test_no_note_without_those_venues_and_the_console_note_names_them() -> None:
    assert venue_notes(Locale("en"), FEEDS[:1]) == []
    for name in ("Gate", "HTX", "Bitget"):
        assert name in DATA_NOTE


def test_deribit_bitmex_bitfinex_and_kraken_get_their_notes_after_the_others() -> None:
    assert venue_notes(Locale("en"), [*LATER, FEEDS[1]]) == [
        "<i>ℹ️ Bitget totals are a lower bound: it reports only the largest liquidation per side "
        "per symbol per second. Its USD amounts are unverified.</i>",
        "<i>ℹ️ Deribit marks every liquidation trade: its totals are complete.</i>",
        "<i>ℹ️ BitMEX publishes every liquidation order (complete at order level); a quanto "
        "order waits for an XBT price.</i>",
        "<i>ℹ️ Bitfinex does not say whether it reports all of its liquidations.</i>",
        "<i>ℹ️ Kraken does not say whether it reports all of its liquidations.</i>",
    ]
    assert len(venue_notes(Locale("zh"), LATER)) == 4
