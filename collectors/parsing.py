"""Shared result types and checks for the pure frame parsers."""

from __future__ import annotations

import math

import msgspec

from collectors.record import Liquidation

_INF = math.inf


class FrameError(ValueError):
    """A frame that cannot be decoded at all: invalid JSON or the wrong shape."""


# What decoding a frame raises when the frame is not usable JSON of the expected shape. msgspec
# raises RecursionError, not DecodeError, for a value nested about a thousand levels deep.
UNDECODABLE = (msgspec.DecodeError, RecursionError)


class Rejection(msgspec.Struct, frozen=True, gc=False):
    """One entry of an otherwise decodable frame that did not become a record."""

    reason: str
    instrument: str = ""
    unknown_instrument: bool = False  # metadata is missing: a refetch may rescue it


class Parsed(msgspec.Struct, gc=False):
    """What one frame yields: records, rejected entries and control information.

    A parser starts from `Parsed([])` and hands every entry's outcome to `add` (a built record)
    or `reject` (an entry that did not become one).
    """

    records: list[Liquidation]
    rejected: list[Rejection] | None = None
    control: str | None = None  # a short description of an ack, pong or notice frame
    reconnect: bool = False  # the exchange announced that it will close this connection
    reply: str | None = None  # a frame to send back at once on the same socket (HTX pong)

    def add(self, record: Liquidation) -> None:
        """Keep a built record, or reject it if its price, quantity or notional is unusable."""
        # The checks of `out_of_range`, inline: this runs for every event of every feed.
        if (
            0.0 < record.price < _INF
            and 0.0 < record.qty_base < _INF
            and 0.0 < record.notional_usd < _INF
        ):
            self.records.append(record)
        else:
            self.reject(out_of_range(record) or "out of range", record.symbol)  # never None here

    def reject(
        self, reason: str, instrument: str = "", *, unknown_instrument: bool = False
    ) -> None:
        """Count one entry of the frame as rejected, and why."""
        rejection = Rejection(reason, instrument, unknown_instrument)
        if self.rejected is None:
            self.rejected = [rejection]
        else:
            self.rejected.append(rejection)


def is_positive_finite(value: float) -> bool:
    """Return True for 0 < value < inf (False for NaN, zero, negatives and infinities)."""
    return 0.0 < value < _INF


def out_of_range(record: Liquidation) -> str | None:
    """Return why a built record's price, quantity or notional is unusable, or None if all are fine.

    Inputs are checked one by one before; their products and quotients can still overflow to
    inf (1e200 * 1e200) or underflow to zero (1e-200 * 1e-200).
    """
    if not is_positive_finite(record.price):
        return f"price {record.price!r} out of range"
    if not is_positive_finite(record.qty_base):
        return f"qty_base {record.qty_base!r} out of range"
    if not is_positive_finite(record.notional_usd):
        return f"notional_usd {record.notional_usd!r} out of range"
    return None


def truncate(frame: str | bytes, limit: int = 300) -> str:
    """Shorten a raw frame for a log line; escape control characters so it stays one line."""
    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
    shown = text[:limit]
    if not shown.isprintable():
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)
    if len(text) <= limit:
        return shown
    return f"{shown}... ({len(text)} chars)"


def decode_error(exc: msgspec.DecodeError) -> FrameError:
    """Turn a msgspec decode or validation error into a FrameError with its reason."""
    return FrameError(str(exc))


class FirstSight:
    """Remember recent keys, to count an order, position or trade only once.

    Bounded: keys live in two generations of at most `capacity` each; when the newer one is
    full, the older is forgotten (a key seen again after that many others counts again; venues
    repeat a key within seconds or on a reconnect). Both lookups and inserts are O(1).
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._current: set[str | int] = set()
        self._previous: set[str | int] = set()

    def first(self, key: str | int) -> bool:
        """Return True the first time this key is seen, False after."""
        current = self._current
        if key in current or key in self._previous:
            return False
        if len(current) >= self._capacity:
            self._previous = current
            current = self._current = set()
        current.add(key)
        return True
