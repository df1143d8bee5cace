"""A local stand-in for the Telegram Bot API that the real python-telegram-bot talks to.

`async with FakeBotApi() as api:` serves `/bot{token}/{method}` on 127.0.0.1 (port 0) with real
long polling. Point PTB at it with `.base_url(api.base_url).base_file_url(api.base_file_url)`.
Tests push updates (`push_text`, `push_callback_query`, ...), read every call (`calls`,
`wait_for`), and script failures (`fail_next`, `flood_next`, `delay_next`, `hang_next`).
Replies and error bodies follow the official server, tdlib/telegram-bot-api (Query.h JsonQueryError,
Client.cpp check_chat_access and fail_query_with_error).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import itertools
import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.support import bot_api_objects as tg
from tests.support.bot_api_objects import (
    ANONYMOUS_ADMIN_ID,
    DEFAULT_ALLOWED_UPDATES,
    JSON,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    NGINX_502,
    ApiError,
    Call,
    FakeChat,
    StoredMessage,
    Upload,
    image_size,
    kicked_from,
    member_json,
    not_member_of,
    too_many_requests,
)
from tests.support.flood import FloodControl, FloodLimits
from tests.support.telegram_text import EntityParseError, command_entities, parse_html

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:TEST-fake-bot-api-token"

# Parameters whose values are plain strings on the wire; PTB JSON-encodes every other value.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "language_code",
        "inline_message_id",
        "action",
        "emoji",
        "business_connection_id",
        "message_effect_id",
        "title",
        "description",
        "short_description",
        "name",
        "custom_title",
        "secret_token",
        "ip_address",
        "photo",
        "document",
        "file_id",
        "query",
    }
)


@dataclass
class _Rule:
    """A scripted reaction to the next matching call(s)."""

    method: str
    chat_id: int | str | None
    remaining: int | None  # None: every matching call
    error: ApiError | None = None
    raw: tuple[int, str, str] | None = None  # status, body, content type
    delay_s: float = 0.0
    hang: bool = False


@dataclass
class _Request:
    method: str
    params: JSON
    files: dict[str, Upload]
    chat_id: int | None = None


@dataclass(eq=False)  # kept in a set: identity, not value
class _Poll:
    """A pending getUpdates call."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    conflict: bool = False


Handler = Callable[[_Request], Coroutine[Any, Any, Any]]


def _decode(name: str, value: str) -> Any:
    """Undo PTB's wire encoding: non-string values are JSON, strings go as they are."""
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channel"


