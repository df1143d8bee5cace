"""Every sender under the one outcome policy, end to end through the local Bot API stand-in.

Six senders, each in its own group: an alert, a scheduled summary, a command reply, a cascade
post, a cascade edit and a button edit. For each Telegram answer (with the exact error bodies of
the official server) the same rule holds for all of them: refused HTML is sent again as plain
text, "message is not modified" is success, a timeout is never resent, a 403 marks the chat
gone (its rules stop), and a migrated group takes its rules to the supergroup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.prefs.schedules import Schedule
from bot.render.html import plain_text
from tests.e2e.test_telegram import ADMIN as BOT_ADMIN
from tests.e2e.test_telegram import Harness, running_bot
from tests.support import bot_api_objects as tg
from tests.support.bot_api import FakeBotApi
from tests.support.bot_api_objects import Call

ADMIN = 401
PARSE_ERROR = 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'
Step = Callable[[Harness, int], Awaitable[None]]


async def _nothing(h: Harness, chat: int) -> None:
    pass


async def _subscribe_eth(h: Harness, chat: int) -> None:
    await h.command(chat, ADMIN, "/subscribe ETH 10k")


async def _alert(h: Harness, chat: int) -> None:
    h.event("ETHUSDT", "SELL", "10", "3000")  # $30K


async def _summary(h: Harness, chat: int) -> None:
    await h.bot.services.scheduler.send_summary(Schedule(chat, every_s=3600))


async def _reply(h: Harness, chat: int) -> None:
    h.api.push_text(chat, ADMIN, "/help")


async def _follow_sol(h: Harness, chat: int) -> None:
    await h.command(chat, ADMIN, "/cascade SOL 100k 1h")


async def _cascade_post(h: Harness, chat: int) -> None:
    h.event("SOLUSDT", "SELL", "1000", "150")  # $150K: a cascade starts


async def _open_xrp_cascade(h: Harness, chat: int) -> None:
    await h.command(chat, ADMIN, "/cascade XRP 100k 1h")
    mark = h.api.mark()
    h.event("XRPUSDT", "SELL", "100000", "2")  # $200K: the message to edit
    await h.api.wait_for("sendMessage", lambda c: c.chat_id == chat and c.status == 200, since=mark)


async def _cascade_edit(h: Harness, chat: int) -> None:
    h.event("XRPUSDT", "SELL", "10000", "2")  # +$20K: the message is edited


async def _top(h: Harness, chat: int) -> None:
    await h.command(chat, ADMIN, "/top")


def _top_message(h: Harness, chat: int) -> tuple[int, list[str]]:
    """Return the /top message's id and its buttons' data, the current window first."""
    [message] = [m for m in h.api.bot_messages(chat) if m.reply_markup]
    buttons = [b for row in message.reply_markup["inline_keyboard"] for b in row]  # type: ignore[index]
    buttons.sort(key=lambda b: not str(b["text"]).startswith("•"))
    return int(message.data["message_id"]), [str(b["callback_data"]) for b in buttons]


async def _press_other_window(h: Harness, chat: int) -> None:
    message_id, data = _top_message(h, chat)
    h.api.push_callback_query(chat, ADMIN, message_id, data[1])


async def _press_current_window(h: Harness, chat: int) -> None:
    message_id, data = _top_message(h, chat)
    h.api.push_callback_query(chat, ADMIN, message_id, data[0])


@dataclass(frozen=True)
class Route:
    """One sender: its chat, what it needs first, what makes it call, and the method called."""

    name: str
    chat: int
    method: str
    prepare: Step
    fire: Step
    edits: bool = False


ROUTES = (
    Route("alert", -4601, "sendMessage", _subscribe_eth, _alert),
    Route("summary", -4602, "sendMessage", _nothing, _summary),
    Route("reply", -4603, "sendMessage", _nothing, _reply),
    Route("cascade post", -4604, "sendMessage", _follow_sol, _cascade_post),
    Route("cascade edit", -4605, "editMessageText", _open_xrp_cascade, _cascade_edit, True),
    Route("button edit", -4606, "editMessageText", _top, _press_other_window, True),
)


async def _prepared(h: Harness, routes: tuple[Route, ...] = ROUTES) -> None:
    """Give every route's group an admin and a rule (so gone and moved chats can be seen)."""
    for route in routes:
        h.api.add_group(route.chat)
        h.api.add_admin(route.chat, ADMIN)
        await h.command(route.chat, ADMIN, "/subscribe DOGE 10k")
        await route.prepare(h, route.chat)


async def _fired(h: Harness, routes: tuple[Route, ...] = ROUTES) -> None:
    for route in routes:
        await route.fire(h, route.chat)


def in_chat(chat: int, status: int | None = None) -> Callable[[Call], bool]:
    """Return a predicate for calls in one chat (and with one status)."""
    return lambda call: call.chat_id == chat and status in (None, call.status)


def _outcomes(h: Harness) -> dict[str, int]:
    return h.bot.services.dispatcher.sender.stats.outcomes


