"""Replay stored events through a cascade rule: how often it would have fired (a backtest)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from bot.rules.cascade import CascadeRule
from collectors.record import Liquidation


def cascade_episodes(rule: CascadeRule, events: Iterable[Liquidation]) -> tuple[int, float]:
    """Return how many cascades an absolute rule would have started over events (oldest
    first) and the largest sum within its window; each asset counts on its own, and a cascade
    ends when its window's sum falls below the threshold again."""
    assert rule.min_usd is not None
    windows: dict[str, tuple[deque[Liquidation], list[float]]] = {}
    active: set[str] = set()
    count = 0
    peak = 0.0
    for record in events:
        if rule.asset is not None and record.base != rule.asset:
            continue
        queue, total = windows.setdefault(record.base, (deque(), [0.0]))
        queue.append(record)
        total[0] += record.notional_usd
        while queue and queue[0].ts_ms <= record.ts_ms - rule.window_ms:
            total[0] -= queue.popleft().notional_usd
        if total[0] >= rule.min_usd:
            peak = max(peak, total[0])
            if record.base not in active:
                active.add(record.base)
                count += 1
        else:
            active.discard(record.base)
    return count, peak
