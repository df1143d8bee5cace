"""Measure the cascade detector with 1,000 chats' rules; print events/s, quiet and in a cascade.

    python bench/bench_cascades.py            # 1,000,000 quiet events, 200,000 in a cascade
    python bench/bench_cascades.py --quick    # 100,000 and 20,000 (CI smoke)

1,000 chats each hold one rule: `all 10x 5m`-like relative rules and `BTC 5m 2m`-like absolute
ones over 1m, 2m, 5m and 15m windows. 1. Quiet market: events over 500 assets (skewed; 20 a
second of event time, $500 on average: a busy day's $860M), a tick every second of event time,
each asset's 24 h volume equal to its share of that stream; no rule fires (goal: >= 100,000
events/s). 2. During a cascade: a BTC burst of $50K-$500K events, 200 a second, once every BTC
rule has started; each event grows every active BTC cascade. The time includes the ticks and
the caller's loop over the changes returned.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.rules.cascade import CascadeRule, ChangeKind  # noqa: E402
from bot.rules.detector import CascadeDetector  # noqa: E402
from collectors.record import Liquidation, Side  # noqa: E402

T0 = 1_800_000_000_000
MINUTE_MS = 60_000
DAY_MS = 86_400_000
ASSETS = ["BTC", "ETH", "SOL", *(f"A{i}" for i in range(497))]
VENUES = [("binance", "usdm"), ("okx", "swap"), ("bybit", "linear")]


def build_rules(chats: int, rng: random.Random) -> list[CascadeRule]:
    """Half relative (`all 10x 5m` and kin), half absolute on the big coins (`BTC 5m 2m`)."""
    rules = []
    for chat in range(1, chats + 1):
        window = rng.choice((1, 2, 5, 5, 5, 15)) * MINUTE_MS
        if chat % 2:
            asset = None if chat % 5 else rng.choice(ASSETS[:3])
            multiple = rng.choice((3.0, 5.0, 10.0, 10.0, 20.0))
            rules.append(CascadeRule(-chat, 1, asset, window, multiple=multiple))
        else:
            asset = rng.choice(ASSETS[:3])
            per_2m = rng.choice((2e6, 5e6, 5e6, 10e6))  # `BTC 5m 2m`, scaled to the window
            min_usd = per_2m * window / (2 * MINUTE_MS)
            rules.append(CascadeRule(-chat, 1, asset, window, min_usd=min_usd))
    return rules


def daily_volumes(records: list[Liquidation]) -> dict[str, float]:
    """Each asset's USD per 24 h at the stream's own pace: the usual day for relative rules."""
    span_ms = records[-1].recv_ms - records[0].recv_ms
    volumes: dict[str, float] = {}
    for record in records:
        volumes[record.base] = volumes.get(record.base, 0.0) + record.notional_usd
    return {asset: usd * DAY_MS / span_ms for asset, usd in volumes.items()}


def quiet_stream(count: int, rng: random.Random) -> list[Liquidation]:
    records = []
    for i in range(count):
        ts = T0 + i * 50  # 20 events a second
        asset = ASSETS[min(int(rng.paretovariate(1.16)) - 1, len(ASSETS) - 1)]
        usd = round(rng.expovariate(1 / 500), 2) + 5
        exchange, market = VENUES[i % 3]
        side = Side.LONG if rng.random() < 0.6 else Side.SHORT
        late = rng.choice((0, 0, 0, 0, 0, 0, 150, 2_000))
        records.append(
            Liquidation(exchange, market, f"{asset}X", asset, side, 1.0, usd, usd, ts - late, ts)
        )
    return records


def burst(count: int, start_ms: int, rng: random.Random) -> list[Liquidation]:
    records = []
    for i in range(count):
        ts = start_ms + i * 5  # 200 events a second
        usd = float(rng.randint(50_000, 500_000))
        exchange, market = VENUES[i % 3]
        side = Side.LONG if rng.random() < 0.9 else Side.SHORT
        records.append(
            Liquidation(exchange, market, "BTCX", "BTC", side, 1.0, usd, usd, ts - 40, ts)
        )
    return records


@dataclass
class Run:
    """What feeding a stream cost and returned."""

    add_s: float = 0.0  # time inside `add` (what the caller then does with the changes is not)
    tick_s: float = 0.0
    ticks: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {kind.value: 0 for kind in ChangeKind})


def run(detector: CascadeDetector, records: list[Liquidation]) -> Run:
    """Feed the events, ticking once a second of receive time; time adds and ticks apart.

    Event time runs far faster here than live (a second holds 20 or 200 events, not one), so
    ticks are timed on their own: live, they cost the same per second however busy it is.
    """
    result = Run()
    counts = result.counts
    add, tick, clock = detector.add, detector.tick, time.perf_counter
    returned = 0
    next_tick = records[0].recv_ms + 1000
    for record in records:
        if record.recv_ms >= next_tick:
            started = clock()
            for change in tick(record.recv_ms):
                counts[change.kind.value] += 1
            result.tick_s += clock() - started
            result.ticks += 1
            next_tick += 1000
        started = clock()
        changes = add(record)
        result.add_s += clock() - started
        for change in changes:
            if change.kind is not ChangeKind.GREW:
                counts[change.kind.value] += 1
        returned += len(changes)
    counts["grew"] = returned - counts["started"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 and 20,000 events")
    args = parser.parse_args()
    quiet_count, burst_count = (100_000, 20_000) if args.quick else (1_000_000, 200_000)
    print(f"python {sys.version.split()[0]}")
    rng = random.Random(11)
    rules = build_rules(1_000, rng)
    windows = sorted({rule.window_ms // MINUTE_MS for rule in rules})
    print(f"{len(rules):,} rules, windows {windows} min, floor $100K for relative rules")

    quiet = quiet_stream(quiet_count, rng)
    volumes = daily_volumes(quiet)
    detector = CascadeDetector(lambda asset: volumes.get(asset, 0.0), rules=rules)
    result = run(detector, quiet)
    tracks = sum(1 for asset in {r.base for r in quiet} for w in windows
                 if detector.window_usd(asset, w * MINUTE_MS) is not None)  # fmt: skip
    print(
        f"quiet market, {quiet_count:,} events over {len(ASSETS)} assets: "
        f"{quiet_count / result.add_s:,.0f} events/s "
        f"({result.add_s / quiet_count * 1e6:.2f} us/event; goal >= 100,000); "
        f"tick over {tracks:,} rolling windows: {result.tick_s / result.ticks * 1000:.2f} ms; "
        f"{result.counts['started']} cascades started"
    )

    warmup = burst(4_000, quiet[-1].recv_ms + 1, rng)  # 20 s of $275K a time: past every rule
    active = sum(1 for cascade in detector.warm(warmup) if cascade.asset == "BTC")
    btc_rules = sum(1 for rule in rules if rule.asset in (None, "BTC"))
    records = burst(burst_count, warmup[-1].recv_ms + 5, rng)
    result = run(detector, records)
    grew = result.counts["grew"]
    print(
        f"during a BTC cascade, {active} of {btc_rules} BTC rules active, {burst_count:,} "
        f"events: {burst_count / result.add_s:,.0f} events/s "
        f"({result.add_s / burst_count * 1e6:.2f} us/event, {grew:,} GREW changes); "
        f"tick: {result.tick_s / result.ticks * 1000:.2f} ms; "
        f"{result.counts['started']} started, {result.counts['ended']} ended"
    )


if __name__ == "__main__":
    main()