async def test_refused_markup_is_resent_as_plain_text_by_every_sender(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        await _prepared(h)
        mark = api.mark()
        for route in ROUTES:
            api.fail_next(route.method, 400, PARSE_ERROR, chat_id=route.chat)
        await _fired(h)
        for route in ROUTES:
            refused, resent = await api.wait_for(
                route.method, in_chat(route.chat), count=2, since=mark
            )
            assert (refused.status, resent.status) == (400, 200), route.name
            assert refused.params["parse_mode"] == "HTML", route.name
            assert "parse_mode" not in resent.params, route.name
            assert resent.params["text"] == plain_text(str(refused.params["text"])), route.name
        assert h.bot.services.dispatcher.sender.stats.plain_text_resends == len(ROUTES)


async def test_an_unchanged_edit_is_success(tmp_path: Path) -> None:
    edits = tuple(route for route in ROUTES if route.edits)
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        await _prepared(h, edits)
        mark = api.mark()
        cascade, button = edits
        # Telegram's answer when the text is unchanged. The button's own re-render is not left
        # to the fake's comparison: /top says "as of" to the second, so a press in the next
        # second is a real change (that made this test fail on a slow run).
        for route in edits:
            api.fail_next("editMessageText", 400, tg.NOT_MODIFIED, chat_id=route.chat)
        await cascade.fire(h, cascade.chat)
        await _press_current_window(h, button.chat)
        await api.wait_for("answerCallbackQuery", since=mark)
        stats = h.bot.services.cascades.stats
        await api.wait_until(lambda: stats.edits == 1)
        for route in edits:
            [call] = api.calls_to("editMessageText", chat_id=route.chat, since=mark)
            assert (call.status, call.response["description"]) == (400, tg.NOT_MODIFIED)
        assert (stats.abandoned, stats.replaced) == (0, 0)
        assert _outcomes(h).get("failed", 0) == 0
        assert h.bot.services.rules.rules_for(button.chat) != []


async def test_a_timeout_is_never_resent(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        await _prepared(h)
        mark = api.mark()
        for route in ROUTES:
            api.hang_next(route.method, chat_id=route.chat)  # delivered, never answered
        await _fired(h)
        # python-telegram-bot's 5 s read timeout: every sender gives the call up as uncertain.
        await api.wait_until(lambda: _outcomes(h).get("uncertain", 0) == len(ROUTES), timeout=20)
        api.release_hung()
        for route in ROUTES:
            first, *later = api.calls_to(route.method, chat_id=route.chat, since=mark)
            assert first.status == 200, route.name  # Telegram had it ...
            again = [c for c in later if c.params["text"] == first.params["text"]]
            assert again == [], route.name  # ... and the bot never asked again
        assert h.bot.services.dispatcher.stats.alerts_uncertain == 1
        assert h.bot.services.cascades.stats.abandoned == 1  # the post; the edit waits a change


@pytest.mark.parametrize("description", [tg.kicked_from("group"), tg.CHAT_NOT_FOUND])
async def test_a_gone_chat_is_marked_gone_by_every_sender(tmp_path: Path, description: str) -> None:
    status = 403 if description.startswith("Forbidden") else 400
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        await _prepared(h)
        mark = api.mark()
        for route in ROUTES:
            api.fail_next(route.method, status, description, chat_id=route.chat)
        await _fired(h)
        rules = h.bot.services.rules
        await api.wait_until(lambda: all(rules.rules_for(r.chat) == [] for r in ROUTES))
        assert set(await h.bot.services.store.inactive_chats()) >= {r.chat for r in ROUTES}
        assert [r.chat_id for r in h.bot.services.cascades.detector.rules()] == []
        for route in ROUTES:
            [call] = api.calls_to(route.method, chat_id=route.chat, since=mark)
            assert call.status == status, route.name  # refused once, never tried again


async def test_a_migrated_group_takes_its_rules_along_from_every_sender(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        await _prepared(h)
        for route in ROUTES:
            api.migrate(route.chat, route.chat - 1_000_000_000_000)
        await _fired(h)
        rules = h.bot.services.rules

        def moved(route: Route) -> bool:
            new = route.chat - 1_000_000_000_000
            return rules.rules_for(route.chat) == [] and rules.rules_for(new) != []

        await api.wait_until(lambda: all(moved(r) for r in ROUTES), timeout=10)
        cascade_chats = sorted(r.chat_id for r in h.bot.services.cascades.detector.rules())
        assert cascade_chats == [-1000000004605, -1000000004604]
        # Messages that were refused at the old id went to the supergroup.
        for route in ROUTES[:3]:
            new = route.chat - 1_000_000_000_000
            await api.wait_for("sendMessage", in_chat(new, status=200))


async def test_a_reply_and_a_button_edit_are_retried_after_network_errors(tmp_path: Path) -> None:
    reply, button = ROUTES[2], ROUTES[5]
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        await _prepared(h, (reply, button))
        mark = api.mark()
        api.fail_next_raw("sendMessage", 502, chat_id=reply.chat)
        api.fail_next("editMessageText", 500, "Internal Server Error", chat_id=button.chat)
        await _fired(h, (reply, button))
        for route in (reply, button):
            failed, retried = await api.wait_for(
                route.method, in_chat(route.chat), count=2, since=mark, timeout=10
            )
            assert (failed.status, retried.status) == (502 if route is reply else 500, 200)
            assert retried.params["text"] == failed.params["text"]
            assert retried.at - failed.at >= 0.5  # the jittered backoff's first step
        assert h.bot.services.dispatcher.sender.stats.retries == 2


async def test_status_shows_the_supervised_background_tasks(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(BOT_ADMIN)
        status = await h.command(BOT_ADMIN, BOT_ADMIN, "/status")
        # dispatcher, alert journal, cascades, and the one feed: none has failed.
        assert "background tasks: 4 supervised, 0 failures" in status
        assert sorted(h.bot.supervisor.tasks) == ["alert-journal", "cascades", "dispatcher"]
