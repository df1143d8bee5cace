"""Keep the largest liquidations of every second, minute by minute, so any span's largest are exact.

Each minute keeps the `TOP_K` largest events of each of its seconds (at most 60 x TOP_K events,
whatever the rate). The k <= TOP_K largest events of any span of whole seconds are among the
kept events of its seconds: a minute wholly inside contributes its own k largest, an edge minute
the kept events of the seconds inside.

A restart loads only each minute's `TOP_K` largest (`complete` False): enough for a minute
wholly inside a span. An edge minute's every second comes from the database when it is needed
(`complete_with`), as its per-second sums do.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TOP_K = 10  # events kept per second: the most any query may ask for (the dashboard: 10)

TOP_DTYPE = np.dtype(
    [
        ("ts", "<i8"),
        ("seq", "<i8"),  # arrival order (ties); 0 for events loaded at start
        ("usd", "<f8"),
        ("qty", "<f8"),
        ("price", "<f8"),
        ("recv", "<i8"),
        ("inst", "<i4"),
        ("side", "<i1"),
    ]
)

Events = npt.NDArray[np.void]


def best_per_second(events: Events, k: int = TOP_K) -> Events:
    """Return the k largest events of each second, by second, then largest first."""
    if len(events) == 0:
        return events
    seconds = events["ts"] // 1000
    order = np.lexsort((events["seq"], events["ts"], -events["usd"], seconds))
    ordered = events[order]
    seconds = seconds[order]
    new_group = np.empty(len(ordered), dtype=bool)
    new_group[0] = True
    np.not_equal(seconds[1:], seconds[:-1], out=new_group[1:])
    starts = np.flatnonzero(new_group)
    rank = np.arange(len(ordered)) - starts[np.cumsum(new_group) - 1]
    kept: Events = ordered[rank < k]
    return kept


def largest_first(events: Events, k: int) -> Events:
    """Return the k largest events, largest first (ties: earlier, then earlier arrival)."""
    order = np.lexsort((events["seq"], events["ts"], -events["usd"]))
    return events[order[:k]]


def as_kept(stored: Events, inst: npt.NDArray[np.int64]) -> Events:
    """Return stored largest events (the database's columns) as memory keeps them, with
    memory's instrument numbers; arrival order (`seq`) 0, as for every event loaded."""
    events = np.zeros(len(stored), dtype=TOP_DTYPE)
    for name in stored.dtype.names or ():
        events[name] = stored[name]
    events["inst"] = inst
    return events


def distinct(events: Events) -> Events:
    """Return the events without repeats of an identity (ts, instrument, side, qty, price),
    keeping each identity's first occurrence; ordered by identity."""
    order = np.lexsort(
        (events["price"], events["qty"], events["side"], events["inst"], events["ts"])
    )  # stable: of equal identities the first given comes first
    ordered = events[order]
    repeat = np.ones(max(len(ordered) - 1, 0), dtype=bool)
    for name in ("ts", "inst", "side", "qty", "price"):
        column = ordered[name]
        repeat &= column[1:] == column[:-1]
    kept: Events = ordered[np.r_[True, ~repeat]] if len(ordered) else ordered
    return kept


class MinuteTops:
    """The TOP_K largest events of each second of one minute (or, if not `complete`, at least
    the minute's TOP_K largest)."""

    __slots__ = ("_best", "complete", "events")

    def __init__(self, events: Events | None = None, *, complete: bool = True) -> None:
        self.events: Events = np.empty(0, TOP_DTYPE) if events is None else events
        self.complete = complete
        self._best: Events | None = None

    def merge(self, new: Events) -> None:
        """Keep the largest of the events kept so far and `new`.

        The minute's TOP_K largest stay exact when not `complete`: each of them is among the
        TOP_K largest of its second, of those kept and `new`.
        """
        both = np.concatenate((self.events, new)) if len(self.events) else new
        self.events = best_per_second(both)
        self._best = None

    def complete_with(self, stored: Events) -> None:
        """Take every second's TOP_K largest read from the database, with the events kept
        (counted since the read, or both counted and stored: kept once)."""
        self.events = best_per_second(distinct(np.concatenate((self.events, stored))))
        self.complete = True
        self._best = None

    def best(self, k: int) -> Events:
        """Return the minute's k (<= TOP_K) largest events, largest first."""
        if self._best is None:
            self._best = largest_first(self.events, TOP_K)
        return self._best[:k]

    def within(self, lo_ms: int, hi_ms: int) -> Events:
        """Return the kept events with lo_ms <= ts < hi_ms (the k largest of them are exact
        only if `complete`)."""
        ts = self.events["ts"]
        return self.events[(ts >= lo_ms) & (ts < hi_ms)]

    @property
    def nbytes(self) -> int:
        """Return the bytes the kept events take."""
        return self.events.nbytes
