"""Bot API objects the fake returns, and the exact error texts of the official server."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from telegram import Update

JSON = dict[str, Any]

ANONYMOUS_ADMIN_ID = 1087968824  # GroupAnonymousBot: the "from" of anonymous admins' messages
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

# Error descriptions, for tests to compare exactly. These were read in tdlib/telegram-bot-api
# (Query.h JsonQueryError, Client.cpp check_chat_access, fail_query_with_error, abort_long_poll)
# or, for the two marked, are TDLib texts the server passes through.
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"  # the server says "Not Found: method not found"; PTB sees 404 either way
BLOCKED_BY_USER = "Forbidden: bot was blocked by the user"
USER_DEACTIVATED = "Forbidden: user is deactivated"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"  # TDLib
CHAT_NOT_FOUND = "Bad Request: chat not found"
# A send into a forum topic that was deleted (message_thread_id of no topic).
THREAD_NOT_FOUND = "Bad Request: message thread not found"
MESSAGE_TOO_LONG = "Bad Request: message is too long"
GROUP_MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
NEED_CHANNEL_ADMIN = "Bad Request: need administrator rights in the channel chat"  # TDLib
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)

# These are as Telegram is commonly seen to answer, not checked against the server source.
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
TEXT_EMPTY = "Bad Request: message text is empty"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
CANT_EDIT = "Bad Request: message can't be edited"
NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
NO_CAPTION_TO_EDIT = "Bad Request: there is no caption in the message to edit"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
CANT_DELETE = "Bad Request: message can't be deleted"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
IMAGE_PROCESS_FAILED = "Bad Request: IMAGE_PROCESS_FAILED"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
BAD_MARKUP = "Bad Request: can't parse reply keyboard markup JSON object"
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"
NO_ADMINS_IN_PRIVATE = "Bad Request: there are no administrators in the private chat"
PRIVATE_MEMBER_STATUS = "Bad Request: chat member status can't be changed in private chats"
INVALID_FILE_ID = "Bad Request: invalid file_id"
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def kicked_from(chat_type: str) -> str:
    """Return the 403 description for a chat the bot was removed from."""
    return f"Forbidden: bot was kicked from the {chat_type} chat"


def not_member_of(chat_type: str) -> str:
    """Return the 403 description for a chat the bot is not in."""
    return f"Forbidden: bot is not a member of the {chat_type} chat"


def too_many_requests(retry_after: int) -> str:
    """Return the 429 description for a flood wait of `retry_after` seconds."""
    return f"Too Many Requests: retry after {retry_after}"


# What getUpdates delivers when allowed_updates is empty or was never given: every type except
# these three (Bot API, getUpdates). Taken from the PTB under test, which knows every type.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
DEFAULT_ALLOWED_UPDATES = frozenset(str(kind) for kind in Update.ALL_TYPES) - _OPT_IN_UPDATES

# Every right an administrator has; PTB's ChatMemberAdministrator requires the first 12.
_GROUP_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
)
_CHANNEL_ADMIN_RIGHTS = (*_GROUP_ADMIN_RIGHTS[:-1], "can_post_messages", "can_edit_messages")
_RESTRICTED_PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
)


class ApiError(Exception):
    """A Bot API error reply: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        """Return the reply body exactly as telegram-bot-api shapes it."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class Upload:
    """One file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    """One request as the fake received and answered it."""

    method: str
    params: JSON
    files: dict[str, Upload]
    status: int
    response: JSON
    at: float  # event-loop time when the request arrived
    chat_id: int | None = None  # the chat the call resolved to, if any

    @property
    def ok(self) -> bool:
        """Return True for a successful reply."""
        return self.status == 200

    @property
    def result(self) -> Any:
        """Return the reply's result (None for errors)."""
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        """Return the error description (None for success)."""
        description = self.response.get("description")
        return description if isinstance(description, str) else None


@dataclass
class FakeChat:
    """One chat as the fake knows it, with the bot's and other users' membership."""

    id: int
    type: str  # private, group, supergroup or channel
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    bot_member: JSON = field(default_factory=dict)
    members: dict[int, JSON] = field(default_factory=dict)
    migrated_to: int | None = None
    deleted_topics: set[int] = field(default_factory=set)  # forum topics deleted (thread ids)

    def to_json(self) -> JSON:
        """Return the Chat object."""
        chat: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name"):
            value = getattr(self, key)
            if value is not None:
                chat[key] = value
        return chat


@dataclass
class StoredMessage:
    """A message in a chat: the Message object Telegram would return now, plus what was sent."""

    chat_id: int
    message_id: int
    data: JSON
    from_bot: bool
    source: str | None = None  # text or caption as the bot sent it, markup included
    upload: Upload | None = None
    deleted: bool = False

    @property
    def text(self) -> str | None:
        """Return the plain text (or caption) after entity parsing."""
        value = self.data.get("text", self.data.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def reply_markup(self) -> JSON | None:
        """Return the current reply markup."""
        markup = self.data.get("reply_markup")
        return markup if isinstance(markup, dict) else None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) of a PNG, JPEG, GIF or WebP image, (0, 0) if unknown, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"GIF8") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
        return 0, 0
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 0, 0
    return None


def admin_rights(chat_type: str, **overrides: bool) -> dict[str, bool]:
    """Return a full set of administrator rights for a chat type (all granted by default)."""
    names = _CHANNEL_ADMIN_RIGHTS if chat_type == "channel" else _GROUP_ADMIN_RIGHTS
    rights = dict.fromkeys(names, True)
    if chat_type == "supergroup":
        rights["can_manage_topics"] = True
    unknown = set(overrides) - set(rights)
    if unknown:
        raise ValueError(f"not a {chat_type} administrator right: {sorted(unknown)}")
    return rights | overrides


def member_json(
    user: JSON,
    status: str,
    *,
    chat_type: str = "supergroup",
    rights: dict[str, bool] | None = None,
    is_anonymous: bool = False,
    custom_title: str | None = None,
) -> JSON:
    """Return a ChatMember object that PTB can de_json, for any status."""
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = is_anonymous
    elif status == "administrator":
        member |= {"can_be_edited": False, "is_anonymous": is_anonymous}
        member |= admin_rights(chat_type, **(rights or {}))
    elif status == "restricted":
        member |= {"is_member": True, "until_date": 0}
        member |= dict.fromkeys(_RESTRICTED_PERMISSIONS, False) | (rights or {})
    elif status == "kicked":
        member["until_date"] = 0
    elif status not in ("member", "left"):
        raise ValueError(f"unknown chat member status {status!r}")
    if custom_title is not None and status in ("creator", "administrator"):
        member["custom_title"] = custom_title
    return member
