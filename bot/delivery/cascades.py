"""Post one message per liquidation cascade and edit it in place as the cascade grows.

The detector (`bot.rules.detector`) says when a cascade starts, grows and ends; this module
turns that into Telegram messages: sendMessage when one starts, editMessageText at most every
few seconds while it grows (a burst of a thousand liquidations is a few edits, not a thousand
alerts), and a last edit with the final line when it ends. Open messages are stored, so after a
restart the bot keeps editing them (the detector is warmed with the recent events) or, if the
cascade did not survive the restart, closes them with a line saying so.

Telegram's answers are classified by `bot.delivery.outcome` through the `Sender`: a chat that is
gone stops (as for alerts); a migrated group is handed to the chat directory; 429 waits
`retry_after`; an edit to the same content is success; refused HTML goes as plain text; a message
that can no longer be edited (deleted, too old) is replaced by a new one; a send that timed out
is not repeated (it may have arrived) and that cascade is no longer followed; an edit that timed
out is not repeated either (the cascade's next change edits again); one that met a network error
is tried again after the jittered delivery backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from telegram import Bot

from bot.delivery.outcome import Outcome
from bot.delivery.ports import ChatEvents, ChatPrefsView
from bot.delivery.sender import Delivery, Sender
from bot.render import cascades
from bot.rules.cascade import Cascade, CascadeRule, Change, ChangeKind
from bot.rules.detector import CascadeDetector
from bot.tables.bot_store import BotStore
from collectors.clock import now_ms
from collectors.record import Liquidation
from collectors.sqlite import uncancelled

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CascadeStats:
    """What the notifier did."""

    started: int = 0
    messages_sent: int = 0
    edits: int = 0
    ended: int = 0
    replaced: int = 0  # a message could no longer be edited: a new one was sent
    abandoned: int = 0  # a send timed out or was refused: that cascade is no longer followed
    orphaned: int = 0  # open at a restart, not active after it: closed with a note


@dataclass(slots=True)
class _Post:
    cascade: Cascade
    message_id: int | None = None
    dirty: bool = True
    next_at: float = 0.0
    attempts: int = 0


@dataclass(slots=True)
class CascadeNotifier:
    """A collectors listener and a loop: detector changes in, cascade messages out."""

    bot: Bot
    detector: CascadeDetector
    store: BotStore
    prefs: ChatPrefsView
    events: ChatEvents
    private_edit_s: float = 3.0  # between two versions of one cascade message
    group_edit_s: float = 6.0  # edits count against a group's 20 messages a minute
    private_gap_s: float = 1.0  # between any two cascade calls to one chat
    group_gap_s: float = 3.0  # 20 a minute: several cascades of a group take turns
    tick_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], int] = now_ms
    stats: CascadeStats = field(default_factory=CascadeStats)
    sender: Sender | None = None  # by default one of its own, reporting chats to `events`
    _send: Sender = field(init=False)
    _posts: dict[tuple[int, int, str], _Post] = field(default_factory=dict)
    _chat_next: dict[int, float] = field(default_factory=dict)  # a chat's next free moment
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _finishing: bool = False

    def __post_init__(self) -> None:
        self._send = self.sender if self.sender is not None else Sender(self.bot, self.events)

    # --- input ------------------------------------------------------------------------------

    def on_liquidation(self, record: Liquidation) -> None:
        """Feed a live event to the detector (never raises: the collectors must go on)."""
        try:
            self._note(self.detector.add(record))
        except Exception:
            log.exception("cascade detection failed on %s %s", record.exchange, record.symbol)

    def _note(self, changes: Iterable[Change]) -> None:
        for change in changes:
            cascade = change.cascade
            post = self._posts.get(cascade.key)
            if change.kind is ChangeKind.STARTED:
                self.stats.started += 1
                post = self._posts[cascade.key] = _Post(cascade)
                self._wake.set()  # a new cascade goes out at once
            elif post is None or post.cascade is not cascade:
                continue  # a cascade this notifier no longer follows
            post.dirty = True
            if change.kind is ChangeKind.ENDED:
                self.stats.ended += 1
                post.next_at = 0.0  # the final line goes out at once
                self._wake.set()

    def add_rules(self, rules: Iterable[CascadeRule]) -> None:
        """Follow new (or restored) cascade rules."""
        for rule in rules:
            self.forget_rules(rule.chat_id, [rule.rule_id])
            self.detector.add_rule(rule)

    def remove_rules(self, chat_id: int, rule_ids: Iterable[int]) -> None:
        """Stop detecting and following these rules' cascades (their messages stay as they are)."""
        ids = list(rule_ids)
        self.detector.remove_rules(chat_id, ids)
        self.forget_rules(chat_id, ids)

    def drop_chat(self, chat_id: int) -> None:
        """Stop detecting and following a chat's cascades (it blocked or removed the bot)."""
        self.detector.remove_chat(chat_id)
        self.forget_chat(chat_id)

    def drop_topic(self, chat_id: int, topic: int) -> list[int]:
        """Stop detecting and following the cascade rules set in a deleted forum topic;
        return their ids."""
        ids = [r.rule_id for r in self.detector.rules() if (r.chat_id, r.topic) == (chat_id, topic)]
        self.remove_rules(chat_id, ids)
        return ids

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Re-key a migrated group's rules; its open cascades start afresh under the new id."""
        moved = [r for r in self.detector.rules() if r.chat_id == old_chat_id]
        self.drop_chat(old_chat_id)
        self.add_rules(dataclasses.replace(rule, chat_id=new_chat_id) for rule in moved)

    def forget_chat(self, chat_id: int) -> None:
        """Stop following a chat's cascades (it blocked the bot or its rules were removed)."""
        for key in [key for key in self._posts if key[0] == chat_id]:
            del self._posts[key]
        self._chat_next.pop(chat_id, None)

    def forget_rules(self, chat_id: int, rule_ids: Iterable[int]) -> None:
        """Stop following the cascades of removed rules."""
        ids = set(rule_ids)
        for key in [key for key in self._posts if key[0] == chat_id and key[1] in ids]:
            del self._posts[key]

    def active(self) -> int:
        """Return how many cascade messages are being followed."""
        return len(self._posts)

    # --- start and run ----------------------------------------------------------------------

    def warm(self, recent: Iterable[Liquidation]) -> None:
        """Replay the recent events (the longest cascade window) into the detector, silently.

        Call it before `on_liquidation` is registered, with no await in between, so every event
        is counted exactly once.
        """
        self.detector.warm(recent)
        # Bring the windows to now: a cascade that ended while the bot was down is not active,
        # so `adopt` closes its message as no longer followed.
        self.detector.tick(self.wall_clock())

    async def adopt(self) -> None:
        """Keep editing the stored messages of cascades still active; close the others."""
        active = {cascade.key: cascade for cascade in self.detector.active()}
        now_ms = self.wall_clock()
        for key, message_id, _started_ms, body in await self.store.load_cascade_messages():
            cascade = active.get(key)
            if cascade is not None:
                self._posts[key] = _Post(cascade, message_id)
                continue
            self.stats.orphaned += 1
            text = cascades.cascade_orphaned(body, now_ms, loc=self.prefs.locale(key[0]))
            done = await self._send.once(self._send.edit(key[0], message_id, text))
            if done.outcome is not Outcome.SENT:
                log.warning("could not close cascade message %s: %s", key, done.result.detail)
            await self.store.delete_cascade_message(key)

    async def run(self) -> None:
        """Adopt the stored messages, then tick the detector about once a second and send
        what is due, until cancelled or told to `finish`."""
        try:
            await self.adopt()
        except Exception:  # e.g. the database is busy: the cascades themselves go on
            log.exception("could not adopt the cascade messages of the last run")
        while not self._finishing:
            # Cleared before the round, not after: a cascade that starts (or ends) while this
            # round sends goes out right after it, not a tick later.
            self._wake.clear()
            try:
                self._note(self.detector.tick(self.wall_clock()))
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end cascade alerts for good
                log.exception("cascade notifier round failed")
            if self._finishing:
                break
            try:
                async with asyncio.timeout(self.tick_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def finish(self) -> None:
        """End `run` after the round in progress: a message being sent then is on record when
        it returns, for the next start to adopt (cancelled, its id would be lost and the next
        start would send the cascade again as a new message)."""
        self._finishing = True
        self._wake.set()

    async def flush(self) -> None:
        """Send or edit the cascade messages that changed and whose pace allows it.

        Each chat gets at most one call per gap: a new cascade before an edit, then the message
        that waited longest, so a group with many cascades sees each of them updated in turn
        rather than going over Telegram's limit.
        """
        now = self.clock()
        due = sorted(
            (
                (post.message_id is not None, post.next_at, key)
                for key, post in self._posts.items()
                if post.dirty and post.next_at <= now
            ),
        )
        served: set[int] = set()
        for _, _, key in due:
            chat_id = key[0]
            if chat_id in served or self._chat_next.get(chat_id, 0.0) > now:
                continue
            post = self._posts.get(key)
            if post is None or not post.dirty:
                continue  # dropped or sent by a call above
            served.add(chat_id)
            await self._publish(key, post)
            gap = self.group_gap_s if chat_id < 0 else self.private_gap_s
            self._chat_next[chat_id] = self.clock() + gap

    # --- output -----------------------------------------------------------------------------

    def _interval(self, chat_id: int) -> float:
        return self.group_edit_s if chat_id < 0 else self.private_edit_s

    async def _publish(self, key: tuple[int, int, str], post: _Post) -> None:
        chat_id = key[0]
        loc = self.prefs.locale(chat_id)
        snap = post.cascade.snapshot()
        text = cascades.cascade(snap, loc=loc)
        post.dirty = False  # changes during the call below mark it again
        if post.message_id is None:
            quiet = self.prefs.quiet_until_ms(chat_id, self.wall_clock()) is not None
            topic = post.cascade.rule.topic  # the forum topic the rule was set in, if any
            call = self._send.message(chat_id, text, silent=quiet, topic=topic)
            done = await self._send.once(call)
        else:
            done = await self._send.once(self._send.edit(chat_id, post.message_id, text))
        if done.outcome is not Outcome.SENT:
            self._failed(key, post, done)
            return
        if post.message_id is None:
            assert done.message is not None  # sendMessage returns the message
            post.message_id = done.message.message_id
            self.stats.messages_sent += 1
        else:
            self.stats.edits += 1
        post.attempts = 0
        post.next_at = self.clock() + self._interval(chat_id)
        # To its end even if the bot stops meanwhile (the stop closes the store after this task
        # has ended): a message Telegram has must be on record, or the next start could neither
        # edit nor close it.
        if snap.ended_ms is not None:
            self._posts.pop(key, None)
            await uncancelled(self.store.delete_cascade_message(key))
        else:
            body = cascades.cascade_body(snap, loc=loc)
            await uncancelled(
                self.store.save_cascade_message(key, post.message_id, snap.started_ms, body)
            )

    def _failed(self, key: tuple[int, int, str], post: _Post, done: Delivery) -> None:
        chat_id = key[0]
        post.dirty = True
        result = done.result
        outcome = result.outcome
        if outcome in (Outcome.GONE, Outcome.MIGRATED):
            self.forget_chat(chat_id)  # the sender told the chat directory
        elif outcome is Outcome.TOPIC_GONE:
            self._abandon(key)  # the sender told the chat directory, which drops the rule
        elif outcome is Outcome.RETRY_AFTER:
            post.next_at = self.clock() + result.delay_s
        elif outcome is Outcome.LOST:
            self.stats.replaced += 1
            post.message_id = None  # deleted or too old to edit: post it anew
        elif outcome is Outcome.UNCERTAIN and post.message_id is None:
            self._abandon(key)  # it may have arrived: never posted twice
        elif outcome is Outcome.UNCERTAIN:
            # The edit may have arrived: not repeated; the cascade's next change edits again.
            post.dirty = False
            post.next_at = self.clock() + self._interval(chat_id)
        elif outcome is Outcome.NETWORK:
            post.next_at = self.clock() + self._send.backoff.delay(post.attempts)
            post.attempts += 1
        else:  # refused (logged by the sender)
            self._abandon(key)

    def _abandon(self, key: tuple[int, int, str]) -> None:
        self.stats.abandoned += 1
        self._posts.pop(key, None)
