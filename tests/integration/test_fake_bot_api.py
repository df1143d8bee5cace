"""The fake Bot API driven by the real python-telegram-bot Application, ExtBot and rate limiter."""

from __future__ import annotations

import asyncio
import html
import io
import logging
import math
import struct
import time
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from tests.support.bot_api import FakeBotApi
from tests.support.bot_api_objects import (
    BLOCKED_BY_USER,
    CANT_INITIATE,
    GROUP_MIGRATED,
    NOT_MODIFIED,
    USER_DEACTIVATED,
    kicked_from,
    member_json,
    not_member_of,
)
from tests.support.flood import FloodLimits
from tests.support.ptb import ErrorLog, builder_for, polling

# PTB itself warns when it builds RetryAfter (retry_after will become a timedelta in v23).
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")

USER = 111
OTHER_USER = 222
GROUP = -1001000000001
CHANNEL = -1001000000002


def png(width: int, height: int) -> bytes:
    """Return a valid RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + b"\xf7\x93\x1a" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


async def test_start_reaches_the_command_handler_and_the_reply_is_recorded(
    api: FakeBotApi,
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None
        assert update.effective_message is not None
        name = html.escape(update.effective_user.first_name)
        await update.effective_message.reply_text(
            f"<b>Welcome</b>, {name}", parse_mode=ParseMode.HTML
        )

    api.add_private_chat(USER, "Ann <3")
    app = builder_for(api).build()
    app.add_handler(CommandHandler("start", start))
    errors = ErrorLog()
    app.add_error_handler(errors)
    async with polling(app):
        update = api.push_text(USER, USER, "/start")
        [call] = await api.wait_for("sendMessage")

    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert call.params == {
        "chat_id": USER,
        "text": "<b>Welcome</b>, Ann &lt;3",
        "parse_mode": "HTML",
    }
    assert call.status == 200
    assert call.result["text"] == "Welcome, Ann <3"
    assert call.result["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    assert call.result["from"]["id"] == api.bot_id
    assert api.sent_texts(USER) == ["<b>Welcome</b>, Ann &lt;3"]
    assert api.method_names() == ["getMe", "deleteWebhook", "sendMessage"]
    assert errors.errors == []


async def test_command_addressed_to_this_bot_by_name_matches_and_to_another_bot_does_not(
    api: FakeBotApi,
) -> None:
    seen: list[str] = []

    async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        assert update.effective_message.text
        seen.append(update.effective_message.text)
        await update.effective_message.reply_text("up")

    api.add_group(GROUP, "Traders")
    app = builder_for(api).build()
    app.add_handler(CommandHandler("status", status))
    async with polling(app):
        # Updates are handled in order, so the reply to the second proves the first was skipped.
        api.push_text(GROUP, USER, "/status@someone_else_bot")
        pushed = api.push_text(GROUP, USER, "/status@liquidation_test_bot now")
        await api.wait_for("sendMessage")

    entities = pushed["message"]["entities"]
    assert entities == [{"type": "bot_command", "offset": 0, "length": 28}]
    assert seen == ["/status@liquidation_test_bot now"]
    assert api.sent_texts(GROUP) == ["up"]


async def test_admin_checks_through_get_chat_member_and_anonymous_admins(api: FakeBotApi) -> None:
    async def set_threshold(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None
        assert chat is not None
        assert message.from_user is not None
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            verdict = "anonymous admin"
        else:
            member = await context.bot.get_chat_member(chat.id, message.from_user.id)
            verdict = member.status
        await message.reply_text(verdict)

    api.add_group(GROUP, "Traders")
    api.add_admin(GROUP, USER, can_promote_members=False)
    api.set_member(GROUP, OTHER_USER, "member")
    api.add_admin(GROUP, 333, owner=True)
    app = builder_for(api).build()
    app.add_handler(CommandHandler("setthreshold", set_threshold))
    async with polling(app):
        api.push_text(GROUP, USER, "/setthreshold 100000")
        api.push_text(GROUP, OTHER_USER, "/setthreshold 1")
        api.push_text(GROUP, None, "/setthreshold 5", anonymous_admin=True)
        await api.wait_for("sendMessage", count=3)
        admins = await app.bot.get_chat_administrators(GROUP)

    assert api.sent_texts(GROUP) == ["administrator", "member", "anonymous admin"]
    [admin_call, member_call] = api.calls_to("getChatMember")
    assert admin_call.params == {"chat_id": GROUP, "user_id": USER}
    assert admin_call.result["can_promote_members"] is False
    assert admin_call.result["can_delete_messages"] is True
    assert member_call.result == {"status": "member", "user": api.users[OTHER_USER]}
    assert [(a.user.id, a.status) for a in admins] == [(USER, "administrator"), (333, "creator")]


async def test_flood_wait_raises_retry_after_with_the_exact_body(api: FakeBotApi, bot: Bot) -> None:
    api.add_private_chat(USER)
    api.flood_next("sendMessage", retry_after=1)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "alert")

    assert caught.value.retry_after == 1
    [call] = api.calls_to("sendMessage")
    assert call.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert api.bot_messages(USER) == []


async def test_aio_rate_limiter_retries_after_the_flood_wait(api: FakeBotApi) -> None:
    api.add_private_chat(USER)
    api.flood_next("sendMessage", retry_after=1)
    limiter = AIORateLimiter(max_retries=1)
    rate_limited = ExtBot(
        api.token, base_url=api.base_url, base_file_url=api.base_file_url, rate_limiter=limiter
    )
    async with rate_limited:
        message = await rate_limited.send_message(USER, "alert")

    first, second = api.calls_to("sendMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0
    assert message.text == "alert"
    assert api.sent_texts(USER) == ["alert"]


@pytest.mark.parametrize(
    ("chat_type", "setup", "description"),
    [
        ("private", "blocked", BLOCKED_BY_USER),
        ("private", "deactivated", USER_DEACTIVATED),
        ("private", "never started", CANT_INITIATE),
        ("group", "kicked", kicked_from("group")),
        ("supergroup", "kicked", kicked_from("supergroup")),
        ("channel", "kicked", kicked_from("channel")),
        ("supergroup", "left", not_member_of("supergroup")),
        ("channel", "left", not_member_of("channel")),
    ],
)
async def test_forbidden_chats_raise_forbidden_with_the_exact_message(
    api: FakeBotApi, bot: Bot, chat_type: str, setup: str, description: str
) -> None:
    chat_id = {"private": USER, "group": -4001, "supergroup": GROUP, "channel": CHANNEL}[chat_type]
    if setup == "never started":
        api.add_user(USER)
    else:
        api.add_chat(chat_id, chat_type)
    if setup == "deactivated":
        api.deactivate_user(USER)
    elif setup in ("blocked", "kicked", "left"):
        api.set_bot_status(chat_id, "kicked" if setup == "blocked" else setup)

    with pytest.raises(Forbidden) as caught:
        await bot.send_message(chat_id, "alert")

    assert str(caught.value) == description
    [call] = api.calls_to("sendMessage")
    assert call.response == {"ok": False, "error_code": 403, "description": description}


async def test_scripted_failure_hits_only_the_chosen_chat(api: FakeBotApi, bot: Bot) -> None:
    api.add_private_chat(USER)
    api.add_private_chat(OTHER_USER)
    api.fail_next("sendMessage", 403, BLOCKED_BY_USER, chat_id=OTHER_USER)

    await bot.send_message(USER, "one")
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
        await bot.send_message(OTHER_USER, "two")
    await bot.send_message(OTHER_USER, "three")

    assert [(c.chat_id, c.status) for c in api.calls_to("sendMessage")] == [
        (USER, 200),
        (OTHER_USER, 403),
        (OTHER_USER, 200),
    ]


async def test_migrated_group_raises_chat_migrated_and_service_messages_arrive(
    api: FakeBotApi,
) -> None:
    migrations: list[tuple[int, int | None, int | None]] = []

    async def migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        migrations.append(
            (message.chat.id, message.migrate_to_chat_id, message.migrate_from_chat_id)
        )

    old, new = -4001, -1009876543210
    api.add_group(old, "Traders")
    app = builder_for(api).build()
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
    async with polling(app):
        api.push_migration(old, new, user_id=USER)
        await api.wait_until(lambda: len(migrations) == 2)
        with pytest.raises(ChatMigrated) as caught:
            await app.bot.send_message(old, "alert")
        await app.bot.send_message(caught.value.new_chat_id, "alert")

    assert migrations == [(old, new, None), (new, None, old)]
    assert caught.value.new_chat_id == new
    [refused, delivered] = api.calls_to("sendMessage")
    assert refused.response == {
        "ok": False,
        "error_code": 400,
        "description": GROUP_MIGRATED,
        "parameters": {"migrate_to_chat_id": new},
    }
    assert (delivered.chat_id, delivered.status) == (new, 200)
    assert api.chat(new).type == "supergroup"


async def test_text_and_caption_limits_count_after_entity_parsing(
    api: FakeBotApi, bot: Bot
) -> None:
    api.add_private_chat(USER)
    longest = "<b>" + "x" * 4096 + "</b>"  # 4103 characters sent, 4096 after parsing

    message = await bot.send_message(USER, longest, parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest) as too_long:
        await bot.send_message(USER, "x" * 4097)
    with pytest.raises(BadRequest) as caption_too_long:
        await bot.send_photo(USER, png(1, 1), caption="c" * 1025)

    assert message.text == "x" * 4096
    assert str(too_long.value) == "Message is too long"
    assert str(caption_too_long.value) == "Message caption is too long"
    assert api.calls_to("sendMessage")[1].description == "Bad Request: message is too long"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<b>BTC", "Can't parse entities: can't find end tag corresponding to start tag \"b\""),
        ("price < 100", 'Can\'t parse entities: unsupported start tag "" at byte offset 6'),
        ("<foo>x</foo>", 'Can\'t parse entities: unsupported start tag "foo" at byte offset 0'),
        (
            "<b>x</i>",
            "Can't parse entities: unmatched end tag at byte offset 4, "
            'expected "</b>", found "</i>"',
        ),
        ("AT&T", 'Can\'t parse entities: unescaped "&" at byte offset 2'),
    ],
)
async def test_bad_html_is_refused_like_telegram(
    api: FakeBotApi, bot: Bot, text: str, message: str
) -> None:
    api.add_private_chat(USER)

    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, text, parse_mode=ParseMode.HTML)

    assert str(caught.value) == message
    assert api.bot_messages(USER) == []


async def test_send_photo_keeps_the_uploaded_png_and_its_file_id_can_be_resent(
    api: FakeBotApi, bot: Bot
) -> None:
    api.add_private_chat(USER)
    api.add_channel(CHANNEL, "Liquidations")
    chart = io.BytesIO(png(320, 200))
    chart.name = "chart.png"

    first = await bot.send_photo(USER, chart, caption="<b>BTC</b> longs", parse_mode=ParseMode.HTML)
    again = await bot.send_photo(CHANNEL, first.photo[-1].file_id)
    downloaded = await (await bot.get_file(first.photo[-1].file_id)).download_as_bytearray()

    [upload] = api.sent_photos(USER)
    assert (upload.field, upload.filename, upload.content_type) == (
        "photo",
        "chart.png",
        "image/png",
    )
    assert upload.data == chart.getvalue()
    assert upload.data[12:16] == b"IHDR"
    assert struct.unpack(">II", upload.data[16:24]) == (320, 200)
    assert api.calls_to("sendPhoto")[0].params == {
        "chat_id": USER,
        "caption": "<b>BTC</b> longs",
        "parse_mode": "HTML",
    }
    assert (first.caption, first.photo[-1].width, first.photo[-1].height) == ("BTC longs", 320, 200)
    assert bytes(downloaded) == upload.data
    assert api.sent_photos(CHANNEL) == []  # a file_id re-send uploads nothing
    assert api.message(CHANNEL, again.message_id).upload == upload


async def test_inline_button_answers_the_query_edits_and_a_repeat_is_not_modified(
    api: FakeBotApi,
) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Unsubscribe", callback_data="unsub:7")]]
    )
    edit_errors: list[str] = []

    async def subscriptions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("BTC ≥ $100k", reply_markup=keyboard)

    async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Done")
        try:
            await query.edit_message_text(
                "<i>Unsubscribed</i>", parse_mode="HTML", reply_markup=keyboard
            )
        except BadRequest as exc:
            edit_errors.append(str(exc))

    api.add_private_chat(USER)
    app = builder_for(api).build()
    app.add_handler(CommandHandler("subscriptions", subscriptions))
    app.add_handler(CallbackQueryHandler(unsubscribe, pattern=r"^unsub:"))
    async with polling(app):
        api.push_text(USER, USER, "/subscriptions")
        [sent] = await api.wait_for("sendMessage")
        message_id = sent.result["message_id"]
        api.push_callback_query(USER, USER, message_id, "unsub:7")
        api.push_callback_query(USER, USER, message_id, "unsub:7")
        await api.wait_for("editMessageText", count=2)
        await api.wait_until(lambda: len(edit_errors) == 1)

    assert [c.params for c in api.calls_to("answerCallbackQuery")] == [
        {"callback_query_id": "1", "text": "Done"},
        {"callback_query_id": "2", "text": "Done"},
    ]
    edited, repeated = api.calls_to("editMessageText")
    assert (edited.status, edited.result["text"]) == (200, "Unsubscribed")
    assert repeated.response == {"ok": False, "error_code": 400, "description": NOT_MODIFIED}
    assert edit_errors == [NOT_MODIFIED.removeprefix("Bad Request: ").capitalize()]
    stored = api.message(USER, message_id)
    assert (stored.text, stored.source) == ("Unsubscribed", "<i>Unsubscribed</i>")
    with pytest.raises(ValueError, match="no button"):
        api.push_callback_query(USER, USER, message_id, "unsub:8")


async def test_channel_post_commands_need_the_channel_post_filter(api: FakeBotApi) -> None:
    handled: list[str] = []

    async def in_messages(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        handled.append("messages")

    async def in_channel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.channel_post is not None
        assert update.channel_post.sender_chat is not None
        handled.append("channel")
        await update.channel_post.reply_text(f"registered {update.channel_post.sender_chat.id}")

    api.add_channel(CHANNEL, "Liquidations", username="liqs")
    app = builder_for(api).build()
    app.add_handler(CommandHandler("register", in_messages))
    app.add_handler(
        CommandHandler("register", in_channel, filters=filters.UpdateType.CHANNEL_POST), group=1
    )
    async with polling(app):
        post = api.push_channel_post(CHANNEL, "/register")
        [call] = await api.wait_for("sendMessage")

    assert "from" not in post["channel_post"]
    assert handled == ["channel"]
    assert call.params["text"] == f"registered {CHANNEL}"
    assert call.result["sender_chat"] == {
        "id": CHANNEL,
        "type": "channel",
        "title": "Liquidations",
        "username": "liqs",
    }


async def test_kicked_from_a_channel_arrives_as_my_chat_member_and_sends_then_fail(
    api: FakeBotApi,
) -> None:
    changes: list[tuple[str, str]] = []

    async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        assert change is not None
        changes.append((change.old_chat_member.status, change.new_chat_member.status))

    api.add_channel(CHANNEL, "Liquidations")
    app = builder_for(api).build()
    app.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
    async with polling(app):
        api.push_my_chat_member(CHANNEL, "kicked", from_user_id=USER)
        await api.wait_until(lambda: bool(changes))
        with pytest.raises(Forbidden) as caught:
            await app.bot.send_message(CHANNEL, "alert")

    assert changes == [("administrator", "kicked")]
    assert str(caught.value) == "Forbidden: bot was kicked from the channel chat"


async def test_get_chat_member_and_get_chat_results_parse_in_ptb(api: FakeBotApi, bot: Bot) -> None:
    api.add_channel(CHANNEL, "Liquidations", can_post_messages=False)
    api.add_group(GROUP)
    api.add_admin(GROUP, USER)

    me_in_channel = await bot.get_chat_member(CHANNEL, bot.id)
    admin = await bot.get_chat_member(GROUP, USER)
    stranger = await bot.get_chat_member(GROUP, OTHER_USER)
    chat = await bot.get_chat(GROUP)
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(CHANNEL, "alert")

    assert (me_in_channel.status, getattr(me_in_channel, "can_post_messages", None)) == (
        "administrator",
        False,
    )
    assert admin.status == "administrator"
    assert stranger.status == "left"
    assert (chat.id, chat.type) == (GROUP, "supergroup")
    assert str(caught.value) == "Need administrator rights in the channel chat"


async def test_keyboard_edit_delete_and_chat_action(api: FakeBotApi, bot: Bot) -> None:
    api.add_group(GROUP)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute")]])
    sent = await bot.send_message(GROUP, "BTC long liquidated", reply_markup=keyboard)

    await bot.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=None)
    with pytest.raises(BadRequest) as unchanged:
        await bot.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=None)
    assert await bot.send_chat_action(GROUP, "upload_photo") is True
    assert await bot.delete_message(GROUP, sent.message_id) is True
    with pytest.raises(BadRequest) as gone:
        await bot.delete_message(GROUP, sent.message_id)
    with pytest.raises(BadRequest) as too_long_data:
        await bot.send_message(
            GROUP,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("x", callback_data="d" * 65)]]
            ),
        )

    assert str(unchanged.value).startswith("Message is not modified")
    assert str(gone.value) == "Message to delete not found"
    assert str(too_long_data.value) == "Button_data_invalid"
    assert api.message(GROUP, sent.message_id).reply_markup is None
    assert api.bot_messages(GROUP) == []
    assert api.calls_to("sendChatAction")[0].params == {"chat_id": GROUP, "action": "upload_photo"}


async def test_leaving_a_group_sends_my_chat_member_and_later_sends_fail(
    api: FakeBotApi, bot: Bot
) -> None:
    api.add_group(GROUP)

    assert await bot.leave_chat(GROUP) is True
    [update] = await bot.get_updates(timeout=0)
    with pytest.raises(Forbidden) as caught:
        await bot.send_message(GROUP, "alert")

    assert update.my_chat_member is not None
    change = update.my_chat_member
    assert (change.from_user.id, change.from_user.is_bot) == (api.bot_id, True)
    assert (change.old_chat_member.status, change.new_chat_member.status) == ("member", "left")
    assert str(caught.value) == "Forbidden: bot is not a member of the supergroup chat"
    assert api.bot_id not in api.users


async def test_an_edited_message_keeps_its_id_and_date(api: FakeBotApi, bot: Bot) -> None:
    original = api.push_text(USER, USER, "/subscribe BTC 10000")["message"]
    edited = api.push_text(USER, USER, "/subscribe BTC 100000", edit_of=original["message_id"])

    updates = await bot.get_updates(timeout=0)

    assert [u.effective_message.text for u in updates if u.effective_message] == [
        "/subscribe BTC 10000",
        "/subscribe BTC 100000",
    ]
    assert updates[1].edited_message is not None
    assert updates[1].edited_message.message_id == original["message_id"]
    assert edited["edited_message"]["date"] == original["date"]
    assert api.message(USER, original["message_id"]).text == "/subscribe BTC 100000"


@pytest.mark.parametrize("chat_type", ["group", "supergroup", "channel"])
@pytest.mark.parametrize(
    "status", ["creator", "administrator", "member", "restricted", "left", "kicked"]
)
def test_every_member_status_is_accepted_by_ptb(chat_type: str, status: str) -> None:
    user = {"id": USER, "is_bot": False, "first_name": "Ann"}

    member = ChatMember.de_json(member_json(user, status, chat_type=chat_type), None)

    assert member.status == status
    assert member.user.id == USER


async def test_flood_limits_refuse_a_burst_over_the_window_and_not_a_throttled_client(
    api: FakeBotApi,
) -> None:
    api.add_group(GROUP)
    api.add_private_chat(USER)
    # A 30 s window for the unthrottled burst: a busy machine cannot let it drain between the
    # third and the fourth send (with 0.5 s one slot leaked every 1/6 s, and a slow machine's fourth send was accepted).
    api.set_flood_limits(FloodLimits(overall_rate=100, group_rate=3, group_period_s=30))
    async with Bot(api.token, base_url=api.base_url) as unthrottled:
        started = time.monotonic()
        for n in range(3):
            await unthrottled.send_message(GROUP, f"burst {n}")
        with pytest.raises(RetryAfter) as caught:
            await unthrottled.send_message(GROUP, "one too many")
        burst_s = time.monotonic() - started
        for n in range(5):
            await unthrottled.send_message(USER, f"private {n}")  # no per-private limit set

    # A leaky bucket of 3 per 30 s frees one slot every 10 s: the wait is what is left of those
    # 10 s since the first send, rounded up to whole seconds.
    retry_after = caught.value.retry_after
    assert isinstance(retry_after, int)
    assert math.floor(10 - burst_s) <= retry_after <= 10
    assert api.flood_rejections == 1
    mark = api.mark()

    # The client's limiter times its sends, the fake their arrivals: the first three go at once,
    # two over new connections, and arrive late by that much; the fourth, on an open one, can
    # then arrive early against them by over the default 50 ms grace when both cores are busy.
    # Four at once still overflow 0.1 s of grace (a bucket of 3 + 6/s x 0.1 s).
    limits = FloodLimits(overall_rate=100, group_rate=3, group_period_s=0.5, grace_s=0.1)
    api.set_flood_limits(limits)  # empty buckets again
    limiter = AIORateLimiter(overall_max_rate=100, group_max_rate=3, group_time_period=0.5)
    throttled = ExtBot(api.token, base_url=api.base_url, rate_limiter=limiter)
    async with throttled:
        started = time.monotonic()
        await asyncio.gather(*(throttled.send_message(GROUP, f"alert {n}") for n in range(6)))
        elapsed = time.monotonic() - started

    statuses = [c.status for c in api.calls_to("sendMessage", since=mark)]
    assert statuses == [200] * 6
    assert api.flood_rejections == 1
    assert elapsed >= 0.45  # 3 at once, then one every 1/6 s: the limiter did the waiting


async def test_updates_below_the_offset_are_forgotten_and_allowed_updates_filter(
    api: FakeBotApi, bot: Bot
) -> None:
    first = api.push_text(USER, USER, "one")["update_id"]
    second = api.push_text(USER, USER, "two")["update_id"]
    api.push_my_chat_member(USER, "kicked", from_user_id=USER)

    everything = await bot.get_updates(timeout=0)
    after_first = await bot.get_updates(offset=second, timeout=0)
    again = await bot.get_updates(timeout=0)
    messages_only = await bot.get_updates(offset=second, timeout=0, allowed_updates=["message"])

    assert [u.update_id for u in everything] == [first, second, second + 1]
    assert [u.update_id for u in after_first] == [second, second + 1]
    assert [u.update_id for u in again] == [second, second + 1]  # offset 0 confirms nothing
    assert [u.update_id for u in messages_only] == [second]
    assert [u["update_id"] for u in api.filtered_updates] == [second + 1]


async def test_polling_application_never_sees_an_update_twice(api: FakeBotApi) -> None:
    seen: list[int] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)

    api.add_private_chat(USER)
    app = builder_for(api).build()
    app.add_handler(MessageHandler(filters.TEXT, record))
    async with polling(app):
        ids = [api.push_text(USER, USER, f"m{n}")["update_id"] for n in range(3)]
        await api.wait_until(lambda: len(seen) == 3)
        later = api.push_text(USER, USER, "m3")["update_id"]
        await api.wait_until(lambda: len(seen) == 4)
        await api.wait_until(lambda: not api.pending_updates)

    assert seen == [*ids, later]
    delivered = [u["update_id"] for c in api.calls_to("getUpdates") if c.ok for u in c.result]
    assert sorted(delivered) == [*ids, later]
    offsets = [c.params.get("offset", 0) for c in api.calls_to("getUpdates")]
    assert offsets == sorted(offsets)


async def test_a_second_poller_terminates_the_first_with_conflict(api: FakeBotApi) -> None:
    async with (
        Bot(api.token, base_url=api.base_url) as first,
        Bot(api.token, base_url=api.base_url) as second,
    ):
        pending = asyncio.create_task(first.get_updates(timeout=5))
        await api.wait_until(lambda: api.polls_waiting == 1)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(Conflict) as caught:
            await pending

    assert str(caught.value) == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot "
        "instance is running"
    )


async def test_stopping_polling_with_a_long_poll_pending_is_prompt() -> None:
    async with FakeBotApi(long_poll_cap_s=30) as api:
        app = builder_for(api).build()
        async with polling(app, timeout=30):
            await api.wait_until(lambda: api.polls_waiting == 1)
            started = time.monotonic()
        stopped_in = time.monotonic() - started
        await api.wait_until(lambda: api.polls_waiting == 0)

    assert stopped_in < 0.5


async def test_closing_the_fake_answers_a_pending_long_poll_at_once() -> None:
    async with (
        FakeBotApi(long_poll_cap_s=30) as api,
        Bot(api.token, base_url=api.base_url) as client,
    ):
        pending = asyncio.create_task(client.get_updates(timeout=30))
        await api.wait_until(lambda: api.polls_waiting == 1)
        started = time.monotonic()
        await api.close()
        updates = await pending
        closed_in = time.monotonic() - started

    assert updates == ()
    assert closed_in < 0.5


async def test_timeouts_delays_and_server_errors(api: FakeBotApi, bot: Bot) -> None:
    api.add_private_chat(USER)

    api.hang_next("sendMessage")
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "maybe delivered", read_timeout=0.2)
    api.release_hung()
    api.delay_next("sendMessage", 0.3)
    started = time.monotonic()
    await bot.send_message(USER, "slow")
    slow_s = time.monotonic() - started
    api.fail_next_raw("sendMessage")
    with pytest.raises(NetworkError) as gateway:
        await bot.send_message(USER, "gateway")
    api.fail_next("sendMessage", 500, "Internal Server Error")
    with pytest.raises(NetworkError) as internal:
        await bot.send_message(USER, "internal")

    # The timed-out message was delivered anyway, as happens with Telegram.
    assert [m.text for m in api.bot_messages(USER)] == ["maybe delivered", "slow"]
    assert slow_s >= 0.3
    assert str(gateway.value).startswith("Bad Gateway (502). Parsing the server response")
    assert type(internal.value) is NetworkError
    assert str(internal.value) == "Internal Server Error"


async def test_commands_are_stored_per_scope_and_validated(api: FakeBotApi, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("subscribe", "Alert me above a size")])
    admin_scope = BotCommandScopeAllChatAdministrators()
    await bot.set_my_commands(
        [BotCommand("setthreshold", "Set the group threshold")], scope=admin_scope
    )
    with pytest.raises(BadRequest) as caught:
        await bot.set_my_commands([BotCommand("Subscribe", "Capital letters")])

    default = await bot.get_my_commands()
    admins = await bot.get_my_commands(scope=admin_scope)
    await bot.delete_my_commands(scope=admin_scope)

    assert [(c.command, c.description) for c in default] == [("subscribe", "Alert me above a size")]
    assert [c.command for c in admins] == ["setthreshold"]
    assert api.commands_for({"type": "all_chat_administrators"}) == []
    assert str(caught.value) == "Bot_command_invalid"


async def test_wrong_token_and_unknown_method_get_the_exact_replies(
    api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = Bot("42:wrong-token", base_url=api.base_url)
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{api.base_url}{api.token}/sendTeleport", data={"chat_id": "1"}) as reply,
    ):
        body = await reply.json()

    assert api.calls[0].response == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert (reply.status, body) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    fake_logs = [r for r in caplog.records if r.name.startswith(("aiohttp", "tests.support"))]
    assert all(api.token not in r.getMessage() for r in fake_logs)
