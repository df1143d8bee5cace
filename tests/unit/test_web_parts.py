"""The dashboard's small parts: host rules, filters, window names, the tape ring, feed health,
and the query additions it reads (filtered latest, average prices)."""

from __future__ import annotations

import gc
import random

import msgspec
import pytest

from aggregation.coverage import CoverageTracker
from aggregation.query import LiquidationQueries
from aggregation.windows import WindowStore
from bot.settings import exposure_problem, is_loopback
from bot.web import stream
from bot.web.config import WebConfig
from bot.web.health import DEFAULT_SILENCE_S, FeedHealth, silence_timeout_s
from bot.web.schema import Event, event_of
from bot.web.security import host_allowed, host_name, origin_allowed, session_value
from bot.web.stream import Tape, TapeFilter, parse_filter, tape_message
from bot.web.views import Largest, window_name
from collectors.endpoints import FEED_IDS, Endpoints
from collectors.record import Liquidation, Side
from collectors.registry import build_feeds

T0 = 1_800_000_000_000


def ev(exchange: str, base: str, side: Side, usd: float, price: float, age_s: int) -> Liquidation:
    ts = T0 - age_s * 1000
    return Liquidation(exchange, "swap", f"{base}-X", base, side, price, usd / price, usd, ts, ts)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("LOCALHOST.", True), ("0.0.0.0", False), ("::", False),
     ("", False), ("192.168.1.2", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert (exposure_problem(host, None) is None) is loopback
    assert exposure_problem(host, "x" * 16) is None


def test_the_startup_address() -> None:
    assert WebConfig().url() == "http://127.0.0.1:8080/"
    assert WebConfig(host="0.0.0.0", port=9000).url() == "http://localhost:9000/"
    assert WebConfig(host="::1").url(8081) == "http://[::1]:8081/"


@pytest.mark.parametrize(
    ("header", "name", "allowed"),
    [("localhost:8080", "localhost", True), ("127.0.0.1", "127.0.0.1", True),
     ("[::1]:80", "::1", True), ("10.0.0.7:8080", "10.0.0.7", True),
     ("Bot.Example.com.", "bot.example.com", True), ("evil.example:8080", "evil.example", False),
     ("localhost.evil.example", "localhost.evil.example", False), ("", "", False)],
)  # fmt: skip
def test_host_header_rules(header: str, name: str, allowed: bool) -> None:
    assert host_name(header) == name
    assert host_allowed(header, frozenset({"bot.example.com"})) is allowed


def test_origin_must_be_the_dashboard_itself() -> None:
    assert origin_allowed(None, "localhost:8080")  # not a browser
    assert origin_allowed("http://localhost:8080", "localhost:8080")
    assert origin_allowed("https://bot.example.com", "bot.example.com")
    assert not origin_allowed("http://localhost:8081", "localhost:8080")
    assert not origin_allowed("https://evil.example", "localhost:8080")
    assert not origin_allowed("null", "localhost:8080")


def test_the_cookie_is_derived_from_the_token() -> None:
    assert session_value("a" * 16) == session_value("a" * 16)
    assert session_value("a" * 16) != session_value("b" * 16)
    assert "a" * 16 not in session_value("a" * 16)


def test_filters_parse_and_match() -> None:
    assert parse_filter(None, None, None, None) == TapeFilter()
    assert parse_filter(" $btc ", "2500.5", "LONG", "OKX") == TapeFilter(
        "BTC", 2500.5, "long", "okx"
    )
    assert parse_filter("", "", " ", "") == TapeFilter()
    for args, reason in [
        (("BTC-USDT", 0, None, None), "symbol must be an asset name"),
        (("BTC", "lots", None, None), "min_usd must be a number"),
        (("BTC", "nan", None, None), "min_usd must be a number"),
        (("BTC", "inf", None, None), "min_usd must be a number"),
        (("BTC", 0, "both", None), "side must be long or short"),
        (("BTC", 0, None, "ok x"), "exchange must be an exchange name"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_filter(*args)


def test_window_names() -> None:
    assert [window_name(s) for s in (180, 900, 3600, 14400, 86400, 90, 30)] == [
        "3m", "15m", "1h", "4h", "24h", "90s", "30s"
    ]  # fmt: skip


def test_the_tape_keeps_the_newest_and_knows_what_it_covers() -> None:
    tape = Tape(capacity=3)
    for i in range(5):
        assert tape.add(ev("okx", "BTC", Side.LONG, 100.0 + i, 10.0, 5 - i)) == i + 1
    assert [item.seq for item in tape.after(0)] == [3, 4, 5]
    assert [item.seq for item in tape.after(3)] == [4, 5]
    assert tape.after(5) == []
    assert [tape.covers(s) for s in range(7)] == [False, False, True, True, True, True, False]
    assert (
        tape_message(5, [b"{}", b"[]"]) == b'{"type":"tape","seq":5,"reset":false,"events":[{},[]]}'
    )
    assert tape_message(6, [], reset=True) == b'{"type":"tape","seq":6,"reset":true,"events":[]}'


def test_the_tapes_events_are_not_walked_by_the_garbage_collector() -> None:
    # 20,000 kept events would otherwise be most of what every full collection walks (bench_load).
    tape = Tape(capacity=3)
    tape.add(ev("okx", "BTC", Side.LONG, 100.0, 10.0, 1))
    [item] = tape.after(0)
    assert not gc.is_tracked(item)
    assert (item.base, item.side, item.exchange, item.usd) == ("BTC", "long", "okx", 100.0)
    assert msgspec.json.decode(item.data)["seq"] == 1
    assert not gc.is_tracked(item)  # still not after its JSON is kept


def test_each_feed_is_judged_by_its_own_watchdog_limit() -> None:
    limits = {f.feed_id: silence_timeout_s(f.policy) for f in build_feeds(FEED_IDS, Endpoints())}
    assert limits == {
        "binance-usdm": 600.0,  # no liquidation for 10 minutes: the watchdog reconnects
        "binance-coinm": 3600.0,
        "okx": 30.0,  # no frame (pong included) for 30 s
        "bybit-linear": 45.0,
        "bybit-inverse": 45.0,
        "gate-usdt": 60.0,  # no frame for a minute (protocol pongs do not count)
        "gate-btc": 60.0,
        "htx-linear": 30.0,  # HTX pings every 5 s: 30 s without a frame is a dead socket
        "htx-swap": 30.0,
        "htx-futures": 30.0,
        "bitget": 70.0,  # text ping every 25 s; Bitget cuts at 2 minutes
        "deribit": 75.0,  # two and a half missed 30 s heartbeats
        "bitmex": 10.0,  # no pong within 5 s of the ping sent after 5 s of quiet
        "bitfinex": 45.0,  # three missed 15 s hb frames
        "kraken-futures": 90.0,  # three ping intervals of 30 s
    }
    feed = FeedHealth("okx", "okx", "partial", True, None, T0 - 30_000, 30.0)
    assert feed.healthy(T0, T0 - 100_000)
    assert not feed.healthy(T0 + 1, T0 - 100_000)
    never = FeedHealth("okx", "okx", "partial", False, None, None, 30.0)
    assert never.healthy(T0, T0 - 30_000)  # judged from the start
    assert not never.healthy(T0, T0 - 30_001)
    assert DEFAULT_SILENCE_S == 120.0


def _queries() -> LiquidationQueries:
    store = WindowStore((60, 3600))
    for record in [
        ev("okx", "BTC", Side.LONG, 1_000.0, 100.0, 10),
        ev("binance", "BTC", Side.SHORT, 3_000.0, 200.0, 20),
        ev("okx", "ETH", Side.SHORT, 500.0, 10.0, 30),
        ev("binance", "BTC", Side.LONG, 4_000.0, 50.0, 600),
    ]:
        store.add(record)
    return LiquidationQueries(store, CoverageTracker([]), clock=lambda: T0)


def test_latest_by_side_and_exchange() -> None:
    q = _queries()

    def usd(records: tuple[Liquidation, ...]) -> list[float]:
        return [r.notional_usd for r in records]

    assert usd(q.latest(10, side=Side.SHORT)) == [3_000.0, 500.0]
    assert usd(q.latest(10, exchange="binance")) == [3_000.0, 4_000.0]
    assert usd(q.latest(10, "BTC", 2_000.0, side=Side.LONG, exchange="binance")) == [4_000.0]
    assert usd(q.latest(1, exchange="okx", side=Side.SHORT)) == [500.0]
    assert q.latest(10, exchange="kraken") == ()


def test_average_liquidation_price_per_window() -> None:
    q = _queries()
    assert q.average_prices("BTC") == (
        (1_000.0 * 100.0 + 3_000.0 * 200.0) / 4_000.0,
        (1_000.0 * 100.0 + 3_000.0 * 200.0 + 4_000.0 * 50.0) / 8_000.0,
    )
    assert q.average_prices("ETH") == (10.0, 10.0)
    assert q.average_prices("XRP") == (None, None)


def test_the_kept_largest_equal_a_full_query_at_every_step() -> None:
    rng = random.Random(11)
    store = WindowStore((60, 3600, 86400))
    queries = LiquidationQueries(store, CoverageTracker([]), clock=lambda: 0)
    largest = Largest(queries, k=5)
    now = T0
    queried = []
    for step in range(400):
        now += rng.choice((1_000,) * 8 + (30_000, 7_200_000))  # old ones leave the day
        for _ in range(rng.randrange(4)):
            usd = round(rng.paretovariate(1.2) * 1_000, 2)
            record = Liquidation("okx", "swap", "BTC-X", "BTC", Side.LONG, 1.0, usd, usd,
                                 now - rng.randrange(5_000), now)  # fmt: skip
            store.add(record)
            largest.offer(record)
        expected = list(queries.largest(86_400, 5, now))
        assert [r.notional_usd for r in largest.get(now)] == [r.notional_usd for r in expected], (
            step
        )
        queried.append(largest._queried_ms == now)
    assert 0 < sum(queried) < 200  # most answers came without a full query


def test_the_tape_encodes_an_event_only_when_a_client_first_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []

    def counting(record: Liquidation, seq: int = 0) -> Event:
        built.append(seq)
        return event_of(record, seq)

    monkeypatch.setattr(stream, "event_of", counting)
    tape = Tape(capacity=10)
    for i in range(3):
        tape.add(ev("okx", "BTC", Side.LONG, 1_000.0 + i, 100.0, 10 - i))
    assert built == []  # no page open: nothing encoded
    first, second, third = tape.after(0)
    assert msgspec.json.decode(second.data)["notional_usd"] == 1_001.0
    assert second.data is second.data  # encoded once, kept
    assert built == [2]
    assert [first.seq, third.seq] == [1, 3]
