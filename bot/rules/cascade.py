"""Cascade rules and the cascades they fire: the detector's vocabulary (pure)."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collectors.record import Liquidation

if TYPE_CHECKING:
    from bot.rules.tape import Origin

DAY_MS = 86_400_000


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
    topic: int | None = None  # the forum topic it was set in (message_thread_id): posts go there

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

    # `_finish`, `_grew` and `_origin` are the detector's: its tracks (bot.rules.tracks) end a
    # cascade, reuse its GREW change and read where it started.
    __slots__ = ("_asset", "_final", "_grew", "_origin", "_rule", "_started_ms", "_threshold")

    def __init__(self, rule: CascadeRule, asset: str, threshold_usd: float, origin: Origin):
        self._rule = rule
        self._asset = asset
        self._threshold = threshold_usd
        self._origin: Origin | None = origin
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
