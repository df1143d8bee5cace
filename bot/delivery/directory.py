"""Keep chats, their rules and schedules consistent when chats appear, go or migrate."""

from __future__ import annotations

import dataclasses
import logging

from bot.delivery.cascades import CascadeNotifier
from bot.delivery.summaries import SummaryScheduler
from bot.prefs.chats import ChatSettings
from bot.rules.matching import RuleIndex
from bot.tables.bot_store import BotStore

log = logging.getLogger(__name__)


class ChatDirectory:
    """The one place that changes a chat's standing; the dispatcher reports chat events here."""

    def __init__(self, store: BotStore, rules: RuleIndex, prefs: ChatSettings) -> None:
        self._store = store
        self._rules = rules
        self._prefs = prefs
        self._scheduler: SummaryScheduler | None = None
        self._cascades: CascadeNotifier | None = None

    def attach(self, scheduler: SummaryScheduler, cascades: CascadeNotifier | None = None) -> None:
        """Give the directory the scheduler and cascade notifier (built after the dispatcher,
        which needs the directory)."""
        self._scheduler = scheduler
        self._cascades = cascades

    @property
    def scheduler(self) -> SummaryScheduler:
        """Return the attached scheduler."""
        assert self._scheduler is not None, "ChatDirectory.attach() was not called"
        return self._scheduler

    async def chat_gone(self, chat_id: int, reason: str) -> None:
        """Stop alerts and summaries to a chat that blocked or removed the bot (until /start)."""
        # Memory first: an event matched while the store write is awaited would otherwise
        # queue another message for the chat, and another send that Telegram refuses.
        dropped = self._rules.drop_chat(chat_id)
        self.scheduler.remove(chat_id)
        if self._cascades is not None:
            self._cascades.drop_chat(chat_id)
        await self._store.set_active(chat_id, False)
        log.info("chat %d disabled (%s): %d rule(s) paused", chat_id, reason, len(dropped))

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        """Re-key a group that became a supergroup: rules, schedule, preferences move."""
        # Memory first, as in chat_gone: nothing may be queued for the old id meanwhile.
        for rule in self._rules.drop_chat(old_chat_id):
            self._rules.add(dataclasses.replace(rule, chat_id=new_chat_id))
        self._prefs.move(old_chat_id, new_chat_id)
        self.scheduler.move(old_chat_id, new_chat_id)
        if self._cascades is not None:
            self._cascades.move_chat(old_chat_id, new_chat_id)
        await self._store.migrate_chat(old_chat_id, new_chat_id)
        log.info("chat %d migrated to %d", old_chat_id, new_chat_id)

    async def topic_gone(self, chat_id: int, topic: int, reason: str) -> None:
        """Remove what was set in a deleted forum topic (rules, cascade rules, the schedule);
        the chat's other topics keep theirs."""
        # Memory first, as in chat_gone.
        rules = [rule for rule in self._rules.rules_for(chat_id) if rule.topic == topic]
        for rule in rules:
            self._rules.remove(rule)
        cascade_ids: list[int] = []
        if self._cascades is not None:
            cascade_ids = self._cascades.drop_topic(chat_id, topic)
        schedule = self.scheduler.schedule_of(chat_id)
        in_topic = schedule is not None and schedule.topic == topic
        if in_topic:
            self.scheduler.remove(chat_id)
            await self._store.delete_schedule(chat_id)
        await self._store.delete_rules([rule.rule_id for rule in rules])
        await self._store.delete_cascade_rules(cascade_ids)
        log.info(
            "chat %d: topic %d is gone (%s): %d rule(s), %d cascade rule(s)%s removed",
            chat_id,
            topic,
            reason,
            len(rules),
            len(cascade_ids),
            " and the summaries" if in_topic else "",
        )

    async def activate(self, chat_id: int, kind: str, title: str) -> bool:
        """Record a chat as reachable (/start, or the bot added back); restore what it had.

        Return True if the chat had been disabled.
        """
        was_inactive = chat_id in await self._store.inactive_chats()
        await self._store.upsert_chat(chat_id, kind, title, active=True)
        if was_inactive:
            for rule in await self._store.rules_of(chat_id):
                self._rules.add(rule)
            schedule = await self._store.schedule_of(chat_id)
            if schedule is not None:
                self.scheduler.set(schedule)
            if self._cascades is not None:
                self._cascades.add_rules(await self._store.load_cascade_rules(chat_id=chat_id))
        return was_inactive
