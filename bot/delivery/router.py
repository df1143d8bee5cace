"""Route each new liquidation to the chats whose rules match it."""

from __future__ import annotations

from collections.abc import Callable

from bot.delivery.dispatcher import AlertDispatcher
from bot.rules.matching import RuleIndex
from collectors.clock import now_ms
from collectors.record import Liquidation


class AlertRouter:
    """A collectors listener: match an event to rules, queue one alert per chat and topic."""

    def __init__(
        self,
        rules: RuleIndex,
        dispatcher: AlertDispatcher,
        *,
        max_age_s: float,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._rules = rules
        self._dispatcher = dispatcher
        self._max_age_ms = max_age_s * 1000
        self._clock = clock
        self.too_old = 0

    def on_liquidation(self, record: Liquidation) -> None:
        """Queue alerts for a fresh event; an old one (a late report) only counts in totals."""
        if record.ts_ms < self._clock() - self._max_age_ms:
            self.too_old += 1
            return
        for chat_id, topic in self._rules.match(record):
            self._dispatcher.enqueue_alert(chat_id, record, topic)
