"""Subscription rules, and the index that matches events to chats."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from collectors.record import Liquidation, Side

MAX_RULES_PER_CHAT = 50

# Where a message goes: a chat, and the forum topic in it (None: the chat itself).
Destination = tuple[int, int | None]


@dataclass(frozen=True, slots=True)
class Rule:
    """Alert a chat about liquidations of at least `min_usd` that fit the filters."""

    rule_id: int
    chat_id: int
    assets: frozenset[str]  # empty: every asset
    min_usd: float
    side: Side | None = None  # None: both sides
    exchanges: frozenset[str] = frozenset()  # empty: every exchange
    created_ms: int = field(default=0, compare=False)  # when it was added (crash recovery)
    topic: int | None = None  # the forum topic it was set in (message_thread_id): alerts go there

    def matches(self, record: Liquidation) -> bool:
        """Return True if the event passes every filter of this rule."""
        return (
            record.notional_usd >= self.min_usd
            and (not self.assets or record.base in self.assets)
            and (self.side is None or record.side is self.side)
            and (not self.exchanges or record.exchange in self.exchanges)
        )


@dataclass(slots=True)
class _Bucket:
    """Rules sorted by threshold, so a size lookup finds the matching prefix by bisection."""

    thresholds: list[float] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)

    def add(self, rule: Rule) -> None:
        position = bisect.bisect_right(self.thresholds, rule.min_usd)
        self.thresholds.insert(position, rule.min_usd)
        self.rules.insert(position, rule)

    def remove(self, rule: Rule) -> None:
        position = self.rules.index(rule)
        del self.thresholds[position]
        del self.rules[position]


class RuleIndex:
    """Find the chats whose rules match an event, in time that does not grow with chats.

    Rules are bucketed by asset (plus one bucket for every-asset rules) and sorted by
    threshold: an event only visits the rules of its asset that its size already satisfies.
    """

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._by_asset: dict[str, _Bucket] = {}
        self._every_asset = _Bucket()
        self._by_chat: dict[int, dict[int, Rule]] = {}
        for rule in rules:
            self.add(rule)

    def __len__(self) -> int:
        return sum(len(rules) for rules in self._by_chat.values())

    def add(self, rule: Rule) -> None:
        """Index a rule."""
        self._by_chat.setdefault(rule.chat_id, {})[rule.rule_id] = rule
        for bucket in self._buckets(rule, create=True):
            bucket.add(rule)

    def remove(self, rule: Rule) -> None:
        """Forget a rule (it must be indexed)."""
        del self._by_chat[rule.chat_id][rule.rule_id]
        if not self._by_chat[rule.chat_id]:
            del self._by_chat[rule.chat_id]
        for bucket in self._buckets(rule, create=False):
            bucket.remove(rule)

    def _buckets(self, rule: Rule, *, create: bool) -> list[_Bucket]:
        if not rule.assets:
            return [self._every_asset]
        buckets = []
        for asset in sorted(rule.assets):
            bucket = self._by_asset.get(asset)
            if bucket is None:
                if not create:
                    continue
                bucket = self._by_asset[asset] = _Bucket()
            buckets.append(bucket)
        return buckets

    def rules_for(self, chat_id: int) -> list[Rule]:
        """Return a chat's rules, oldest first."""
        return sorted(self._by_chat.get(chat_id, {}).values(), key=lambda r: r.rule_id)

    def drop_chat(self, chat_id: int) -> list[Rule]:
        """Forget every rule of a chat; return them."""
        rules = self.rules_for(chat_id)
        for rule in rules:
            self.remove(rule)
        return rules

    def chats(self) -> list[int]:
        """Return every chat with at least one rule."""
        return sorted(self._by_chat)

    def match(self, record: Liquidation) -> dict[Destination, Rule]:
        """Return each destination (chat, forum topic) with a matching rule, with its first
        matching rule (by threshold): a chat whose rules in two topics match gets the alert
        in both."""
        found: dict[Destination, Rule] = {}
        size = record.notional_usd
        bucket = self._by_asset.get(record.base)
        for candidates in (bucket, self._every_asset):
            if candidates is None:
                continue
            end = bisect.bisect_right(candidates.thresholds, size)
            for rule in candidates.rules[:end]:
                destination = (rule.chat_id, rule.topic)
                if destination in found:
                    continue
                if (rule.side is None or record.side is rule.side) and (
                    not rule.exchanges or record.exchange in rule.exchanges
                ):
                    found[destination] = rule
        return found
