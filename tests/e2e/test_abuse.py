"""Abuse: command floods, huge arguments, injection attempts; permissions stay tight."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from bot.prefs.chats import ChatPrefs
from bot.render import chat
from bot.settings import bot_sibling
from tests.e2e.test_telegram import USER, running_bot
from tests.support.bot_api import FakeBotApi

OTHER = 222


async def test_a_command_flood_is_cut_off_with_one_answer(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api, commands_per_minute=5) as h:
        api.add_private_chat(USER)
        api.add_private_chat(OTHER)
        for i in range(12):
            api.push_text(USER, USER, f"/subscribe C{i}")
        await api.wait_until(lambda: len(api.calls_to("sendMessage", chat_id=USER)) >= 6)
        assert await h.command(OTHER, OTHER, "/subs") == chat.rules_list(
            [], None, prefs=ChatPrefs(OTHER)
        )  # unaffected
        texts = [str(c.params["text"]) for c in api.calls_to("sendMessage", chat_id=USER)]
        assert len(texts) == 6  # five commands answered, one refusal, then silence
        assert texts[5].startswith("⚠️ too many commands: at most 5 a minute; try again in ")
        assert len(h.bot.services.rules.rules_for(USER)) == 5


async def test_button_presses_count_against_the_command_limit(tmp_path: Path) -> None:
    async with FakeBotApi() as api, running_bot(tmp_path, api, commands_per_minute=3) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/top")  # one command: two presses left this minute
        [top] = api.calls_to("sendMessage", chat_id=USER)
        mark = api.mark()
        for _ in range(6):
            api.push_callback_query(USER, USER, top.result["message_id"], "top:3600")
        answers = await api.wait_for("answerCallbackQuery", count=6, since=mark)
        # Two presses served (one edit: the second shows the same view), then one refusal
        # shown as an alert, then quiet refusals: every press is answered, none crashes.
        assert [a.params.get("show_alert") for a in answers][2:] == [True, False, False, False]
        assert str(answers[2].params["text"]).startswith(
            "⚠️ too many commands: at most 3 a minute; try again in "
        )
        assert len(api.calls_to("editMessageText", since=mark, status=200)) == 1


async def test_huge_and_hostile_arguments_get_short_valid_answers(tmp_path: Path) -> None:
    hostile = [
        "/subscribe " + "X" * 10_000,
        "/subscribe <script>alert(1)</script>",
        "/stats '; DROP TABLE bot_rules;--",
        "/latest 5 <b>",
        "/top 1h <i>",
        '/summary daily "><',
        "/unsubscribe &amp;",
        "/subscribe BTC 1e999",
        "/subscribe \u202e\u0000BTC",
    ]
    async with FakeBotApi() as api, running_bot(tmp_path, api) as h:
        api.add_private_chat(USER)
        await h.command(USER, USER, "/subscribe BTC 10k")
        for command in hostile:
            reply = await h.command(USER, USER, command)
            assert reply.startswith("⚠️ "), (command, reply)  # a usage line, not a crash
            assert len(reply) < 300, command
        assert api.calls_with_status(400) == []  # every answer was valid Telegram HTML
        assert len(h.bot.services.rules.rules_for(USER)) == 1
    with sqlite3.connect(bot_sibling(tmp_path / "bot.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM bot_rules").fetchone() == (1,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert stat.S_IMODE((tmp_path / "bot.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(bot_sibling(tmp_path / "bot.db").stat().st_mode) == 0o600
