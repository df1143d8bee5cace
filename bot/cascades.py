"""Detect liquidation cascades: rolling USD per asset and window against chats' cascade rules.

A cascade rule (`/cascade BTC 5m 2m`, `/cascade all 10x 5m`) fires when the USD liquidated of
one asset inside a rolling window reaches its threshold. The detector is pure: no I/O, no
Telegram, no clock of its own. The caller feeds it live events (`add`), wall time about once a
second (`tick`) and rule changes, and renders the `Change`s it returns: one message per cascade,
created on STARTED, edited on GREW, finished on ENDED.

Time. The detector's clock `now_ms` is the latest of the times passed to `tick`, the events'
receive times and their event times; it never goes back. An event time more than
`future_tolerance_ms` past the receive time is replaced by the receive time, as the window store
does, so a bad exchange clock cannot push the windows into the future. An event counts in a
window of W ms while `ts_ms > now_ms - W`; one that arrives older than that is ignored for that
window (a late report that has already left it), and counted in the longer windows it still fits.

Cost. One rolling sum per (asset, window) is shared by every rule with that window; a track
keeps its events sorted by time (late ones are inserted near the end) and the smallest threshold
of its not-yet-active rules, so a quiet event costs an append, an addition, the expiry of what
left the window and one comparison per window, whatever the number of rules. Rules are sorted by
threshold (absolute: USD; relative: the multiple, since max(floor, multiple x baseline) is
monotone in it), so the rules an event makes reach their threshold are a prefix found by
bisection. Active cascades of a track share one running tape of totals, so an event in a
cascade costs the same however many rules are in it; its GREW changes are prebuilt objects.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from collectors.record import Liquidation, Side

DAY_MS = 86_400_000
DEFAULT_FLOOR_USD = 100_000.0
DEFAULT_BASELINE_REFRESH_MS = 60_000
DEFAULT_FUTURE_TOLERANCE_MS = 5_000  # the window store's tolerance: both see the same times

_NEVER = -(1 << 62)
_DIRTY = -math.inf  # a track's next level when it must be recomputed: the next event does it

_COMPACT_AT = 1024  # a track drops expired list slots once this many (and half) are dead


@dataclass(frozen=True, slots=True)
class CascadeRule:
    """Alert a chat when one asset's liquidations within `window_ms` reach a threshold.

    `asset` None means every asset, each evaluated on its own ("all" never sums assets). Give
    exactly one of `min_usd` (absolute threshold) and `multiple` (relative: `multiple` times the
    asset's usual volume for the window, see `CascadeDetector`).
    """

    chat_id: int
    rule_id: int
    asset: str | None
    window_ms: int
    min_usd: float | None = None
    multiple: float | None = None

    def __post_init__(self) -> None:
        if (self.min_usd is None) == (self.multiple is None):
            raise ValueError("a cascade rule needs exactly one of min_usd and multiple")
        value = self.min_usd if self.min_usd is not None else self.multiple
        if value is None or not (value > 0 and math.isfinite(value)):
            raise ValueError(f"cascade threshold must be positive and finite, not {value!r}")
        if not 0 < self.window_ms <= DAY_MS:
            raise ValueError(f"cascade window must be within 24 h, not {self.window_ms} ms")

    @property
    def key(self) -> tuple[int, int]:
        """Return (chat_id, rule_id): a rule's identity."""
        return (self.chat_id, self.rule_id)


class ChangeKind(enum.StrEnum):
    """What happened to a cascade."""

    STARTED = "started"  # the rolling sum reached the threshold: send a message
    GREW = "grew"  # an active cascade absorbed an event of its asset: edit the message
    ENDED = "ended"  # the rolling sum fell below half the threshold: write the final line


@dataclass(frozen=True, slots=True)
class Change:
    """A change to one cascade. GREW changes are reused objects: compare by cascade, not `is`."""

    kind: ChangeKind
    cascade: Cascade


@dataclass(frozen=True, slots=True)
class CascadeSnapshot:
    """Everything a cascade message shows, as of one moment."""

    rule: CascadeRule
    asset: str
    threshold_usd: float  # fixed when the cascade started
    started_ms: int  # event time of the first event in the window that reached the threshold
    last_ms: int  # latest event time in the cascade
    usd: float  # every event since the start, including the window that reached the threshold
    count: int
    long_usd: float  # longs liquidated
    long_count: int
    short_usd: float  # shorts liquidated
    short_count: int
    exchanges: tuple[tuple[str, float], ...]  # (exchange, USD), largest first
    largest: Liquidation  # the largest single event (the first one of equal size)
    peak_window_usd: float  # the highest rolling-window sum seen
    window_usd: float  # the rolling-window sum now (at the end: when it ended)
    ended_ms: int | None  # detector time at the end; None while active

    @property
    def ended(self) -> bool:
        """Return True once the cascade is over."""
        return self.ended_ms is not None


class Cascade:
    """One cascade of one rule on one asset; a live, read-only handle.

    While active its totals grow with every event of its asset; `snapshot()` reads them. Once
    ended (or dropped with its rule) it is frozen. At most one cascade per (rule, asset) is
    active at a time; `key` is (chat_id, rule_id, asset).
    """

    __slots__ = ("_asset", "_final", "_grew", "_origin", "_rule", "_started_ms", "_threshold")

    def __init__(self, rule: CascadeRule, asset: str, threshold_usd: float, origin: _Origin):
        self._rule = rule
        self._asset = asset
        self._threshold = threshold_usd
        self._origin: _Origin | None = origin
        self._started_ms = origin.started_ms
        self._final: CascadeSnapshot | None = None
        self._grew = Change(ChangeKind.GREW, self)

    def __repr__(self) -> str:
        state = "active" if self._final is None else f"ended at {self._final.ended_ms}"
        return (
            f"Cascade(chat {self._rule.chat_id} rule {self._rule.rule_id} {self._asset} "
            f">= {self._threshold:,.0f} USD since {self._started_ms}, {state})"
        )

    @property
    def rule(self) -> CascadeRule:
        """Return the rule that fired."""
        return self._rule

    @property
    def asset(self) -> str:
        """Return the asset (for an every-asset rule, the one that cascaded)."""
        return self._asset

    @property
    def key(self) -> tuple[int, int, str]:
        """Return (chat_id, rule_id, asset): unique among active cascades."""
        return (self._rule.chat_id, self._rule.rule_id, self._asset)

    @property
    def threshold_usd(self) -> float:
        """Return the threshold in USD, fixed when the cascade started."""
        return self._threshold

    @property
    def started_ms(self) -> int:
        """Return the event time of the first event in the window that reached the threshold."""
        return self._started_ms

    @property
    def ended(self) -> bool:
        """Return True once the cascade ended (or its rule was removed)."""
        return self._final is not None

    @property
    def ended_ms(self) -> int | None:
        """Return the detector time when it ended, or None while active."""
        return None if self._final is None else self._final.ended_ms

    def snapshot(self) -> CascadeSnapshot:
        """Return the totals now (frozen ones once ended)."""
        if self._final is not None:
            return self._final
        assert self._origin is not None
        return self._origin.snapshot(self._rule, self._asset, self._threshold, None)

    def _finish(self, now_ms: int) -> None:
        """Freeze the totals: the tape moves on without this cascade."""
        assert self._origin is not None
        self._final = self._origin.snapshot(self._rule, self._asset, self._threshold, now_ms)
        self._origin = None


# --- internals --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Sums:
    """USD and counts, long and short, and USD per exchange."""

    usd: float = 0.0
    count: int = 0
    long_usd: float = 0.0
    long_count: int = 0
    short_usd: float = 0.0
    short_count: int = 0
    exchanges: dict[str, float] = field(default_factory=dict)

    def add(self, record: Liquidation) -> None:
        usd = record.notional_usd
        self.usd += usd
        self.count += 1
        if record.side is Side.LONG:
            self.long_usd += usd
            self.long_count += 1
        else:
            self.short_usd += usd
            self.short_count += 1
        exchanges = self.exchanges
        exchanges[record.exchange] = exchanges.get(record.exchange, 0.0) + usd

    def copy(self) -> _Sums:
        return _Sums(
            self.usd,
            self.count,
            self.long_usd,
            self.long_count,
            self.short_usd,
            self.short_count,
            dict(self.exchanges),
        )


class _Tape:
    """Running totals of what a track absorbed while it had an active cascade.

    A cascade's totals are its window at the start plus the tape's growth since then, so an
    event costs the same for one active cascade or a thousand. The largest record and the peak
    window sum since any position are kept as monotonic stacks: the first entry after a
    position is the maximum from there on.
    """

    __slots__ = ("largest", "largest_seqs", "last_ms", "peak_seqs", "peaks", "seq", "sums")

    def __init__(self) -> None:
        self.seq = 0  # events absorbed
        self.sums = _Sums()
        self.last_ms = _NEVER
        self.largest: list[Liquidation] = []  # sizes non-increasing, first of equals kept
        self.largest_seqs: list[int] = []
        self.peaks: list[float] = []  # window sums, non-increasing
        self.peak_seqs: list[int] = []

    def absorb(self, record: Liquidation, ts_ms: int, window_usd: float) -> None:
        self.seq = seq = self.seq + 1
        self.sums.add(record)
        if ts_ms > self.last_ms:
            self.last_ms = ts_ms
        largest, size = self.largest, record.notional_usd
        while largest and largest[-1].notional_usd < size:
            largest.pop()
            self.largest_seqs.pop()
        largest.append(record)
        self.largest_seqs.append(seq)
        peaks = self.peaks
        while peaks and peaks[-1] <= window_usd:
            peaks.pop()
            self.peak_seqs.pop()
        peaks.append(window_usd)
        self.peak_seqs.append(seq)

    def largest_after(self, seq: int) -> Liquidation | None:
        i = bisect.bisect_right(self.largest_seqs, seq)
        return self.largest[i] if i < len(self.largest) else None

    def peak_after(self, seq: int) -> float:
        i = bisect.bisect_right(self.peak_seqs, seq)
        return self.peaks[i] if i < len(self.peaks) else -math.inf

    def trim(self, seq: int) -> None:
        """Forget stack entries at or before `seq`: no active cascade asks about them."""
        i = bisect.bisect_right(self.largest_seqs, seq)
        del self.largest[:i], self.largest_seqs[:i]
        i = bisect.bisect_right(self.peak_seqs, seq)
        del self.peaks[:i], self.peak_seqs[:i]


class _Origin:
    """A track's window at the event that started one or more cascades, and the tape then."""

    __slots__ = (
        "before",
        "largest",
        "last_ms",
        "peak_usd",
        "seq",
        "started_ms",
        "tape",
        "track",
        "window",
    )

    def __init__(self, track: _Track, tape: _Tape) -> None:
        window = _Sums()
        first_ts, last_ts = None, _NEVER
        largest: Liquidation | None = None
        head = track.head
        for ts, record in zip(track.times[head:], track.records[head:], strict=True):
            window.add(record)
            if first_ts is None or ts < first_ts:
                first_ts = ts
            if ts > last_ts:
                last_ts = ts
            if largest is None or record.notional_usd > largest.notional_usd:
                largest = record  # the earliest of equal sizes
        assert largest is not None  # the event that reached the threshold is in the window
        assert first_ts is not None
        self.track = track
        self.tape = tape
        self.seq = tape.seq  # tape events after this position are the cascade's growth
        self.window = window  # the window's totals at the start
        self.before = tape.sums.copy()  # the tape's totals at the start
        self.started_ms = first_ts
        self.last_ms = last_ts
        self.largest = largest
        self.peak_usd = track.usd

    def snapshot(
        self, rule: CascadeRule, asset: str, threshold: float, ended_ms: int | None
    ) -> CascadeSnapshot:
        window, before, now = self.window, self.before, self.tape.sums
        exchanges = dict(window.exchanges)
        for name, usd in now.exchanges.items():
            grown = usd - before.exchanges.get(name, 0.0)
            if grown:
                exchanges[name] = exchanges.get(name, 0.0) + grown
        largest = self.largest
        later = self.tape.largest_after(self.seq)
        if later is not None and later.notional_usd > largest.notional_usd:
            largest = later
        return CascadeSnapshot(
            rule=rule,
            asset=asset,
            threshold_usd=threshold,
            started_ms=self.started_ms,
            last_ms=max(self.last_ms, self.tape.last_ms),
            usd=window.usd + (now.usd - before.usd),
            count=window.count + (now.count - before.count),
            long_usd=window.long_usd + (now.long_usd - before.long_usd),
            long_count=window.long_count + (now.long_count - before.long_count),
            short_usd=window.short_usd + (now.short_usd - before.short_usd),
            short_count=window.short_count + (now.short_count - before.short_count),
            exchanges=tuple(sorted(exchanges.items(), key=lambda item: (-item[1], item[0]))),
            largest=largest,
            peak_window_usd=max(self.peak_usd, self.tape.peak_after(self.seq)),
            window_usd=self.track.usd,
            ended_ms=ended_ms,
        )


@dataclass(slots=True)
class _Group:
    """Rules of one kind for a window, sorted by USD (absolute) or by multiple (relative)."""

    relative: bool
    keys: list[float]
    rules: list[CascadeRule]

    @classmethod
    def of(cls, rules: list[CascadeRule], *, relative: bool) -> _Group:
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
        if not self.relative:
            return self.keys[i]
        return max(floor_usd, self.keys[i] * baseline)


def _parameter(rule: CascadeRule) -> float:
    value = rule.min_usd if rule.min_usd is not None else rule.multiple
    assert value is not None
    return value


class _WindowRules:
    """Every rule of one window, grouped by asset (or every asset) and kind."""

    __slots__ = ("absolute", "absolute_all", "relative", "relative_all", "window_ms")

    def __init__(self, window_ms: int, rules: list[CascadeRule]) -> None:
        self.window_ms = window_ms
        by_asset: dict[tuple[str | None, bool], list[CascadeRule]] = {}
        for rule in rules:
            by_asset.setdefault((rule.asset, rule.multiple is not None), []).append(rule)
        self.absolute: dict[str, _Group] = {}
        self.relative: dict[str, _Group] = {}
        self.absolute_all: _Group | None = None
        self.relative_all: _Group | None = None
        for (asset, relative), group_rules in by_asset.items():
            group = _Group.of(group_rules, relative=relative)
            if asset is None:
                if relative:
                    self.relative_all = group
                else:
                    self.absolute_all = group
            elif relative:
                self.relative[asset] = group
            else:
                self.absolute[asset] = group

    def groups(self, asset: str) -> list[_Group]:
        found = (
            self.absolute.get(asset),
            self.absolute_all,
            self.relative.get(asset),
            self.relative_all,
        )
        return [group for group in found if group is not None]

    def relative_for(self, asset: str) -> bool:
        return self.relative_all is not None or asset in self.relative


class _Track:
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

    def __init__(self, window_ms: int, groups: list[_Group]) -> None:
        self.window_ms = window_ms
        self.groups = groups
        # The window's events from `head` on, sorted by (effective) event time, in three lists.
        self.times: list[int] = []
        self.usds: list[float] = []
        self.records: list[Liquidation] = []
        self.head = 0
        self.usd = 0.0  # sum of usds[head:]
        self.baseline = 0.0  # the asset's usual USD for this window (relative rules)
        self.next_level = _DIRTY  # the lowest threshold of an inactive rule
        self.active: list[Cascade] = []  # by threshold, then chat and rule
        self.active_keys: set[tuple[int, int]] = set()
        self.grew: list[Change] = []
        self.tape: _Tape | None = None

    def seed(self, source: _Track, now_ms: int) -> None:
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
        if end >= _COMPACT_AT and end * 2 >= len(times):
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
        self.next_level = _DIRTY  # a rule just let go may already be over its threshold again
        if not self.active:
            self.tape = None
        elif self.tape is not None:
            self.tape.trim(min(_origin(cascade).seq for cascade in self.active))


def _origin(cascade: Cascade) -> _Origin:
    assert cascade._origin is not None
    return cascade._origin


class _Asset:
    """One asset: its tracks (one per window that has rules for it) and its cached baseline."""

    __slots__ = ("name", "refresh_at_ms", "relative", "tracks", "volume_24h_usd")

    def __init__(self, name: str) -> None:
        self.name = name
        self.tracks: list[_Track] = []  # shortest window first
        self.relative = False  # some rule for this asset is relative
        self.volume_24h_usd = 0.0
        self.refresh_at_ms = _NEVER


def _order(cascade: Cascade) -> tuple[float, int, int]:
    return (cascade.threshold_usd, cascade.rule.chat_id, cascade.rule.rule_id)


class CascadeDetector:
    """Turn a stream of liquidations into cascades of the configured rules.

    Relative thresholds: for an asset and a rule's window W, baseline = the asset's USD
    liquidated in the last 24 h (from `volume_24h`) x W / 24 h, and threshold =
    max(`floor_usd`, multiple x baseline). The floor keeps "10x" meaningful on an illiquid
    coin: without it a coin with $3K of liquidations a day has a 5-minute baseline of $10, and
    a single $100 liquidation is "10x". The default ($100K) is the default size of a single
    instant alert: a cascade should never be smaller than one alert-worthy liquidation. The 24 h
    volume includes the cascade itself once the cache refreshes; thresholds are fixed when a
    cascade starts, so that only raises the bar for the next one. `volume_24h` is called at most
    once per `baseline_refresh_ms` of detector time per asset, only for assets with relative
    rules, and must not raise; a negative or NaN answer counts as 0 (threshold = floor).

    Hysteresis: a cascade ends when its window's sum falls below half its threshold, so a
    burst followed by silence ends about one window after the burst, and a sum hovering at the
    threshold does not start a new message every minute. After it ends, the same rule and
    asset start a new cascade (a new message) when the sum reaches the threshold again.

    Calls are not thread-safe; run them on the event loop.
    """

    def __init__(
        self,
        volume_24h: Callable[[str], float],
        *,
        floor_usd: float = DEFAULT_FLOOR_USD,
        baseline_refresh_ms: int = DEFAULT_BASELINE_REFRESH_MS,
        future_tolerance_ms: int = DEFAULT_FUTURE_TOLERANCE_MS,
        rules: Iterable[CascadeRule] = (),
    ) -> None:
        self._volume_24h = volume_24h
        self._floor_usd = floor_usd
        self._refresh_ms = baseline_refresh_ms
        self._future_tolerance_ms = future_tolerance_ms
        self._now_ms = _NEVER
        self._rules: dict[tuple[int, int], CascadeRule] = {}
        self._windows: dict[int, _WindowRules] = {}  # shortest first
        self._assets: dict[str, _Asset] = {}
        self.set_rules(rules)

    @property
    def now_ms(self) -> int:
        """Return the detector's clock (see the module docstring); 0 before any input."""
        return max(self._now_ms, 0)

    @property
    def floor_usd(self) -> float:
        """Return the lowest threshold of a relative rule."""
        return self._floor_usd

    # --- rules ------------------------------------------------------------------------------

    def rules(self) -> list[CascadeRule]:
        """Return every rule, by chat and rule id."""
        return [self._rules[key] for key in sorted(self._rules)]

    def set_rules(self, rules: Iterable[CascadeRule]) -> list[Cascade]:
        """Replace every rule; return the active cascades dropped with their rules.

        A rule equal to one already set keeps its active cascade. Dropped cascades are frozen
        and marked ended at `now_ms`, but reported by no ENDED change (the caller removed them).
        """
        wanted: dict[tuple[int, int], CascadeRule] = {}
        for rule in rules:
            if rule.key in wanted:
                raise ValueError(f"two cascade rules with key {rule.key}")
            wanted[rule.key] = rule
        changed = {key for key, rule in self._rules.items() if wanted.get(key) != rule}
        dropped = self._drop(changed)
        self._rules = wanted
        self._layout()
        return dropped

    def add_rule(self, rule: CascadeRule) -> list[Cascade]:
        """Add a rule, or replace the one with its key; return the replaced one's cascades."""
        if self._rules.get(rule.key) == rule:
            return []
        dropped = self._drop({rule.key})
        self._rules[rule.key] = rule
        self._layout()
        return dropped

    def remove_rules(self, chat_id: int, rule_ids: Iterable[int]) -> list[Cascade]:
        """Remove a chat's rules (unknown ids are ignored); return their dropped cascades."""
        keys = {(chat_id, rule_id) for rule_id in rule_ids} & self._rules.keys()
        return self._remove(keys)

    def remove_chat(self, chat_id: int) -> list[Cascade]:
        """Remove every rule of a chat; return their dropped cascades."""
        return self._remove({key for key in self._rules if key[0] == chat_id})

    def _remove(self, keys: set[tuple[int, int]]) -> list[Cascade]:
        if not keys:
            return []
        dropped = self._drop(keys)
        for key in keys:
            del self._rules[key]
        self._layout()
        return dropped

    def _drop(self, keys: set[tuple[int, int]]) -> list[Cascade]:
        """Freeze and forget the active cascades of these rules."""
        dropped: list[Cascade] = []
        if not keys:
            return dropped
        for asset in self._assets.values():
            for track in asset.tracks:
                if track.active_keys.isdisjoint(keys):
                    continue
                leaving = [c for c in track.active if c.rule.key in keys]
                track.retire(leaving, self.now_ms)
                dropped.extend(leaving)
        return sorted(dropped, key=lambda c: c.key)

    def _layout(self) -> None:
        """Regroup the rules by window and give every known asset the tracks it needs now."""
        by_window: dict[int, list[CascadeRule]] = {}
        for rule in self._rules.values():
            by_window.setdefault(rule.window_ms, []).append(rule)
        self._windows = {w: _WindowRules(w, by_window[w]) for w in sorted(by_window)}
        for asset in self._assets.values():
            self._layout_asset(asset)

    def _layout_asset(self, asset: _Asset) -> None:
        old = {track.window_ms: track for track in asset.tracks}
        longest = asset.tracks[-1] if asset.tracks else None
        tracks = []
        for window_ms, rules in self._windows.items():
            groups = rules.groups(asset.name)
            if not groups:
                continue
            track = old.get(window_ms)
            if track is None:
                track = _Track(window_ms, groups)
                if longest is not None:
                    track.seed(longest, self._now_ms)
            track.groups = groups
            track.baseline = asset.volume_24h_usd * window_ms / DAY_MS
            track.next_level = _DIRTY
            tracks.append(track)
        asset.tracks = tracks
        asset.relative = any(rules.relative_for(asset.name) for rules in self._windows.values())

    # --- events and time --------------------------------------------------------------------

    def add(self, record: Liquidation) -> list[Change]:
        """Count one new event in its asset's windows; return what changed.

        Per window of the asset, in order of window length: cascades whose sum fell below half
        their threshold since the last call END, the event is counted unless older than the
        window, active cascades GREW, and rules whose threshold the sum now reaches are STARTED
        (their totals include every event in the window). Pass each event once: the detector
        does not deduplicate (the aggregation upstream does), and events given to `warm` must
        not be given again.
        """
        ts = record.ts_ms
        recv = record.recv_ms
        if ts > recv + self._future_tolerance_ms:
            ts = recv
        now = self._now_ms
        if recv > now:
            now = recv
        if ts > now:
            now = ts
        self._now_ms = now
        changes: list[Change] = []
        asset = self._assets.get(record.base)
        if asset is None:
            asset = self._assets[record.base] = _Asset(record.base)
            self._layout_asset(asset)
        if not asset.tracks:
            return changes
        if asset.relative and now >= asset.refresh_at_ms:
            self._refresh(asset, now)
        usd = record.notional_usd
        for track in asset.tracks:
            cutoff = now - track.window_ms
            times = track.times
            if track.head < len(times) and times[track.head] <= cutoff:
                self._expire(track, cutoff, changes)
            if ts <= cutoff:
                continue  # a late report that already left this window
            if not times or ts >= times[-1]:
                times.append(ts)
                track.usds.append(usd)
                track.records.append(record)
            else:
                track.insert(ts, usd, record)
            total = track.usd = track.usd + usd
            tape = track.tape
            if tape is not None:
                tape.absorb(record, ts, total)
                changes.extend(track.grew)
            if total >= track.next_level:
                self._start(track, asset, changes)
        return changes

    def tick(self, now_ms: int) -> list[Change]:
        """Advance the clock to wall time; expire old events and return the cascades that END."""
        if now_ms > self._now_ms:
            self._now_ms = now_ms
        now = self._now_ms
        changes: list[Change] = []
        for asset in self._assets.values():
            for track in asset.tracks:
                cutoff = now - track.window_ms
                if track.head < len(track.times) and track.times[track.head] <= cutoff:
                    self._expire(track, cutoff, changes)
        return changes

    def warm(self, records: Iterable[Liquidation]) -> list[Cascade]:
        """Feed recent history without reporting changes; return the cascades active after it.

        At restart, pass the stored events of the last longest window (in arrival order, or
        oldest first) after `set_rules`, then a `tick` with wall time, so the caller can adopt
        the messages of cascades that are still going. Every window is brought to the newest
        time seen before the list is made. Events given here are counted: never pass them to
        `add` as well.
        """
        for record in records:
            self.add(record)
        self.tick(self._now_ms)
        return self.active()

    def active(self) -> list[Cascade]:
        """Return every active cascade, by chat, rule and asset."""
        found = [c for a in self._assets.values() for t in a.tracks for c in t.active]
        return sorted(found, key=lambda c: c.key)

    def window_usd(self, asset: str, window_ms: int) -> float | None:
        """Return an asset's rolling sum for a window, or None if no rule tracks that pair.

        The sum is as of the asset's last `add` or the last `tick`, whichever came later.
        """
        rules = self._windows.get(window_ms)
        if rules is None or not rules.groups(asset):
            return None
        known = self._assets.get(asset)
        for track in known.tracks if known is not None else ():
            if track.window_ms == window_ms:
                return track.usd
        return 0.0  # an asset not seen yet

    # --- internals --------------------------------------------------------------------------

    def _refresh(self, asset: _Asset, now_ms: int) -> None:
        volume = self._volume_24h(asset.name)
        asset.volume_24h_usd = volume if volume > 0 else 0.0  # NaN and negatives too
        asset.refresh_at_ms = now_ms + self._refresh_ms
        for track in asset.tracks:
            track.baseline = asset.volume_24h_usd * track.window_ms / DAY_MS
            track.next_level = _DIRTY

    def _expire(self, track: _Track, cutoff_ms: int, changes: list[Change]) -> None:
        track.expire(cutoff_ms)
        active = track.active
        if active and track.usd * 2 < active[-1].threshold_usd:
            ending = [c for c in active if track.usd * 2 < c.threshold_usd]
            track.retire(ending, self._now_ms)
            changes.extend(Change(ChangeKind.ENDED, cascade) for cascade in ending)

    def _start(self, track: _Track, asset: _Asset, changes: list[Change]) -> None:
        """Start every inactive rule whose threshold the sum reaches; find the next level."""
        total = track.usd
        floor, baseline = self._floor_usd, track.baseline
        active = track.active_keys
        reached: list[tuple[float, CascadeRule]] = []
        next_level = math.inf
        for group in track.groups:
            end = group.reached(total, baseline, floor)
            rules = group.rules
            for i in range(end):
                if rules[i].key not in active:
                    reached.append((group.threshold(i, baseline, floor), rules[i]))
            for i in range(end, len(rules)):
                if rules[i].key not in active:
                    level = group.threshold(i, baseline, floor)
                    if level < next_level:
                        next_level = level
                    break
        track.next_level = next_level
        if not reached:
            return
        if track.tape is None:
            track.tape = _Tape()
        origin = _Origin(track, track.tape)
        reached.sort(key=lambda item: (item[0], item[1].chat_id, item[1].rule_id))
        for threshold, rule in reached:
            cascade = Cascade(rule, asset.name, threshold, origin)
            active.add(rule.key)
            bisect.insort(track.active, cascade, key=_order)
            changes.append(Change(ChangeKind.STARTED, cascade))
        track.grew = [cascade._grew for cascade in track.active]
