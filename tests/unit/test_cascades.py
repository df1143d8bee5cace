"""The cascade detector: exact starts, growth, ends, rules and warm start; brute force on streams."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.rules.cascade import DAY_MS, Cascade, CascadeRule, CascadeSnapshot, Change, ChangeKind
from bot.rules.detector import CascadeDetector
from collectors.record import Liquidation, Side

T0 = 1_800_000_000_000
MIN = 60_000
STARTED, GREW, ENDED = ChangeKind.STARTED, ChangeKind.GREW, ChangeKind.ENDED


def event(
    base: str,
    usd: float,
    ts: int,
    side: Side = Side.LONG,
    exchange: str = "okx",
    recv: int | None = None,
) -> Liquidation:
    return Liquidation(
        exchange, "swap", f"{base}-X", base, side, usd, 1.0, usd, ts, ts if recv is None else recv
    )


def kinds(changes: list[Change]) -> list[tuple[ChangeKind, tuple[int, int, str]]]:
    return [(change.kind, change.cascade.key) for change in changes]


def no_volume(asset: str) -> float:
    raise AssertionError(f"no relative rule should ask for {asset}'s volume")


def absolute(chat: int, asset: str | None, usd: float, window_ms: int = 2 * MIN) -> CascadeRule:
    return CascadeRule(chat, 1, asset, window_ms, min_usd=usd)


def test_absolute_threshold_starts_exactly_at_the_threshold() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(7, "BTC", 5_000_000.0)])
    assert detector.add(event("BTC", 3_000_000.0, T0)) == []
    assert detector.add(event("BTC", 1_999_999.0, T0 + 1_000)) == []  # $1 short
    [change] = detector.add(event("BTC", 1.0, T0 + 2_000, exchange="bybit"))
    assert change.kind is STARTED
    cascade = change.cascade
    assert cascade.key == (7, 1, "BTC")
    assert cascade.threshold_usd == 5_000_000.0
    assert cascade.started_ms == T0
    assert not cascade.ended
    assert cascade.snapshot().usd == 5_000_000.0
    assert cascade.snapshot().count == 3
    assert detector.active() == [cascade]


def test_every_asset_rule_evaluates_each_asset_on_its_own() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(1, None, 5_000_000.0)])
    assert detector.add(event("BTC", 3_000_000.0, T0)) == []
    assert detector.add(event("ETH", 3_000_000.0, T0 + 1)) == []  # $6M together: no cascade
    assert kinds(detector.add(event("BTC", 2_000_000.0, T0 + 2))) == [(STARTED, (1, 1, "BTC"))]
    assert detector.add(event("SOL", 1.0, T0 + 3)) == []  # another asset does not grow it
    assert kinds(detector.add(event("ETH", 2_000_000.0, T0 + 4))) == [(STARTED, (1, 1, "ETH"))]
    assert [c.asset for c in detector.active()] == ["BTC", "ETH"]
    assert detector.active()[1].snapshot().usd == 5_000_000.0


def test_relative_threshold_is_a_multiple_of_the_baseline_with_a_floor() -> None:
    volumes = {"BTC": 144_000_000.0, "PEPE": 1_000_000.0}
    asked: list[str] = []

    def volume_24h(asset: str) -> float:
        asked.append(asset)
        return volumes.get(asset, 0.0)

    rule = CascadeRule(1, 1, None, 5 * MIN, multiple=10.0)
    detector = CascadeDetector(volume_24h, floor_usd=100_000.0, rules=[rule])
    # BTC: $144M a day is $500K per 5 minutes; 10x is $5M.
    assert detector.add(event("BTC", 4_999_999.0, T0)) == []
    [started] = detector.add(event("BTC", 1.0, T0 + 1))
    assert started.cascade.threshold_usd == 5_000_000.0
    # PEPE: $1M a day is $3,472 per 5 minutes; 10x ($34,722) is under the floor.
    assert detector.add(event("PEPE", 99_999.0, T0 + 2)) == []
    [started] = detector.add(event("PEPE", 1.0, T0 + 3))
    assert started.cascade.threshold_usd == 100_000.0
    # An asset with no volume yet has the floor as its threshold.
    [started] = detector.add(event("NEW", 100_000.0, T0 + 4))
    assert started.cascade.threshold_usd == 100_000.0
    assert asked == ["BTC", "PEPE", "NEW"]  # once each: the answer is cached


def test_baseline_is_cached_and_refreshed_by_detector_time() -> None:
    volumes = {"BTC": 28_800_000.0}  # $100K per 5 minutes: 10x is $1M
    asked: list[tuple[str, int]] = []
    detector: CascadeDetector

    def volume_24h(asset: str) -> float:
        asked.append((asset, detector.now_ms))
        return volumes[asset]

    rules = [
        CascadeRule(1, 1, "BTC", 5 * MIN, multiple=10.0),
        CascadeRule(2, 1, "ETH", 5 * MIN, min_usd=1e9),  # absolute only: never asks
    ]
    detector = CascadeDetector(volume_24h, baseline_refresh_ms=60_000, floor_usd=0.0, rules=rules)
    detector.add(event("BTC", 600_000.0, T0))
    detector.add(event("ETH", 1.0, T0))
    volumes["BTC"] = 14_400_000.0  # 10x would now be $500K, but the cache holds $1M
    assert detector.add(event("BTC", 1.0, T0 + 59_999)) == []
    assert asked == [("BTC", T0)]
    assert detector.tick(T0 + 60_000) == []  # ticks do not ask
    [started] = detector.add(event("BTC", 1.0, T0 + 60_000))  # refreshed: $600,002 >= $500K
    assert started.cascade.threshold_usd == 500_000.0
    assert asked == [("BTC", T0), ("BTC", T0 + 60_000)]


def test_an_active_cascade_grows_with_each_event_of_its_asset() -> None:
    rules = [absolute(1, "BTC", 1_000_000.0), absolute(2, None, 1_000_000.0)]
    detector = CascadeDetector(no_volume, rules=rules)
    started = detector.add(event("BTC", 1_000_000.0, T0))
    assert kinds(started) == [(STARTED, (1, 1, "BTC")), (STARTED, (2, 1, "BTC"))]
    grew = detector.add(event("BTC", 250_000.0, T0 + 5_000, Side.SHORT))
    assert kinds(grew) == [(GREW, (1, 1, "BTC")), (GREW, (2, 1, "BTC"))]
    assert [c.cascade for c in grew] == [c.cascade for c in started]
    assert detector.add(event("ETH", 250_000.0, T0 + 6_000)) == []
    snapshot = started[0].cascade.snapshot()
    assert (snapshot.usd, snapshot.count, snapshot.last_ms) == (1_250_000.0, 2, T0 + 5_000)
    assert snapshot.peak_window_usd == snapshot.window_usd == 1_250_000.0
    # Started by the same event, the two rules' cascades have the same totals.
    assert started[1].cascade.snapshot().usd == snapshot.usd


def test_a_cascade_ends_when_its_window_falls_below_half_the_threshold() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(1, "BTC", 4_000_000.0)])
    detector.add(event("BTC", 2_000_000.0, T0))
    detector.add(event("BTC", 1_000_000.0, T0 + 10_000))
    [started] = detector.add(event("BTC", 1_000_000.0, T0 + 20_000))
    cascade = started.cascade
    assert detector.tick(T0 + 2 * MIN - 1) == []
    assert detector.tick(T0 + 2 * MIN) == []  # the $2M left: $2M is half, not below
    assert detector.window_usd("BTC", 2 * MIN) == 2_000_000.0
    [ended] = detector.tick(T0 + 2 * MIN + 10_000)  # $1M < $2M
    assert ended == Change(ENDED, cascade)
    assert cascade.ended
    assert cascade.ended_ms == T0 + 2 * MIN + 10_000
    final = cascade.snapshot()
    assert (final.usd, final.count, final.window_usd, final.peak_window_usd) == (
        4_000_000.0,
        3,
        1_000_000.0,
        4_000_000.0,
    )
    assert final.ended_ms == cascade.ended_ms
    assert detector.active() == []
    assert detector.tick(T0 + 10 * MIN) == []
    assert cascade.snapshot() is final  # frozen


def test_after_the_end_the_same_rule_starts_a_new_cascade() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(1, "BTC", 1_000_000.0)])
    [first] = detector.add(event("BTC", 1_000_000.0, T0))
    [ended] = detector.tick(T0 + 2 * MIN)
    assert ended.cascade is first.cascade
    assert detector.add(event("BTC", 999_999.0, T0 + 3 * MIN)) == []
    [second] = detector.add(event("BTC", 1.0, T0 + 3 * MIN + 1))
    assert second.kind is STARTED
    assert second.cascade is not first.cascade
    assert second.cascade.started_ms == T0 + 3 * MIN
    assert second.cascade.snapshot().usd == 1_000_000.0
    assert first.cascade.snapshot().usd == 1_000_000.0


def test_hysteresis_keeps_one_cascade_while_the_sum_hovers_near_the_threshold() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(1, "BTC", 1_000_000.0, MIN)])
    changes = []
    for second in range(0, 600, 10):  # $150K every 10 s: $900K in any minute, after the start
        changes += detector.tick(T0 + second * 1000)
        changes += detector.add(event("BTC", 1_000_000.0 if second == 0 else 150_000.0,
                                      T0 + second * 1000))  # fmt: skip
    assert Counter(change.kind for change in changes) == {STARTED: 1, GREW: 59}


def test_late_events_count_until_they_have_left_the_window() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(1, "BTC", 3_000_000.0, MIN)])
    detector.add(event("BTC", 1_000_000.0, T0 + 30_000))
    detector.add(event("BTC", 1_000_000.0, T0 - 29_999, recv=T0 + 30_000))  # late, still inside
    assert detector.window_usd("BTC", MIN) == 2_000_000.0
    assert detector.add(event("BTC", 5_000_000.0, T0 - 30_000, recv=T0 + 30_000)) == []  # gone
    assert detector.window_usd("BTC", MIN) == 2_000_000.0
    [started] = detector.add(event("BTC", 1_000_000.0, T0 + 29_000, recv=T0 + 30_000))
    snapshot = started.cascade.snapshot()
    assert (snapshot.started_ms, snapshot.last_ms, snapshot.usd) == (
        T0 - 29_999,
        T0 + 30_000,
        3_000_000.0,
    )
    # The late event leaves first: a minute after its own time, not after its arrival.
    assert detector.tick(T0 + 30_001) == []
    assert detector.window_usd("BTC", MIN) == 2_000_000.0


def test_future_event_times_within_tolerance_are_kept_beyond_it_clamped() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(1, "BTC", 1e12, MIN)])
    detector.add(event("BTC", 1.0, T0 + 3_000, recv=T0))  # 3 s ahead: taken as is
    assert detector.now_ms == T0 + 3_000
    detector.add(event("BTC", 2.0, T0 + 3_600_000, recv=T0 + 1_000))  # an hour ahead: clamped
    assert detector.now_ms == T0 + 3_000
    detector.tick(T0 + MIN + 1_000)
    assert detector.window_usd("BTC", MIN) == 1.0  # the clamped one left at its receive time
    detector.tick(T0 + MIN + 3_000)
    assert detector.window_usd("BTC", MIN) == 0.0


def test_windows_are_kept_apart() -> None:
    rules = [absolute(1, "BTC", 2_000_000.0, MIN), absolute(2, "BTC", 3_000_000.0, 5 * MIN)]
    detector = CascadeDetector(no_volume, rules=rules)
    detector.add(event("BTC", 1_000_000.0, T0))
    detector.add(event("BTC", 1_000_000.0, T0 + 2 * MIN))
    assert detector.window_usd("BTC", MIN) == 1_000_000.0
    assert detector.window_usd("BTC", 5 * MIN) == 2_000_000.0
    assert detector.window_usd("BTC", 2 * MIN) is None  # no rule has that window
    # 90 s late: too old for the minute, counted in five.
    assert kinds(detector.add(event("BTC", 1_000_000.0, T0 + 30_000, recv=T0 + 2 * MIN))) == [
        (STARTED, (2, 1, "BTC"))
    ]
    assert kinds(detector.add(event("BTC", 1_000_000.0, T0 + 2 * MIN + 1))) == [
        (STARTED, (1, 1, "BTC")),  # windows in order of length
        (GREW, (2, 1, "BTC")),
    ]
    assert [c.ended_ms for c in (change.cascade for change in detector.tick(T0 + 4 * MIN))] == [
        T0 + 4 * MIN
    ]
    assert [c.rule.chat_id for c in detector.active()] == [2]


def test_removing_rules_drops_their_cascades_silently() -> None:
    rules = [
        absolute(1, "BTC", 1_000_000.0),
        CascadeRule(1, 2, None, 2 * MIN, min_usd=1_000_000.0),
        absolute(2, "BTC", 1_000_000.0),
        absolute(3, "BTC", 1_000_000.0),
    ]
    detector = CascadeDetector(no_volume, rules=rules)
    started = [change.cascade for change in detector.add(event("BTC", 1_000_000.0, T0))]
    assert len(started) == 4
    dropped = detector.remove_rules(1, [2, 99])
    assert dropped == [started[1]]
    assert dropped[0].ended
    assert dropped[0].ended_ms == T0
    assert detector.remove_chat(2) == [started[2]]
    assert detector.remove_chat(2) == []
    assert kinds(detector.add(event("BTC", 1.0, T0 + 1))) == [
        (GREW, (1, 1, "BTC")),
        (GREW, (3, 1, "BTC")),
    ]
    assert dropped[0].snapshot().usd == 1_000_000.0  # frozen when dropped
    # set_rules keeps the cascade of an unchanged rule; a changed rule loses its cascade.
    changed = absolute(3, "BTC", 2_000_000.0)
    assert detector.set_rules([rules[0], changed]) == [started[3]]
    assert detector.active() == [started[0]]
    assert detector.add_rule(rules[0]) == []  # the same rule again: nothing changes
    assert detector.rules() == [rules[0], changed]
    assert detector.tick(T0 + 10 * MIN) == [Change(ENDED, started[0])]


def test_a_new_window_starts_from_the_events_of_a_longer_one() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(1, "BTC", 1e12, 5 * MIN)])
    detector.add(event("BTC", 1_000_000.0, T0))
    detector.add(event("BTC", 2_000_000.0, T0 + 4 * MIN))
    assert detector.add_rule(absolute(2, "BTC", 2_500_000.0, MIN)) == []
    assert detector.window_usd("BTC", MIN) == 2_000_000.0
    assert kinds(detector.add(event("BTC", 500_000.0, T0 + 4 * MIN + 1))) == [
        (STARTED, (2, 1, "BTC"))
    ]


def test_warm_start_reports_nothing_and_returns_the_active_cascades() -> None:
    rules = [absolute(1, "BTC", 2_000_000.0), absolute(2, "ETH", 2_000_000.0)]
    detector = CascadeDetector(no_volume, rules=rules)
    history = [
        event("ETH", 2_000_000.0, T0),  # a cascade that ended during the history
        event("BTC", 1_500_000.0, T0 + 3 * MIN),
        event("BTC", 1_000_000.0, T0 + 4 * MIN),
    ]
    active = detector.warm(history)
    assert [cascade.key for cascade in active] == [(1, 1, "BTC")]
    assert active == detector.active()
    assert active[0].snapshot().usd == 2_500_000.0
    assert active[0].started_ms == T0 + 3 * MIN
    assert kinds(detector.add(event("BTC", 1.0, T0 + 4 * MIN + 1))) == [(GREW, (1, 1, "BTC"))]


def test_exchange_split_sides_and_largest_record() -> None:
    detector = CascadeDetector(no_volume, rules=[absolute(1, "BTC", 1_000_000.0)])
    first_big = event("BTC", 400_000.0, T0, Side.LONG, "binance")
    detector.add(event("BTC", 100_000.0, T0 + 1, Side.SHORT, "okx"))
    detector.add(first_big)
    [started] = detector.add(event("BTC", 500_000.0, T0 + 2, Side.LONG, "bybit"))
    detector.add(event("BTC", 400_000.0, T0 + 3, Side.SHORT, "binance"))
    detector.add(event("BTC", 500_000.0, T0 + 4, Side.LONG, "okx"))  # same size, later
    assert started.cascade.snapshot() == CascadeSnapshot(
        rule=absolute(1, "BTC", 1_000_000.0),
        asset="BTC",
        threshold_usd=1_000_000.0,
        started_ms=T0,
        last_ms=T0 + 4,
        usd=1_900_000.0,
        count=5,
        long_usd=1_400_000.0,
        long_count=3,
        short_usd=500_000.0,
        short_count=2,
        exchanges=(("binance", 800_000.0), ("okx", 600_000.0), ("bybit", 500_000.0)),
        largest=event("BTC", 500_000.0, T0 + 2, Side.LONG, "bybit"),
        peak_window_usd=1_900_000.0,
        window_usd=1_900_000.0,
        ended_ms=None,
    )
    detector.add(event("BTC", 700_000.0, T0 + 5, Side.SHORT, "okx"))
    assert started.cascade.snapshot().largest.notional_usd == 700_000.0


def test_peak_and_largest_count_only_from_the_cascade_start() -> None:
    rules = [absolute(1, "BTC", 1_000_000.0, MIN), absolute(2, "BTC", 2_000_000.0, MIN)]
    detector = CascadeDetector(no_volume, rules=rules)
    [low, high] = detector.add(event("BTC", 2_500_000.0, T0))
    detector.add(event("BTC", 600_000.0, T0 + 30_000))  # the peak: $3.1M
    [ended] = detector.tick(T0 + MIN)  # $600K: under half of $2M, not of $1M
    assert ended.cascade is high.cascade
    [_, again] = detector.add(event("BTC", 1_500_000.0, T0 + MIN + 1))
    assert again.kind is STARTED
    detector.add(event("BTC", 100_000.0, T0 + MIN + 2))
    snapshot = again.cascade.snapshot()
    assert (snapshot.peak_window_usd, snapshot.largest.notional_usd) == (2_200_000.0, 1_500_000.0)
    assert (snapshot.usd, snapshot.count, snapshot.started_ms) == (2_200_000.0, 3, T0 + 30_000)
    snapshot = low.cascade.snapshot()
    assert (snapshot.peak_window_usd, snapshot.largest.notional_usd) == (3_100_000.0, 2_500_000.0)
    assert (snapshot.usd, snapshot.count) == (4_700_000.0, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"min_usd": 1.0, "multiple": 2.0}, "exactly one"),
        ({"min_usd": 0.0}, "positive"),
        ({"multiple": float("nan")}, "positive"),
        ({"min_usd": float("inf")}, "positive"),
        ({"min_usd": 1.0, "window_ms": 0}, "within 24 h"),
        ({"min_usd": 1.0, "window_ms": DAY_MS + 1}, "within 24 h"),
    ],
)
def test_rules_are_validated(kwargs: dict[str, float], message: str) -> None:
    arguments: dict[str, object] = {"window_ms": MIN, **kwargs}
    with pytest.raises(ValueError, match=message):
        CascadeRule(1, 1, "BTC", **arguments)  # type: ignore[arg-type]


def test_duplicate_rule_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="two cascade rules"):
        CascadeDetector(no_volume, rules=[absolute(1, "BTC", 1.0), absolute(1, "ETH", 2.0)])


def test_a_bad_volume_answer_means_the_floor() -> None:
    detector = CascadeDetector(
        lambda asset: float("nan") if asset == "BTC" else -5.0,
        floor_usd=1_000.0,
        rules=[CascadeRule(1, 1, None, MIN, multiple=3.0)],
    )
    [btc] = detector.add(event("BTC", 1_000.0, T0))
    [eth] = detector.add(event("ETH", 1_000.0, T0))
    assert btc.cascade.threshold_usd == eth.cascade.threshold_usd == 1_000.0


def test_a_thousand_rules_of_one_kind_start_and_grow_together() -> None:
    rules = [CascadeRule(chat, 1, None, 5 * MIN, multiple=10.0) for chat in range(1_000)]
    detector = CascadeDetector(lambda asset: 0.0, rules=rules)
    started = detector.add(event("BTC", 100_000.0, T0))
    assert [change.cascade.rule.chat_id for change in started] == list(range(1_000))
    grew = detector.add(event("BTC", 1.0, T0 + 1))
    assert [change.kind for change in grew] == [GREW] * 1_000
    assert {change.cascade.snapshot().usd for change in grew} == {100_001.0}
    assert all(isinstance(change.cascade, Cascade) for change in grew)


# --- against brute force ----------------------------------------------------------------------

ASSETS = ["BTC", "ETH", "SOL"]
WINDOWS_MS = [10_000, 30_000, 60_000]
FLOOR_USD = 200.0
REFRESH_MS = 20_000
TOLERANCE_MS = 5_000
# $864K a day is $100 per 10 s: thresholds and sums stay whole dollars, so sums are exact.
VOLUMES = [0.0, 864_000.0, 4_320_000.0, 8_640_000.0, 43_200_000.0]


@dataclass
class ReferenceCascade:
    """A cascade the slow way: the list of its events."""

    threshold: float
    window_at_start: list[tuple[int, Liquidation]]
    later: list[tuple[int, Liquidation]] = field(default_factory=list)
    peak: float = 0.0


@dataclass
class Reference:
    """The specification: every sum recomputed from every event, every rule checked."""

    rules: list[CascadeRule]
    volumes: dict[str, float]
    now: int = -(1 << 62)
    events: list[tuple[str, int, Liquidation]] = field(default_factory=list)
    active: dict[tuple[int, int, str], ReferenceCascade] = field(default_factory=dict)
    cached: dict[str, tuple[float, int]] = field(default_factory=dict)  # volume, refresh at
    asked: int = 0

    def applicable(self, asset: str) -> list[CascadeRule]:
        return [r for r in self.rules if r.asset in (None, asset)]

    def inside(self, asset: str, window_ms: int) -> list[tuple[int, Liquidation]]:
        return [(ts, r) for a, ts, r in self.events if a == asset and ts > self.now - window_ms]

    def sum(self, asset: str, window_ms: int) -> float:
        return sum(r.notional_usd for _, r in self.inside(asset, window_ms))

    def threshold(self, rule: CascadeRule, asset: str) -> float:
        if rule.min_usd is not None:
            return rule.min_usd
        assert rule.multiple is not None
        baseline = self.cached[asset][0] * rule.window_ms / DAY_MS
        return max(FLOOR_USD, rule.multiple * baseline)

    def end(self, asset: str | None) -> Counter[tuple[ChangeKind, tuple[int, int, str]]]:
        changes: Counter[tuple[ChangeKind, tuple[int, int, str]]] = Counter()
        for key, cascade in list(self.active.items()):
            rule = next(r for r in self.rules if (r.chat_id, r.rule_id) == key[:2])
            if asset in (None, key[2]) and self.sum(key[2], rule.window_ms) * 2 < cascade.threshold:
                del self.active[key]
                changes[(ENDED, key)] += 1
        return changes

    def add(self, record: Liquidation) -> Counter[tuple[ChangeKind, tuple[int, int, str]]]:
        ts = record.ts_ms if record.ts_ms <= record.recv_ms + TOLERANCE_MS else record.recv_ms
        self.now = max(self.now, record.recv_ms, ts)
        asset = record.base
        rules = self.applicable(asset)
        if (
            any(r.multiple is not None for r in rules)
            and self.now >= self.cached.get(asset, (0.0, -(1 << 62)))[1]
        ):
            self.asked += 1
            volume = self.volumes[asset]
            self.cached[asset] = (volume if volume > 0 else 0.0, self.now + REFRESH_MS)
        changes = self.end(asset)
        for window_ms in sorted({r.window_ms for r in rules}):
            if ts <= self.now - window_ms:
                continue
            window = [*self.inside(asset, window_ms), (ts, record)]
            total = sum(r.notional_usd for _, r in window)
            for rule in rules:
                key = (rule.chat_id, rule.rule_id, asset)
                if rule.window_ms != window_ms:
                    continue
                cascade = self.active.get(key)
                if cascade is not None:
                    cascade.later.append((ts, record))
                    cascade.peak = max(cascade.peak, total)
                    changes[(GREW, key)] += 1
                elif self.threshold(rule, asset) <= total:
                    threshold = self.threshold(rule, asset)
                    self.active[key] = ReferenceCascade(threshold, window, peak=total)
                    changes[(STARTED, key)] += 1
        self.events.append((asset, ts, record))
        return changes

    def tick(self, now_ms: int) -> Counter[tuple[ChangeKind, tuple[int, int, str]]]:
        self.now = max(self.now, now_ms)
        return self.end(None)


def check_snapshot(cascade: Cascade, expected: ReferenceCascade, window_usd: float | None) -> None:
    events = expected.window_at_start + expected.later
    snapshot = cascade.snapshot()
    assert snapshot.threshold_usd == expected.threshold
    assert snapshot.started_ms == min(ts for ts, _ in expected.window_at_start)
    assert snapshot.last_ms == max(ts for ts, _ in events)
    assert snapshot.usd == sum(r.notional_usd for _, r in events)
    assert snapshot.count == len(events)
    longs = [r.notional_usd for _, r in events if r.side is Side.LONG]
    assert (snapshot.long_usd, snapshot.long_count) == (sum(longs), len(longs))
    assert snapshot.short_count == len(events) - len(longs)
    exchanges: dict[str, float] = {}
    for _, r in events:
        exchanges[r.exchange] = exchanges.get(r.exchange, 0.0) + r.notional_usd
    assert dict(snapshot.exchanges) == exchanges
    assert snapshot.largest.notional_usd == max(r.notional_usd for _, r in events)
    assert snapshot.peak_window_usd == expected.peak
    if window_usd is not None:
        assert snapshot.window_usd == window_usd


rules_strategy = st.lists(
    st.builds(
        lambda chat, asset, window, absolute_usd, multiple: CascadeRule(
            chat,
            0,
            asset,
            window,
            min_usd=absolute_usd if multiple is None else None,
            multiple=multiple,
        ),
        chat=st.integers(1, 1_000),
        asset=st.sampled_from([None, "BTC", "ETH"]),
        window=st.sampled_from(WINDOWS_MS),
        absolute_usd=st.sampled_from([100.0, 250.0, 500.0, 1_000.0]),
        multiple=st.sampled_from([None, None, 1.0, 2.0, 5.0, 0.5]),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda r: r.chat_id,
)


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[str, object]]:
    """Events (some late, some stale, some from the future), ticks and volume changes."""
    steps: list[tuple[str, object]] = []
    recv = T0
    for _ in range(draw(st.integers(1, 80))):
        kind = draw(st.sampled_from(["event"] * 8 + ["tick", "tick", "volume"]))
        recv += draw(st.integers(0, 3_000))
        if kind == "tick":
            recv += draw(st.integers(0, 30_000))
            steps.append(("tick", recv))
        elif kind == "volume":
            steps.append(
                ("volume", (draw(st.sampled_from(ASSETS)), draw(st.sampled_from(VOLUMES))))
            )
        else:
            delta = draw(
                st.sampled_from([0, 0, 0, -1, -2_000, -9_999, -10_000, -45_000, 3_000, 9_000])
            )
            record = Liquidation(
                draw(st.sampled_from(["binance", "okx", "bybit"])), "swap", "X",
                draw(st.sampled_from(ASSETS)), draw(st.sampled_from(list(Side))), 1.0, 1.0,
                float(draw(st.sampled_from([1, 50, 100, 125, 250, 400]))), recv + delta, recv,
            )  # fmt: skip
            steps.append(("event", record))
    return steps


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules_strategy, streams(), st.data())
def test_detector_equals_brute_force(
    rules: list[CascadeRule], steps: list[tuple[str, object]], data: st.DataObject
) -> None:
    volumes = {asset: data.draw(st.sampled_from(VOLUMES)) for asset in ASSETS}
    asked = 0

    def volume_24h(asset: str) -> float:
        nonlocal asked
        asked += 1
        return volumes[asset]

    detector = CascadeDetector(
        volume_24h,
        floor_usd=FLOOR_USD,
        baseline_refresh_ms=REFRESH_MS,
        future_tolerance_ms=TOLERANCE_MS,
        rules=rules,
    )
    reference = Reference(rules, volumes)
    for kind, item in steps:
        if kind == "volume":
            assert isinstance(item, tuple)
            volumes[item[0]] = item[1]
            continue
        if kind == "event":
            assert isinstance(item, Liquidation)
            changes, expected = detector.add(item), reference.add(item)
            settled = [item.base]
        else:
            assert isinstance(item, int)
            changes, expected = detector.tick(item), reference.tick(item)
            settled = ASSETS
        assert Counter((c.kind, c.cascade.key) for c in changes) == expected
        assert {c.key for c in detector.active()} == set(reference.active)
        for cascade in detector.active():
            window_ms = cascade.rule.window_ms
            settled_sum = reference.sum(cascade.asset, window_ms)
            check_snapshot(
                cascade,
                reference.active[cascade.key],
                settled_sum if cascade.asset in settled else None,
            )
        for asset in settled:
            for window_ms in {r.window_ms for r in reference.applicable(asset)}:
                assert detector.window_usd(asset, window_ms) == reference.sum(asset, window_ms)
    assert asked == reference.asked
