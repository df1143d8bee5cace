"""The window store against brute force: random streams, random (rising) query times."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregation.windows import Outcome, WindowStore
from collectors.record import Liquidation, Side

WINDOWS = (3, 10, 60)
RETENTION = 90
TOLERANCE_MS = 5_000
T0 = 1_800_000_000_000
INSTRUMENTS = [
    ("binance", "usdm", "BTCUSDT", "BTC"),
    ("binance", "coinm", "BTCUSD_PERP", "BTC"),
    ("okx", "swap", "BTC-USDT-SWAP", "BTC"),
    ("okx", "swap", "ETH-USDT-SWAP", "ETH"),
    ("bybit", "linear", "SOLUSDT", "SOL"),
    ("bybit", "inverse", "ETHUSD", "ETH"),
]


@dataclass
class Brute:
    """The specification, computed the slow way."""

    accepted: list[tuple[int, Liquidation]] = field(default_factory=list)
    seen: set[tuple[object, ...]] = field(default_factory=set)
    clock: int = 0
    seq: int = 0

    def add(self, record: Liquidation) -> Outcome:
        self.clock = max(self.clock, record.recv_ms)
        ts = record.ts_ms
        if ts > record.recv_ms + TOLERANCE_MS:
            ts = record.recv_ms
            record = msgspec.structs.replace(record, ts_ms=ts)
        if ts // 1000 <= self.clock // 1000 - RETENTION:
            return Outcome.STALE
        identity = (record.exchange, record.market, record.symbol, ts, record.side,
                    record.qty_base, record.price)  # fmt: skip
        if identity in self.seen:
            return Outcome.DUPLICATE
        self.seen.add(identity)
        self.seq += 1
        self.accepted.append((self.seq, record))
        return Outcome.COUNTED

    def inside(self, window: int, now_ms: int) -> list[Liquidation]:
        now_sec = now_ms // 1000
        return [r for _, r in self.accepted if now_sec - window < r.ts_ms // 1000 <= now_sec]


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[str, object]]:
    """Events (some late, some in the future, some stale, some repeated) and queries."""
    steps: list[tuple[str, object]] = []
    recv = T0
    sent: list[Liquidation] = []
    for _ in range(draw(st.integers(1, 60))):
        recv += draw(st.integers(0, 4_000))
        kind = draw(st.sampled_from(["event"] * 6 + ["repeat", "query", "stale", "future"]))
        if kind == "query":
            recv += draw(st.integers(0, 70_000))  # wall-clock time moves on; it never goes back
            steps.append(("query", recv))
            continue
        if kind == "repeat" and sent:
            old = draw(st.sampled_from(sent))
            steps.append(("event", msgspec.structs.replace(old, recv_ms=recv)))
            continue
        exchange, market, symbol, base = draw(st.sampled_from(INSTRUMENTS))
        if kind == "stale":
            delta = -draw(st.integers(RETENTION * 1000, RETENTION * 3000))
        elif kind == "future":
            delta = draw(st.integers(0, 3 * TOLERANCE_MS))
        else:
            delta = -draw(st.integers(0, 80_000))
        qty = draw(st.sampled_from([0.5, 1.0, 2.0, 3.25]))
        price = draw(st.sampled_from([10.0, 100.5, 2500.0]))
        record = Liquidation(
            exchange, market, symbol, base, draw(st.sampled_from(list(Side))),
            price, qty, qty * price, recv + delta, recv,
        )  # fmt: skip
        sent.append(record)
        steps.append(("event", record))
    steps.append(("query", recv + draw(st.integers(0, 100_000))))
    return steps


def _check(store: WindowStore, brute: Brute, now_ms: int) -> None:
    usd, count = store.totals(now_ms)
    now_ms = max(now_ms, store.clock_ms)
    for w, window in enumerate(WINDOWS):
        expected_usd: dict[tuple[int, int, int], float] = {}
        expected_count: dict[tuple[int, int, int], int] = {}
        for record in brute.inside(window, now_ms):
            key = (
                store.asset_names.index(record.base),
                store.exchange_names.index(record.exchange),
                0 if record.side is Side.LONG else 1,
            )
            expected_usd[key] = expected_usd.get(key, 0.0) + record.notional_usd
            expected_count[key] = expected_count.get(key, 0) + 1
        for a in range(len(store.asset_names)):
            for e in range(len(store.exchange_names)):
                for s in range(2):
                    assert count[w, a, e, s] == expected_count.get((a, e, s), 0)
                    assert usd[w, a, e, s] == pytest.approx(
                        expected_usd.get((a, e, s), 0.0), rel=1e-9, abs=1e-9
                    )
        start = (now_ms // 1000 - window + 1) * 1000
        end = (now_ms // 1000 + 1) * 1000
        top = [r.notional_usd for r in store.largest(start, end, 4)]
        brute_top = sorted((r.notional_usd for r in brute.inside(window, now_ms)), reverse=True)
        assert top == brute_top[:4]
    retained = [
        (seq, r) for seq, r in brute.accepted if r.ts_ms // 1000 > now_ms // 1000 - RETENTION
    ]
    newest = sorted(retained, key=lambda item: (item[1].ts_ms, item[0]), reverse=True)
    assert store.latest(7) == [r for _, r in newest[:7]]
    for asset in store.asset_names:
        mine = [r for _, r in newest if r.base == asset][:3]
        assert store.latest(3, asset) == mine


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_windows_equal_brute_force(steps: list[tuple[str, object]]) -> None:
    store = WindowStore(WINDOWS, min_retention_s=RETENTION)
    brute = Brute()
    for kind, item in steps:
        if kind == "event":
            assert isinstance(item, Liquidation)
            assert store.add(item) is brute.add(item)
        else:
            assert isinstance(item, int)
            _check(store, brute, item)
    assert store.counters.counted == len(brute.accepted)


def test_duplicates_beyond_the_recent_set_are_still_caught() -> None:
    store = WindowStore(WINDOWS, min_retention_s=RETENTION, recent_keys=2)
    records = [
        Liquidation(
            "okx",
            "swap",
            "BTC-USDT-SWAP",
            "BTC",
            Side.LONG,
            10.0,
            float(i + 1),
            10.0 * (i + 1),
            T0 + i,
            T0 + 100,
        )
        for i in range(5)
    ]
    assert [store.add(r) for r in records] == [Outcome.COUNTED] * 5
    assert [store.add(r) for r in records] == [Outcome.DUPLICATE] * 5
    assert store.counters.duplicates == 5
