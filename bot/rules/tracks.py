"""One asset's rolling windows: the rules of each window, its events and its cascades."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from bot.rules.cascade import Cascade, CascadeRule, Change
from bot.rules.tape import NEVER, Origin, Tape
from collectors.record import Liquidation

DIRTY = -math.inf  # a track's next level when it must be recomputed: the next event does it

COMPACT_AT = 1024  # a track drops expired list slots once this many (and half) are dead


@dataclass(slots=True)
class Group:
    """Rules of one kind for a window, sorted by USD (absolute) or by multiple (relative)."""

    relative: bool
    keys: list[float]
    rules: list[CascadeRule]

    @classmethod
    def of(cls, rules: list[CascadeRule], *, relative: bool) -> Group:
        """Return the rules as a group sorted by their parameter."""
        ordered = sorted(rules, key=lambda r: (_parameter(r), r.chat_id, r.rule_id))
        return cls(relative, [_parameter(r) for r in ordered], ordered)

    def reached(self, window_usd: float, baseline: float, floor_usd: float) -> int:
        """Return how many rules (a prefix) have a threshold at or below `window_usd`."""
        keys = self.keys
        if not self.relative:
            return bisect.bisect_right(keys, window_usd)
        if window_usd < floor_usd:
            return 0
        if baseline <= 0:
            return len(keys)  # every threshold is the floor
        # multiple * baseline <= usd, found by division and corrected for its rounding.
        end = bisect.bisect_right(keys, window_usd / baseline)
        while end > 0 and keys[end - 1] * baseline > window_usd:
            end -= 1
        while end < len(keys) and keys[end] * baseline <= window_usd:
            end += 1
        return end

    def threshold(self, i: int, baseline: float, floor_usd: float) -> float:
        """Return the USD threshold of the i-th rule."""
        if not self.relative:
            return self.keys[i]
        return max(floor_usd, self.keys[i] * baseline)


def _parameter(rule: CascadeRule) -> float:
    value = rule.min_usd if rule.min_usd is not None else rule.multiple
    assert value is not None
    return value


class WindowRules:
    """Every rule of one window, grouped by asset (or every asset) and kind."""

    __slots__ = ("absolute", "absolute_all", "relative", "relative_all", "window_ms")

    def __init__(self, window_ms: int, rules: list[CascadeRule]) -> None:
        self.window_ms = window_ms
        by_asset: dict[tuple[str | None, bool], list[CascadeRule]] = {}
        for rule in rules:
            by_asset.setdefault((rule.asset, rule.multiple is not None), []).append(rule)
        self.absolute: dict[str, Group] = {}
        self.relative: dict[str, Group] = {}
        self.absolute_all: Group | None = None
        self.relative_all: Group | None = None
        for (asset, relative), group_rules in by_asset.items():
            group = Group.of(group_rules, relative=relative)
            if asset is None:
                if relative:
                    self.relative_all = group
                else:
                    self.absolute_all = group
            elif relative:
                self.relative[asset] = group
            else:
                self.absolute[asset] = group

    def groups(self, asset: str) -> list[Group]:
        """Return the rule groups that apply to an asset."""
        found = (
            self.absolute.get(asset),
            self.absolute_all,
            self.relative.get(asset),
            self.relative_all,
        )
        return [group for group in found if group is not None]

    def relative_for(self, asset: str) -> bool:
        """Return True if a relative rule applies to the asset."""
        return self.relative_all is not None or asset in self.relative


class Track:
    """One asset's rolling window: its events, their USD sum, and its active cascades."""

    __slots__ = (
        "active",
        "active_keys",
        "baseline",
        "grew",
        "groups",
        "head",
        "next_level",
        "records",
        "tape",
        "times",
        "usd",
        "usds",
        "window_ms",
    )

    def __init__(self, window_ms: int, groups: list[Group]) -> None:
        self.window_ms = window_ms
        self.groups = groups
        # The window's events from `head` on, sorted by (effective) event time, in three lists.
        self.times: list[int] = []
        self.usds: list[float] = []
        self.records: list[Liquidation] = []
        self.head = 0
        self.usd = 0.0  # sum of usds[head:]
        self.baseline = 0.0  # the asset's usual USD for this window (relative rules)
        self.next_level = DIRTY  # the lowest threshold of an inactive rule
        self.active: list[Cascade] = []  # by threshold, then chat and rule
        self.active_keys: set[tuple[int, int]] = set()
        self.grew: list[Change] = []
        self.tape: Tape | None = None

    def seed(self, source: Track, now_ms: int) -> None:
        """Start from the events of a longer (or the longest) window that fit this one."""
        first = bisect.bisect_right(source.times, now_ms - self.window_ms, source.head)
        self.times = source.times[first:]
        self.usds = source.usds[first:]
        self.records = source.records[first:]
        self.usd = math.fsum(self.usds)

    def insert(self, ts_ms: int, usd: float, record: Liquidation) -> None:
        """Place a late event by its time (after any of the same time)."""
        i = bisect.bisect_right(self.times, ts_ms, self.head)
        self.times.insert(i, ts_ms)
        self.usds.insert(i, usd)
        self.records.insert(i, record)

    def expire(self, cutoff_ms: int) -> None:
        """Drop the events at or before the cutoff from the window and its sum."""
        times, head = self.times, self.head
        end = bisect.bisect_right(times, cutoff_ms, head)
        if end == len(times):
            self.usd = 0.0  # an empty window is exactly zero: no rounding drift survives it
            times.clear()
            self.usds.clear()
            self.records.clear()
            self.head = 0
            return
        self.usd -= sum(self.usds[head:end])
        if end >= COMPACT_AT and end * 2 >= len(times):
            del times[:end], self.usds[:end], self.records[:end]
            end = 0
        self.head = end

    def retire(self, leaving: list[Cascade], now_ms: int) -> None:
        """Freeze cascades that end or lose their rule; keep the tape for the others."""
        for cascade in leaving:
            cascade._finish(now_ms)
            self.active_keys.discard(cascade.rule.key)
        gone = {id(cascade) for cascade in leaving}
        self.active = [cascade for cascade in self.active if id(cascade) not in gone]
        self.grew = [cascade._grew for cascade in self.active]
        self.next_level = DIRTY  # a rule just let go may already be over its threshold again
        if not self.active:
            self.tape = None
        elif self.tape is not None:
            self.tape.trim(min(origin_of(cascade).seq for cascade in self.active))


def origin_of(cascade: Cascade) -> Origin:
    """Return where an active cascade started."""
    assert cascade._origin is not None
    return cascade._origin


class AssetTracks:
    """One asset: its tracks (one per window that has rules for it) and its cached baseline."""

    __slots__ = ("name", "refresh_at_ms", "relative", "tracks", "volume_24h_usd")

    def __init__(self, name: str) -> None:
        self.name = name
        self.tracks: list[Track] = []  # shortest window first
        self.relative = False  # some rule for this asset is relative
        self.volume_24h_usd = 0.0
        self.refresh_at_ms = NEVER


def by_threshold(cascade: Cascade) -> tuple[float, int, int]:
    """Return a cascade's place among a track's active ones."""
    return (cascade.threshold_usd, cascade.rule.chat_id, cascade.rule.rule_id)
