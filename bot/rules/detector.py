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
import math
from collections.abc import Callable, Iterable

from bot.rules.cascade import DAY_MS, Cascade, CascadeRule, Change, ChangeKind
from bot.rules.tape import NEVER, Origin, Tape
from bot.rules.tracks import DIRTY, AssetTracks, Track, WindowRules, by_threshold
from collectors.record import Liquidation

DEFAULT_FLOOR_USD = 100_000.0
DEFAULT_BASELINE_REFRESH_MS = 60_000
DEFAULT_FUTURE_TOLERANCE_MS = 5_000  # the window store's tolerance: both see the same times


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
        self._now_ms = NEVER
        self._rules: dict[tuple[int, int], CascadeRule] = {}
        self._windows: dict[int, WindowRules] = {}  # shortest first
        self._assets: dict[str, AssetTracks] = {}
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
        self._windows = {w: WindowRules(w, by_window[w]) for w in sorted(by_window)}
        for asset in self._assets.values():
            self._layout_asset(asset)

    def _layout_asset(self, asset: AssetTracks) -> None:
        old = {track.window_ms: track for track in asset.tracks}
        longest = asset.tracks[-1] if asset.tracks else None
        tracks = []
        for window_ms, rules in self._windows.items():
            groups = rules.groups(asset.name)
            if not groups:
                continue
            track = old.get(window_ms)
            if track is None:
                track = Track(window_ms, groups)
                if longest is not None:
                    track.seed(longest, self._now_ms)
            track.groups = groups
            track.baseline = asset.volume_24h_usd * window_ms / DAY_MS
            track.next_level = DIRTY
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
            asset = self._assets[record.base] = AssetTracks(record.base)
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

    def _refresh(self, asset: AssetTracks, now_ms: int) -> None:
        volume = self._volume_24h(asset.name)
        asset.volume_24h_usd = volume if volume > 0 else 0.0  # NaN and negatives too
        asset.refresh_at_ms = now_ms + self._refresh_ms
        for track in asset.tracks:
            track.baseline = asset.volume_24h_usd * track.window_ms / DAY_MS
            track.next_level = DIRTY

    def _expire(self, track: Track, cutoff_ms: int, changes: list[Change]) -> None:
        track.expire(cutoff_ms)
        active = track.active
        if active and track.usd * 2 < active[-1].threshold_usd:
            ending = [c for c in active if track.usd * 2 < c.threshold_usd]
            track.retire(ending, self._now_ms)
            changes.extend(Change(ChangeKind.ENDED, cascade) for cascade in ending)

    def _start(self, track: Track, asset: AssetTracks, changes: list[Change]) -> None:
        """Start every inactive rule whose threshold the sum reaches; find the next level."""
        total = track.usd
        floor, baseline = self._floor_usd, track.baseline
        active = track.active_keys
        reached: list[tuple[float, CascadeRule]] = []
        next_level = math.inf
        for group in track.groups:
            end = group.reached(total, baseline, floor)
            rules = group.rules
            reached.extend(
                (group.threshold(i, baseline, floor), rules[i])
                for i in range(end)
                if rules[i].key not in active
            )
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
            track.tape = Tape()
        origin = Origin(track, track.tape)
        reached.sort(key=lambda item: (item[0], item[1].chat_id, item[1].rule_id))
        for threshold, rule in reached:
            cascade = Cascade(rule, asset.name, threshold, origin)
            active.add(rule.key)
            bisect.insort(track.active, cascade, key=by_threshold)
            changes.append(Change(ChangeKind.STARTED, cascade))
        track.grew = [cascade._grew for cascade in track.active]