class FakeBotApi:
    """Serve the Bot API methods an alert bot uses, with state, checks and scripted failures."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "liquidation_test_bot",
        bot_first_name: str = "Liquidation Alerts",
        long_poll_cap_s: float = 1.0,
        latency_s: float = 0.0,
        flood: FloodLimits | None = None,
        strict_ampersand: bool = True,
        emit_my_chat_member_on_leave: bool = True,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.long_poll_cap_s = long_poll_cap_s
        self.latency_s = latency_s
        self.strict_ampersand = strict_ampersand
        self.emit_my_chat_member_on_leave = emit_my_chat_member_on_leave
        self.port = 0

        self.calls: list[Call] = []  # in the order answered; Call.at is the arrival time
        self.internal_errors: list[BaseException] = []
        self.chats: dict[int, FakeChat] = {}
        self.users: dict[int, JSON] = {}
        self.deactivated_users: set[int] = set()
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.callback_answers: dict[str, JSON] = {}
        self.files: dict[str, Upload] = {}
        self.pending_updates: list[JSON] = []
        self.filtered_updates: list[JSON] = []  # dropped because allowed_updates excluded them
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.flood_rejections = 0
        self.polls_waiting = 0

        self._flood = FloodControl(flood) if flood else None
        self._rules: list[_Rule] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._active_poll: _Poll | None = None
        self._polls: set[_Poll] = set()
        self._changed = asyncio.Event()
        self._release = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, Handler]] = {}
        for name, handler in self._handlers().items():
            self._methods[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Return the value for ApplicationBuilder.base_url (the token is appended by PTB)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the value for ApplicationBuilder.base_file_url."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def __aenter__(self) -> FakeBotApi:
        # Charts can be larger than aiohttp's 1 MiB default; Telegram takes 10 MB photos.
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._download)
        # No access log: request lines contain the token. handler_cancellation ends a long poll
        # as soon as its client goes away, as Telegram does.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        # Port 0 (any free one) unless a test set `port`: a Bot API back on the same address.
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
        if exc is None and self.internal_errors:
            raise AssertionError(
                f"the fake Bot API failed {len(self.internal_errors)} time(s); first: "
                f"{self.internal_errors[0]!r}"
            )

    async def close(self) -> None:
        """Answer pending long polls and held calls, then stop serving."""
        self._closing.set()
        self._release.set()
        for poll in self._polls:
            poll.wake.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.Response:
        at = asyncio.get_running_loop().time()
        raw_method = request.match_info["method"]
        if not self._token_ok(request):
            error = ApiError(401, tg.UNAUTHORIZED)
            self._record(Call(raw_method, {}, {}, 401, error.body(), at))
            return self._json(401, error.body())
        entry = self._methods.get(raw_method.lower())
        if entry is None:
            error = ApiError(404, tg.NOT_FOUND)
            self._record(Call(raw_method, {}, {}, 404, error.body(), at))
            return self._json(404, error.body())
        method, handler = entry
        params, files = await self._parse(request)
        req = _Request(method, params, files, self._peek_chat_id(params))
        rule = self._take_rule(method, req.chat_id, params)
        if rule is not None and rule.raw is not None:
            status, text, content_type = rule.raw
            self._record(Call(method, params, files, status, {"raw": text}, at, req.chat_id))
            await self._delay(rule)
            return web.Response(status=status, text=text, content_type=content_type)
        # A client that goes away (PTB cancels its pending poll on stop) cancels this handler.
        status, body = await self._answer(req, handler, rule)
        self._record(Call(method, params, files, status, body, at, req.chat_id))
        await self._delay(rule)
        return self._json(status, body)

    async def _answer(
        self, req: _Request, handler: Handler, rule: _Rule | None
    ) -> tuple[int, JSON]:
        if rule is not None and rule.error is not None:
            return rule.error.status, rule.error.body()
        try:
            self._check_flood(req)
            result = await handler(req)
        except ApiError as error:
            return error.status, error.body()
        except Exception as exc:
            # A bug in the fake, not a Bot API answer: keep it so __aexit__ fails the test.
            logger.exception("fake Bot API failed on %s", req.method)
            self.internal_errors.append(exc)
            return 500, ApiError(500, "Internal Server Error").body()
        self._accept_flood(req)
        # A snapshot: stored messages change on later edits, the logged reply must not.
        return 200, {"ok": True, "result": copy.deepcopy(result)}

    async def _delay(self, rule: _Rule | None) -> None:
        delay = self.latency_s + (rule.delay_s if rule else 0.0)
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()
        if rule is not None and rule.hang and not self._closing.is_set():
            await self._release.wait()

    @staticmethod
    def _json(status: int, body: JSON) -> web.Response:
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    @staticmethod
    async def _parse(request: web.Request) -> tuple[JSON, dict[str, Upload]]:
        params: JSON = {name: _decode(name, value) for name, value in request.query.items()}
        files: dict[str, Upload] = {}
        if request.content_type == "application/json" and request.can_read_body:
            body = await request.json()
            if isinstance(body, dict):
                params |= body
            return params, files
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[name] = Upload(name, value.filename, value.content_type, data)
            elif isinstance(value, str):
                params[name] = _decode(name, value)
            else:
                params[name] = _decode(name, bytes(value).decode())
        return params, files

    def _token_ok(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.match_info["token"].encode(), self.token.encode())

    async def _download(self, request: web.Request) -> web.Response:
        if not self._token_ok(request):
            return self._json(401, ApiError(401, tg.UNAUTHORIZED).body())
        path = request.match_info["path"]
        upload = next((u for fid, u in self.files.items() if self._file_path(fid) == path), None)
        if upload is None:
            return self._json(404, ApiError(404, tg.NOT_FOUND).body())
        return web.Response(body=upload.data, content_type=upload.content_type)

    # ------------------------------------------------------------------ call log and waiting

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._signal()

    def _signal(self) -> None:
        """Wake everything waiting in wait_until/wait_for."""
        self._changed.set()
        self._changed = asyncio.Event()

    def mark(self) -> int:
        """Return a position in the call log, for `since=` of wait_for and calls_to."""
        return len(self.calls)

    def calls_to(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        status: int | None = None,
        since: int = 0,
    ) -> list[Call]:
        """Return the calls to `method` (optionally one chat, one status) in arrival order."""
        return [
            call
            for call in self.calls[since:]
            if call.method == method
            and (chat_id is None or call.chat_id == chat_id)
            and (status is None or call.status == status)
        ]

    def calls_with_status(self, status: int) -> list[Call]:
        """Return every call answered with `status`."""
        return [call for call in self.calls if call.status == status]

    def method_names(self, *, exclude: Iterable[str] = ("getUpdates",)) -> list[str]:
        """Return the methods called, in order, without the noisy ones."""
        skip = set(exclude)
        return [call.method for call in self.calls if call.method not in skip]

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until `condition()` holds, re-checking on every fake event and every 10 ms."""
        async with asyncio.timeout(timeout):
            while not condition():
                # Calls, updates and polls wake this at once; the 10 ms tick covers conditions on
                # the bot's own state (a handler's side effect), which the fake cannot see.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.01):
                        await self._changed.wait()

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,
        since: int = 0,
    ) -> list[Call]:
        """Wait for `count` calls to `method` matching `predicate`; return all that match."""

        def matching() -> list[Call]:
            calls = self.calls_to(method, since=since)
            return [call for call in calls if predicate is None or predicate(call)]

        try:
            await self.wait_until(lambda: len(matching()) >= count, timeout=timeout)
        except TimeoutError:
            seen = ", ".join(f"{c.method}:{c.status}" for c in self.calls[since:][-20:])
            raise TimeoutError(
                f"waited {timeout}s for {count} matching {method} call(s), got "
                f"{len(matching())}; last calls: [{seen}]"
            ) from None
        return matching()

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        """Return the text (as sent, markup included) of every delivered sendMessage."""
        return [
            str(call.params["text"])
            for call in self.calls_to("sendMessage", chat_id=chat_id, status=200)
        ]

    def sent_photos(self, chat_id: int | None = None) -> list[Upload]:
        """Return the uploaded file of every delivered sendPhoto that uploaded one."""
        calls = self.calls_to("sendPhoto", chat_id=chat_id, status=200)
        return [call.files["photo"] for call in calls if "photo" in call.files]

    def bot_messages(self, chat_id: int) -> list[StoredMessage]:
        """Return the bot's undeleted messages in a chat, oldest first, as they are now."""
        return [
            m
            for (cid, _), m in sorted(self.messages.items())
            if cid == chat_id and m.from_bot and not m.deleted
        ]

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        """Return one stored message."""
        return self.messages[(chat_id, message_id)]

    def commands_for(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Return the commands set for a scope (default scope if None)."""
        return self.commands.get((self._scope_key(scope), language_code), [])

    # ------------------------------------------------------------------ failure scripting

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        parameters: JSON | None = None,
        *,
        chat_id: int | str | None = None,
        times: int | None = 1,
        delay_s: float = 0.0,
    ) -> None:
        """Answer the next `times` calls to `method` (in `chat_id`) with this error."""
        error = ApiError(status, description, parameters)
        self._rules.append(_Rule(method, chat_id, times, error=error, delay_s=delay_s))

    def flood_next(
        self, method: str, retry_after: int = 1, *, chat_id: int | str | None = None, times: int = 1
    ) -> None:
        """Answer the next calls with Telegram's exact 429 flood-wait reply."""
        if retry_after < 1:
            raise ValueError("retry_after must be >= 1; PTB treats 0 as a plain NetworkError")
        parameters = {"retry_after": retry_after}
        self.fail_next(
            method, 429, too_many_requests(retry_after), parameters, chat_id=chat_id, times=times
        )

    def fail_next_raw(
        self,
        method: str,
        status: int = 502,
        body: str = NGINX_502,
        *,
        content_type: str = "text/html",
        chat_id: int | str | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer with a non-JSON body, as Telegram's nginx front does on a 502."""
        self._rules.append(_Rule(method, chat_id, times, raw=(status, body, content_type)))

    def delay_next(
        self,
        method: str,
        delay_s: float,
        *,
        chat_id: int | str | None = None,
        times: int | None = 1,
    ) -> None:
        """Handle the next calls normally but hold each reply for `delay_s`."""
        self._rules.append(_Rule(method, chat_id, times, delay_s=delay_s))

    def hang_next(
        self, method: str, *, chat_id: int | str | None = None, times: int | None = 1
    ) -> None:
        """Handle the next calls (state changes happen) but hold the reply until released.

        The client sees a read timeout (PTB: TimedOut) while the message was in fact delivered,
        which is what Telegram does to a client on a slow link.
        """
        if self._release.is_set() and not self._closing.is_set():
            self._release = asyncio.Event()  # re-arm after an earlier release_hung
        self._rules.append(_Rule(method, chat_id, times, hang=True))

    def release_hung(self) -> None:
        """Let every held reply go."""
        self._release.set()

    def clear_scripts(self) -> None:
        """Forget every scripted failure, delay and hang that has not fired yet."""
        self._rules.clear()

    def set_flood_limits(self, limits: FloodLimits | None) -> None:
        """Enforce these flood limits from now on (None: no limits), with empty buckets."""
        self._flood = FloodControl(limits) if limits else None

    def _take_rule(self, method: str, chat_id: int | None, params: JSON) -> _Rule | None:
        for rule in self._rules:
            if rule.method != method:
                continue
            if rule.chat_id is not None and rule.chat_id not in (chat_id, params.get("chat_id")):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
            return rule
        return None

    def _check_flood(self, req: _Request) -> None:
        if self._flood is None or req.chat_id is None:
            return
        now = asyncio.get_running_loop().time()
        retry_after = self._flood.retry_after(req.method, req.chat_id, now)
        if retry_after is not None:
            self.flood_rejections += 1
            raise ApiError(429, too_many_requests(retry_after), {"retry_after": retry_after})

    def _accept_flood(self, req: _Request) -> None:
        if self._flood is not None and req.chat_id is not None:
            self._flood.accept(req.method, req.chat_id, asyncio.get_running_loop().time())

    # ------------------------------------------------------------------ chats and users

    def add_user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
    ) -> JSON:
        """Register a user (or update one) and return its User object."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        return user

    def _user(self, user_id: int) -> JSON:
        return self.users.get(user_id) or self.add_user(user_id)

    def add_chat(
        self,
        chat_id: int,
        chat_type: str,
        *,
        title: str | None = None,
        username: str | None = None,
        bot_status: str | None = None,
        bot_rights: dict[str, bool] | None = None,
    ) -> FakeChat:
        """Register a chat; the bot is a member (groups, private) or posting admin (channel)."""
        if chat_type not in ("private", "group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {chat_type!r}")
        if (chat_type == "private") != (chat_id > 0):
            raise ValueError(f"chat {chat_id} cannot be {chat_type}: only private chats are > 0")
        chat = FakeChat(chat_id, chat_type, username=username)
        if chat_type == "private":
            user = self._user(chat_id)
            chat.first_name = user["first_name"]
            chat.username = username or user.get("username")
        else:
            chat.title = title or f"Test {chat_type} {chat_id}"
        status = bot_status or ("administrator" if chat_type == "channel" else "member")
        chat.bot_member = member_json(self.bot_user, status, chat_type=chat_type, rights=bot_rights)
        self.chats[chat_id] = chat
        return chat

    def add_private_chat(
        self, user_id: int, first_name: str | None = None, **user: Any
    ) -> FakeChat:
        """Register a user who has started the bot (so the bot may write to them)."""
        self.add_user(user_id, first_name, **user)
        return self.add_chat(user_id, "private")

    def add_group(self, chat_id: int, title: str | None = None, **options: Any) -> FakeChat:
        """Register a group: a supergroup for -100... ids, else a basic group."""
        return self.add_chat(chat_id, _group_type(chat_id), title=title, **options)

    def add_channel(
        self,
        chat_id: int,
        title: str | None = None,
        *,
        username: str | None = None,
        can_post_messages: bool = True,
    ) -> FakeChat:
        """Register a channel where the bot is an administrator."""
        rights = {"can_post_messages": can_post_messages}
        return self.add_chat(chat_id, "channel", title=title, username=username, bot_rights=rights)

    def chat(self, chat_id: int) -> FakeChat:
        """Return a registered chat."""
        return self.chats[chat_id]

    def delete_topic(self, chat_id: int, topic: int) -> None:
        """Delete a forum topic: sends into it are refused as Telegram refuses them."""
        self.chats[chat_id].deleted_topics.add(topic)

    def add_admin(
        self,
        chat_id: int,
        user_id: int,
        *,
        owner: bool = False,
        anonymous: bool = False,
        custom_title: str | None = None,
        **rights: bool,
    ) -> JSON:
        """Make a user the owner or an administrator of a group or channel."""
        chat = self.chats[chat_id]
        status = "creator" if owner else "administrator"
        member = member_json(
            self._user(user_id),
            status,
            chat_type=chat.type,
            rights=rights,
            is_anonymous=anonymous,
            custom_title=custom_title,
        )
        chat.members[user_id] = member
        return member

    def set_member(self, chat_id: int, user_id: int, status: str, **rights: bool) -> JSON:
        """Set another user's membership: member, restricted, left or kicked."""
        chat = self.chats[chat_id]
        member = member_json(self._user(user_id), status, chat_type=chat.type, rights=rights)
        chat.members[user_id] = member
        return member

    def set_bot_status(self, chat_id: int, status: str, **rights: bool) -> JSON:
        """Change the bot's own membership silently (push_my_chat_member also sends the update)."""
        chat = self.chats[chat_id]
        chat.bot_member = member_json(self.bot_user, status, chat_type=chat.type, rights=rights)
        return chat.bot_member

    def block(self, user_id: int) -> None:
        """Have a user block the bot, silently."""
        self.set_bot_status(user_id, "kicked")

    def deactivate_user(self, user_id: int) -> None:
        """Delete a user's account: sends to them fail with 403 user is deactivated."""
        self.deactivated_users.add(user_id)

    def migrate(self, old_chat_id: int, new_chat_id: int) -> FakeChat:
        """Upgrade a basic group to a supergroup silently (push_migration also sends updates)."""
        old = self.chats[old_chat_id]
        if old.type != "group":
            raise ValueError("only basic groups migrate")
        old.migrated_to = new_chat_id
        new = FakeChat(new_chat_id, "supergroup", title=old.title)
        new.members = {
            uid: member_json(m["user"], m["status"], chat_type="supergroup", rights=_rights_of(m))
            for uid, m in old.members.items()
        }
        status = old.bot_member["status"]
        rights = _rights_of(old.bot_member)
        new.bot_member = member_json(self.bot_user, status, chat_type="supergroup", rights=rights)
        self.chats[new_chat_id] = new
        return new

    def _ensure_chat(self, chat_id: int, chat_type: str | None) -> FakeChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            kind = chat_type or ("private" if chat_id > 0 else _group_type(chat_id))
            chat = self.add_chat(chat_id, kind)
        return chat

    def _join_if_new(self, chat: FakeChat, user_id: int) -> None:
        """Count a user who writes in a group as a member (unless their status is set)."""
        if chat.type in ("group", "supergroup") and user_id not in chat.members:
            chat.members[user_id] = member_json(self._user(user_id), "member", chat_type=chat.type)

    # ------------------------------------------------------------------ pushing updates

    def push_raw(self, update: JSON) -> JSON:
        """Queue an update as given; an update_id is assigned if it has none."""
        update = copy.deepcopy(update)  # a snapshot, as Telegram sends it
        update.setdefault("update_id", next(self._update_ids))
        self.pending_updates.append(update)
        for poll in self._polls:
            poll.wake.set()
        self._signal()
        return update

    def push_text(
        self,
        chat_id: int,
        user_id: int | None,
        text: str,
        *,
        chat_type: str | None = None,
        anonymous_admin: bool = False,
        entities: list[JSON] | None = None,
        reply_to_message_id: int | None = None,
        edit_of: int | None = None,
        topic: int | None = None,
    ) -> JSON:
        """Queue a text message from a user (commands get their bot_command entities).

        `anonymous_admin` sends it as the group itself (sender_chat), the way an anonymous
        administrator's messages arrive. `edit_of` makes it an edited_message of that id.
        `topic` sends it inside that forum topic (message_thread_id) of a supergroup.
        """
        chat = self._ensure_chat(chat_id, chat_type)
        message = self._incoming(chat, text, entities, edit_of)
        if topic is not None:
            message |= {"message_thread_id": topic, "is_topic_message": True}
        if anonymous_admin:
            message["from"] = {
                "id": ANONYMOUS_ADMIN_ID,
                "is_bot": True,
                "first_name": "Group",
                "username": "GroupAnonymousBot",
            }
            message["sender_chat"] = chat.to_json()
        else:
            if user_id is None:
                raise ValueError("a message needs a user_id unless anonymous_admin=True")
            message["from"] = self._user(user_id)
            self._join_if_new(chat, user_id)
        if reply_to_message_id is not None:
            target = self.message(chat_id, reply_to_message_id).data
            nested = {k: v for k, v in target.items() if k != "reply_to_message"}
            message["reply_to_message"] = nested
        if edit_of is not None:
            original = self.message(chat_id, edit_of)
            message |= {"date": original.data["date"], "edit_date": int(time.time())}
            original.data = message
            return self.push_raw({"edited_message": message})
        self._store(chat_id, message, from_bot=False)
        return self.push_raw({"message": message})

    def push_channel_post(
        self, chat_id: int, text: str, *, author_signature: str | None = None
    ) -> JSON:
        """Queue a channel post (no from; sender_chat is the channel)."""
        chat = self._ensure_chat(chat_id, "channel")
        message = self._incoming(chat, text, None)
        message["sender_chat"] = chat.to_json()
        if author_signature:
            message["author_signature"] = author_signature
        self._store(chat_id, message, from_bot=False)
        return self.push_raw({"channel_post": message})

    def push_callback_query(self, chat_id: int, user_id: int, message_id: int, data: str) -> JSON:
        """Queue a press on an inline button (with this callback_data) of a bot's message."""
        stored = self.message(chat_id, message_id)
        markup = stored.reply_markup or {}
        buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
        if not stored.from_bot or all(b.get("callback_data") != data for b in buttons):
            raise ValueError(f"message {chat_id}/{message_id} has no button with data {data!r}")
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "chat_instance": f"-{abs(chat_id)}",
            "message": stored.data,
            "data": data,
        }
        return self.push_raw({"callback_query": query})

    def push_my_chat_member(
        self,
        chat_id: int,
        new_status: str,
        *,
        from_user_id: int,
        chat_type: str | None = None,
        **rights: bool,
    ) -> JSON:
        """Change the bot's membership and queue the my_chat_member update Telegram sends."""
        chat = self._ensure_chat(chat_id, chat_type)
        return self._push_my_chat_member(chat, new_status, self._user(from_user_id), rights)

    def _push_my_chat_member(
        self, chat: FakeChat, new_status: str, by: JSON, rights: dict[str, bool]
    ) -> JSON:
        old = chat.bot_member
        new = member_json(self.bot_user, new_status, chat_type=chat.type, rights=rights)
        chat.bot_member = new
        return self.push_raw(
            {
                "my_chat_member": {
                    "chat": chat.to_json(),
                    "from": by,
                    "date": int(time.time()),
                    "old_chat_member": old,
                    "new_chat_member": new,
                }
            }
        )

    def push_migration(self, old_chat_id: int, new_chat_id: int, *, user_id: int) -> list[JSON]:
        """Upgrade a group to a supergroup and queue both service messages Telegram sends."""
        old = self.chats[old_chat_id]
        new = self.migrate(old_chat_id, new_chat_id)
        to_message = self._incoming(old, None, None)
        to_message |= {"from": self._user(user_id), "migrate_to_chat_id": new_chat_id}
        self._store(old_chat_id, to_message, from_bot=False)
        from_message = self._incoming(new, None, None)
        from_message |= {"from": self._user(user_id), "migrate_from_chat_id": old_chat_id}
        self._store(new_chat_id, from_message, from_bot=False)
        return [self.push_raw({"message": to_message}), self.push_raw({"message": from_message})]

    def _incoming(
        self,
        chat: FakeChat,
        text: str | None,
        entities: list[JSON] | None,
        message_id: int | None = None,
    ) -> JSON:
        message: JSON = {
            "message_id": message_id or self._next_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.to_json(),
        }
        if text is not None:
            message["text"] = text
            found = command_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
        return message

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _store(self, chat_id: int, message: JSON, *, from_bot: bool, **extra: Any) -> StoredMessage:
        stored = StoredMessage(chat_id, message["message_id"], message, from_bot, **extra)
        self.messages[(chat_id, stored.message_id)] = stored
        return stored

    # ------------------------------------------------------------------ request helpers

    def _peek_chat_id(self, params: JSON) -> int | None:
        """Resolve chat_id to a numeric id without access checks (for rules and the log)."""
        value = params.get("chat_id")
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.startswith("@"):
            name = value[1:].lower()
            return next(
                (c.id for c in self.chats.values() if (c.username or "").lower() == name), None
            )
        return None

    def _chat(self, req: _Request, *, write: bool) -> FakeChat:
        """Resolve chat_id and apply Telegram's access checks, raising its exact errors."""
        if req.params.get("chat_id") in (None, ""):
            raise ApiError(400, tg.CHAT_ID_EMPTY)
        chat = self.chats.get(req.chat_id) if req.chat_id is not None else None
        if chat is None:
            if req.chat_id in self.users and write:
                raise ApiError(403, tg.CANT_INITIATE)
            raise ApiError(400, tg.CHAT_NOT_FOUND)
        if chat.migrated_to is not None:
            raise ApiError(400, tg.GROUP_MIGRATED, {"migrate_to_chat_id": chat.migrated_to})
        status = chat.bot_member["status"]
        if chat.type == "private":
            if write and chat.id in self.deactivated_users:
                raise ApiError(403, tg.USER_DEACTIVATED)
            if write and status == "kicked":
                raise ApiError(403, tg.BLOCKED_BY_USER)
            return chat
        thread = req.params.get("message_thread_id")
        if write and thread is not None and int(thread) in chat.deleted_topics:
            raise ApiError(400, tg.THREAD_NOT_FOUND)
        if status == "kicked":
            raise ApiError(403, kicked_from(chat.type))
        if status == "left":
            raise ApiError(403, not_member_of(chat.type))
        if (
            write
            and chat.type == "channel"
            and status != "creator"
            and not chat.bot_member.get("can_post_messages")
        ):
            raise ApiError(400, tg.NEED_CHANNEL_ADMIN)
        return chat

    def _format(self, text: str, req: _Request, *, caption: bool) -> tuple[str, list[JSON]]:
        """Apply parse_mode or entities and the length limit, as Telegram does."""
        parse_mode = req.params.get("parse_mode")
        entity_key = "caption_entities" if caption else "entities"
        if not parse_mode:
            plain, entities = text, list(req.params.get(entity_key) or [])
        elif str(parse_mode).lower() == "html":
            try:
                plain, entities = parse_html(text, strict_ampersand=self.strict_ampersand)
            except EntityParseError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif str(parse_mode).lower() in ("markdown", "markdownv2"):
            plain, entities = text, []  # not validated: the bot formats with HTML
        else:
            raise ApiError(400, tg.UNSUPPORTED_PARSE_MODE)
        if not caption and not plain.strip():
            raise ApiError(400, tg.TEXT_EMPTY)
        limit = MAX_CAPTION_LENGTH if caption else MAX_TEXT_LENGTH
        if len(plain) > limit:
            raise ApiError(400, tg.CAPTION_TOO_LONG if caption else tg.MESSAGE_TOO_LONG)
        return plain, entities

    @staticmethod
    def _markup(req: _Request) -> JSON | None:
        markup = req.params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, tg.BAD_MARKUP)
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise ApiError(400, tg.BUTTON_DATA_INVALID)
        return markup

    def _outgoing(self, chat: FakeChat, req: _Request) -> JSON:
        message: JSON = {
            "message_id": self._next_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.to_json(),
        }
        if chat.type == "channel":
            message["sender_chat"] = chat.to_json()
        else:
            message["from"] = self.bot_user
        reply = req.params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") or req.params.get("reply_to_message_id")
        if reply_to is not None:
            target = self.messages.get((chat.id, int(reply_to)))
            if target is not None and not target.deleted:
                # Telegram nests one level only: a reply's own reply_to_message is left out.
                nested = {k: v for k, v in target.data.items() if k != "reply_to_message"}
                message["reply_to_message"] = nested
            elif not (
                reply.get("allow_sending_without_reply")
                or req.params.get("allow_sending_without_reply")
            ):
                raise ApiError(400, tg.REPLY_NOT_FOUND)
        if req.params.get("message_thread_id") is not None:
            message["message_thread_id"] = req.params["message_thread_id"]
        return message

    def _bot_message(self, chat: FakeChat, req: _Request, not_found: str) -> StoredMessage:
        message_id = req.params.get("message_id")
        stored = (
            self.messages.get((chat.id, int(message_id))) if isinstance(message_id, int) else None
        )
        if stored is None or stored.deleted:
            raise ApiError(400, not_found)
        if not stored.from_bot:
            raise ApiError(400, tg.CANT_EDIT)
        return stored

    @staticmethod
    def _scope_key(scope: JSON | None) -> str:
        return json.dumps(scope or {"type": "default"}, sort_keys=True)

    def _file_path(self, file_id: str) -> str:
        return f"photos/{file_id}.bin"

    # ------------------------------------------------------------------ methods

    def _handlers(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "leaveChat": self._leave_chat,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
        }

    async def _true(self, req: _Request) -> bool:
        return True

    async def _get_me(self, req: _Request) -> JSON:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _delete_webhook(self, req: _Request) -> bool:
        if req.params.get("drop_pending_updates"):
            self.pending_updates.clear()
        return True

    async def _get_webhook_info(self, req: _Request) -> JSON:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending_updates),
        }

    async def _get_updates(self, req: _Request) -> list[JSON]:
        offset = int(req.params.get("offset") or 0)
        limit = min(max(int(req.params.get("limit") or 100), 1), 100)
        timeout = float(req.params.get("timeout") or 0)
        allowed = req.params.get("allowed_updates")
        if isinstance(allowed, list):  # sticky, as on Telegram: kept until given again
            self.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        if offset > 0:
            # An update is confirmed once getUpdates is called with a higher offset.
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        elif offset < 0:
            self.pending_updates = self.pending_updates[offset:]
        if self._active_poll is not None:  # a newer poll terminates the older one
            self._active_poll.conflict = True
            self._active_poll.wake.set()
        poll = _Poll()
        self._active_poll = poll
        self._polls.add(poll)
        try:
            wait_s = min(timeout, self.long_poll_cap_s)
            if not self._deliverable(limit) and wait_s > 0 and not self._closing.is_set():
                await self._wait_poll(poll, wait_s)
            if poll.conflict:
                raise ApiError(409, tg.POLL_CONFLICT)
            return self._deliverable(limit)
        finally:
            self._polls.discard(poll)
            if self._active_poll is poll:
                self._active_poll = None

    async def _wait_poll(self, poll: _Poll, wait_s: float) -> None:
        self.polls_waiting += 1
        self._signal()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    while not (poll.conflict or self._closing.is_set() or self._deliverable(100)):
                        poll.wake.clear()
                        await poll.wake.wait()
        finally:
            self.polls_waiting -= 1
            self._signal()

    def _deliverable(self, limit: int) -> list[JSON]:
        kept: list[JSON] = []
        for update in self.pending_updates:
            kind = next(key for key in update if key != "update_id")
            if kind in self.allowed_updates:
                kept.append(update)
            else:
                self.filtered_updates.append(update)
        self.pending_updates = kept
        return kept[:limit]

    async def _set_my_commands(self, req: _Request) -> bool:
        commands = req.params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, 'Bad Request: field "commands" must be an Array')
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            name = str(command.get("command", "")).strip().removeprefix("/")
            description = str(command.get("description", "")).strip()
            if not name:
                raise ApiError(400, "Bad Request: command must be non-empty")
            if len(name) > 32:
                raise ApiError(400, "Bad Request: command length must not exceed 32")
            if not description:
                raise ApiError(400, "Bad Request: command description must be non-empty")
            if len(description) > 256:
                raise ApiError(400, "Bad Request: command description length must not exceed 256")
            if not all(c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        key = (self._scope_key(req.params.get("scope")), str(req.params.get("language_code") or ""))
        self.commands[key] = commands
        return True

    async def _get_my_commands(self, req: _Request) -> list[JSON]:
        return self.commands_for(
            req.params.get("scope"), str(req.params.get("language_code") or "")
        )

    async def _delete_my_commands(self, req: _Request) -> bool:
        key = (self._scope_key(req.params.get("scope")), str(req.params.get("language_code") or ""))
        self.commands.pop(key, None)
        return True

    async def _send_message(self, req: _Request) -> JSON:
        chat = self._chat(req, write=True)
        plain, entities = self._format(str(req.params.get("text") or ""), req, caption=False)
        markup = self._markup(req)
        message = self._outgoing(chat, req)
        message["text"] = plain
        if entities:
            message["entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        self._store(chat.id, message, from_bot=True, source=req.params["text"])
        return message

    async def _send_photo(self, req: _Request) -> JSON:
        chat = self._chat(req, write=True)
        upload = req.files.get("photo")
        photo = req.params.get("photo")
        if upload is None and isinstance(photo, str) and photo.startswith("attach://"):
            upload = req.files.get(photo.removeprefix("attach://"))
        if upload is None:
            if not isinstance(photo, str):
                raise ApiError(400, "Bad Request: there is no photo in the request")
            if photo in self.files:
                upload = self.files[photo]  # re-sending a file_id uploads nothing
            elif not photo.startswith(("http://", "https://")):
                raise ApiError(400, tg.WRONG_FILE)
        size = (0, 0) if upload is None else image_size(upload.data)
        if size is None:
            raise ApiError(400, tg.IMAGE_PROCESS_FAILED)
        caption = str(req.params.get("caption") or "")
        plain, entities = self._format(caption, req, caption=True) if caption else ("", [])
        markup = self._markup(req)
        message = self._outgoing(chat, req)
        message["photo"] = self._photo_sizes(upload, size)
        if plain:
            message["caption"] = plain
        if entities:
            message["caption_entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        self._store(chat.id, message, from_bot=True, source=caption or None, upload=upload)
        return message

    def _photo_sizes(self, upload: Upload | None, size: tuple[int, int]) -> list[JSON]:
        """Return a thumbnail and the full size, as Telegram lists them (smallest first)."""
        width, height = size
        scale = min(1.0, 90 / max(width, height, 1))
        sizes: list[JSON] = []
        for w, h in ((round(width * scale), round(height * scale)), (width, height)):
            number = next(self._file_ids)
            file_id = f"AgAC-fake-photo-{number}"
            photo_size: JSON = {
                "file_id": file_id,
                "file_unique_id": f"AQAD{number}",
                "width": w,
                "height": h,
            }
            if upload is not None:
                self.files[file_id] = upload
                photo_size["file_size"] = len(upload.data)
            sizes.append(photo_size)
        return sizes

    async def _edit_message_text(self, req: _Request) -> JSON:
        chat = self._chat(req, write=True)
        stored = self._bot_message(chat, req, tg.EDIT_NOT_FOUND)
        if "text" not in stored.data:
            raise ApiError(400, tg.NO_TEXT_TO_EDIT)
        plain, entities = self._format(str(req.params.get("text") or ""), req, caption=False)
        markup = self._markup(req)
        self._apply_edit(stored, {"text": plain, "entities": entities, "reply_markup": markup})
        stored.source = req.params["text"]
        return stored.data

    async def _edit_message_caption(self, req: _Request) -> JSON:
        chat = self._chat(req, write=True)
        stored = self._bot_message(chat, req, tg.EDIT_NOT_FOUND)
        if "photo" not in stored.data:
            raise ApiError(400, tg.NO_CAPTION_TO_EDIT)
        caption = str(req.params.get("caption") or "")
        plain, entities = self._format(caption, req, caption=True) if caption else ("", [])
        markup = self._markup(req)
        self._apply_edit(
            stored, {"caption": plain, "caption_entities": entities, "reply_markup": markup}
        )
        stored.source = caption or None
        return stored.data

    async def _edit_message_reply_markup(self, req: _Request) -> JSON:
        chat = self._chat(req, write=True)
        stored = self._bot_message(chat, req, tg.EDIT_NOT_FOUND)
        self._apply_edit(stored, {"reply_markup": self._markup(req)})
        return stored.data

    @staticmethod
    def _apply_edit(stored: StoredMessage, changes: JSON) -> None:
        """Apply an edit, refusing one that changes nothing (Telegram's "not modified")."""
        if all(stored.data.get(key) == (value or None) for key, value in changes.items()):
            raise ApiError(400, tg.NOT_MODIFIED)
        for key, value in changes.items():
            if value:
                stored.data[key] = value
            else:
                stored.data.pop(key, None)  # an edit without reply_markup removes the keyboard
        stored.data["edit_date"] = int(time.time())

    async def _delete_message(self, req: _Request) -> bool:
        chat = self._chat(req, write=True)
        message_id = req.params.get("message_id")
        stored = (
            self.messages.get((chat.id, int(message_id))) if isinstance(message_id, int) else None
        )
        if stored is None or stored.deleted:
            raise ApiError(400, tg.DELETE_NOT_FOUND)
        may_delete_others = chat.type == "private" or chat.bot_member.get("can_delete_messages")
        if not stored.from_bot and not may_delete_others:
            raise ApiError(400, tg.CANT_DELETE)
        stored.deleted = True
        return True

    async def _answer_callback_query(self, req: _Request) -> bool:
        query_id = str(req.params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise ApiError(400, tg.QUERY_TOO_OLD)
        self._open_queries.discard(query_id)
        self.callback_answers[query_id] = req.params
        return True

    async def _get_chat(self, req: _Request) -> JSON:
        chat = self._chat(req, write=False)
        return chat.to_json() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys(
                (
                    "unlimited_gifts",
                    "limited_gifts",
                    "unique_gifts",
                    "premium_subscription",
                    "gifts_from_channels",
                ),
                False,
            ),
        }

    async def _get_chat_member(self, req: _Request) -> JSON:
        chat = self._chat(req, write=False)
        user_id = req.params.get("user_id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ApiError(400, "Bad Request: invalid user_id specified")
        if user_id == self.bot_id:
            return chat.bot_member
        if chat.type == "private":
            if user_id != chat.id:
                raise ApiError(400, "Bad Request: user not found")
            return member_json(self._user(user_id), "member", chat_type="private")
        member = chat.members.get(user_id)
        return member or member_json(self._user(user_id), "left", chat_type=chat.type)

    async def _get_chat_administrators(self, req: _Request) -> list[JSON]:
        chat = self._chat(req, write=False)
        if chat.type == "private":
            raise ApiError(400, tg.NO_ADMINS_IN_PRIVATE)
        members = [*chat.members.values(), chat.bot_member]
        return [m for m in members if m["status"] in ("creator", "administrator")]

    async def _get_chat_member_count(self, req: _Request) -> int:
        chat = self._chat(req, write=False)
        if chat.type == "private":
            return 2
        present = ("creator", "administrator", "member", "restricted")
        others = sum(1 for m in chat.members.values() if m["status"] in present)
        return others + (chat.bot_member["status"] in present)

    async def _leave_chat(self, req: _Request) -> bool:
        chat = self._chat(req, write=False)
        if chat.type == "private":
            raise ApiError(400, tg.PRIVATE_MEMBER_STATUS)
        if self.emit_my_chat_member_on_leave:
            self._push_my_chat_member(chat, "left", self.bot_user, {})
        else:
            self.set_bot_status(chat.id, "left")
        return True

    async def _send_chat_action(self, req: _Request) -> bool:
        self._chat(req, write=True)
        return True

    async def _get_file(self, req: _Request) -> JSON:
        file_id = str(req.params.get("file_id") or "")
        upload = self.files.get(file_id)
        if upload is None:
            raise ApiError(400, tg.INVALID_FILE_ID)
        return {
            "file_id": file_id,
            "file_unique_id": f"AQAD-{file_id}",
            "file_size": len(upload.data),
            "file_path": self._file_path(file_id),
        }


def _group_type(chat_id: int) -> str:
    # Supergroup and channel ids are -100 followed by 10+ digits; basic groups are short.
    return "supergroup" if chat_id <= -1_000_000_000_000 else "group"


def _rights_of(member: JSON) -> dict[str, bool]:
    return {k: bool(v) for k, v in member.items() if k.startswith("can_") and k != "can_be_edited"}
