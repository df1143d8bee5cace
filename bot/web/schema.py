"""The JSON shapes of the dashboard's API (version 1) and stream, as msgspec structs."""

from __future__ import annotations

import hashlib

import msgspec

from collectors.record import Liquidation

API_VERSION = 1


class Event(msgspec.Struct, omit_defaults=True):
    """One liquidation: the keys of `replay --events`, an id, and its stream sequence."""

    id: str  # stable across restarts: a digest of the event's identity
    exchange: str
    market: str
    symbol: str  # the exchange's instrument id
    base: str  # the asset (what `symbol=` filters on)
    side: str  # the position liquidated: "long" or "short"
    price: float
    qty: float  # in base units
    notional_usd: float
    ts_ms: int
    seq: int = 0  # stream only: the event's place in this process's tape (0: not streamed)


def event_id(record: Liquidation) -> str:
    """Return a short, stable id for an event (equal for the same event delivered twice)."""
    identity = "|".join(map(str, record.identity()))
    return hashlib.blake2b(identity.encode(), digest_size=8).hexdigest()


def event_of(record: Liquidation, seq: int = 0) -> Event:
    """Return the API form of a record."""
    return Event(
        id=event_id(record),
        exchange=record.exchange,
        market=record.market,
        symbol=record.symbol,
        base=record.base,
        side=record.side.value,
        price=record.price,
        qty=record.qty_base,
        notional_usd=record.notional_usd,
        ts_ms=record.ts_ms,
        seq=seq,
    )


class Sides(msgspec.Struct):
    """Liquidated USD and counts, long and short."""

    long_usd: float
    short_usd: float
    long_count: int
    short_count: int


class Window(msgspec.Struct):
    """One rolling window's totals, per exchange, and each feed's uptime share in it."""

    window: str  # "3m", "15m", "1h", "4h", "24h"
    window_s: int
    long_usd: float
    short_usd: float
    long_count: int
    short_count: int
    by_exchange: dict[str, Sides]
    uptime: dict[str, float]  # feed id -> share of the window it was connected (0..1)
    avg_price: float | None = None  # with symbol=: the USD-weighted average liquidation price


class Windows(msgspec.Struct):
    """GET /api/v1/windows."""

    as_of_ms: int
    symbol: str | None
    windows: list[Window]


class Ranked(msgspec.Struct):
    """An asset on a leaderboard."""

    base: str
    usd: float
    count: int


class Top(msgspec.Struct):
    """GET /api/v1/top: the most liquidated assets of a window, longs and shorts."""

    window: str
    as_of_ms: int
    long: list[Ranked]
    short: list[Ranked]


class Latest(msgspec.Struct):
    """GET /api/v1/latest."""

    events: list[Event]


class Feed(msgspec.Struct):
    """One feed's health."""

    feed: str
    exchange: str
    coverage: str  # "throttled" (a lower bound), "partial" or "complete"
    connected: bool
    healthy: bool  # delivered within its silence timeout
    last_event_ms: int | None
    last_frame_ms: int | None
    silence_timeout_s: float
    events: int
    bad_frames: int
    reconnects: int


class Health(msgspec.Struct):
    """GET /api/v1/health."""

    as_of_ms: int
    feeds: list[Feed]


class Gap(msgspec.Struct):
    """A span without data from one feed."""

    feed: str
    exchange: str
    start_ms: int
    end_ms: int
    backfilled: bool


class Series(msgspec.Struct):
    """GET /api/v1/series: liquidated USD per bucket, exchange and side, and feed gaps."""

    window: str
    symbol: str | None
    start_ms: int
    end_ms: int
    bucket_s: int
    edges_ms: list[int]  # bucket bounds, oldest first (one more than the buckets)
    exchanges: list[str]
    long_usd: list[list[float]]  # [exchange][bucket]
    short_usd: list[list[float]]
    gaps: list[Gap]


class Error(msgspec.Struct):
    """Any 4xx answer of the API."""

    error: str


# --- the stream ---------------------------------------------------------------------------


class Hello(msgspec.Struct, tag_field="type", tag="hello"):
    """First message of a stream: where the tape stands and whether the resume worked."""

    protocol: int
    epoch: str  # changes when the process restarts: sequences restart with it
    seq: int  # the newest sequence number so far
    resumed: bool  # False: events since the given `since` are not all here: reload the tape
    windows: list[str]


class Snapshot(msgspec.Struct, tag_field="type", tag="snapshot"):
    """Once a second: windows, leaderboards of every window, largest of 24 h, feed health."""

    as_of_ms: int
    windows: list[Window]
    top: dict[str, Top]
    largest: list[Event]
    health: list[Feed]


class Filter(msgspec.Struct, tag_field="type", tag="filter", forbid_unknown_fields=True):
    """Sent by a page: only tape events matching this reach it."""

    symbol: str | None = None
    min_usd: float = 0.0
    side: str | None = None
    exchange: str | None = None
