"""Judge each feed's health from its live counters: did it deliver within its silence timeout?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# For a feed whose watchdog has no limit of its own.
DEFAULT_SILENCE_S = 120.0


class PolicyView(Protocol):
    """The watchdog limits of a feed's connection (collectors' ConnectionPolicy)."""

    @property
    def idle_timeout_s(self) -> float | None: ...

    @property
    def data_silence_s(self) -> float | None: ...


class FeedView(Protocol):
    """What the dashboard reads of a configured feed (collectors' Feed)."""

    @property
    def feed_id(self) -> str: ...

    @property
    def exchange(self) -> str: ...

    @property
    def coverage(self) -> str: ...

    @property
    def policy(self) -> PolicyView: ...


class FeedStatsView(Protocol):
    """What the dashboard reads of a feed's live counters (collectors' FeedStats)."""

    @property
    def feed_id(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    @property
    def events(self) -> int: ...

    @property
    def bad_frames(self) -> int: ...

    @property
    def reconnects(self) -> int: ...

    @property
    def last_event_ms(self) -> int | None: ...

    @property
    def last_frame_ms(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One enabled feed as the dashboard shows it."""

    feed_id: str
    exchange: str
    coverage: str  # "throttled", "partial" or "complete"
    connected: bool
    last_event_ms: int | None
    last_frame_ms: int | None
    silence_timeout_s: float  # the feed's watchdog limit: longer without a frame is unhealthy
    events: int = 0
    bad_frames: int = 0
    reconnects: int = 0

    def silent_ms(self, now_ms: int, since_ms: int) -> int:
        """Return how long the feed has delivered nothing (since since_ms if it never did)."""
        last = self.last_frame_ms
        return now_ms - (since_ms if last is None else last)

    def healthy(self, now_ms: int, since_ms: int) -> bool:
        """Return True if the feed delivered within its silence timeout (or started that
        recently): the /healthz rule."""
        return self.silent_ms(now_ms, since_ms) <= self.silence_timeout_s * 1000


def silence_timeout_s(policy: PolicyView) -> float:
    """Return how long a feed may stay silent before its own watchdog reconnects it."""
    limits = [t for t in (policy.data_silence_s, policy.idle_timeout_s) if t is not None]
    return max(limits) if limits else DEFAULT_SILENCE_S


def feed_health(feeds: Sequence[FeedView], stats: Sequence[FeedStatsView]) -> list[FeedHealth]:
    """Return each configured feed's health, in configuration order."""
    by_id = {s.feed_id: s for s in stats}
    result = []
    for feed in feeds:
        live = by_id.get(feed.feed_id)
        result.append(
            FeedHealth(
                feed_id=feed.feed_id,
                exchange=feed.exchange,
                coverage=str(feed.coverage),
                connected=live is not None and live.connected,
                last_event_ms=None if live is None else live.last_event_ms,
                last_frame_ms=None if live is None else live.last_frame_ms,
                silence_timeout_s=silence_timeout_s(feed.policy),
                events=0 if live is None else live.events,
                bad_frames=0 if live is None else live.bad_frames,
                reconnects=0 if live is None else live.reconnects,
            )
        )
    return result
