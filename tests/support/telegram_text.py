"""Parse Telegram's HTML and find bot commands the way the Bot API server does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

# The tags TDLib's HTML parser accepts (Bot API "HTML style"); anything else is refused.
SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "tg-spoiler",
        "span",
        "tg-emoji",
        "tg-time",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_REFERENCES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACE = frozenset(b" \t\r\n\v\f\0")  # TDLib's is_space; NUL counts, as it ends a C string

# A command is "/" and up to 64 of [A-Za-z0-9_], optionally "@" and a bot username, standing
# alone (not inside a word, path or tag).
_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/])")


class EntityParseError(ValueError):
    """Invalid Telegram HTML; the message is TDLib's text after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Return the length of `text` in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """Return a `bot_command` entity for every command in `text`, offsets in UTF-16 units."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the plain text where the entity starts
    start: int  # byte position in the plain text where the entity starts


class _Parser:
    """One pass over the UTF-8 bytes, as TDLib's do_parse_html walks its C string."""

    def __init__(self, text: str, *, strict_ampersand: bool) -> None:
        self.src = text.encode()
        self.strict_ampersand = strict_ampersand
        self.out = bytearray()
        self.utf16 = 0
        self.entities: list[JSON] = []
        self.stack: list[_Open] = []

    def at(self, i: int) -> int:
        """Return the byte at `i`, or 0 past the end (TDLib reads a NUL-terminated string)."""
        return self.src[i] if i < len(self.src) else 0

    def space(self, i: int) -> bool:
        return self.at(i) in _SPACE

    def reference(self, i: int) -> tuple[str, int] | None:
        """Decode a character reference at `i`; return (character, next index) or None."""
        end = i + 1
        if self.at(i + 1) == ord("#"):
            end += 1
            code = 0
            if self.at(i + 2) == ord("x"):
                end += 1
                while self.at(end) and chr(self.at(end)) in "0123456789abcdefABCDEF":
                    code = code * 16 + int(chr(self.at(end)), 16)
                    end += 1
            else:
                while ord("0") <= self.at(end) <= ord("9"):
                    code = code * 10 + self.at(end) - ord("0")
                    end += 1
            if code == 0 or code >= 0x10FFFF or end - i >= 10:
                return None
            char = chr(code)
        else:
            while chr(self.at(end)).isascii() and chr(self.at(end)).isalpha():
                end += 1
            named = _NAMED_REFERENCES.get(self.src[i + 1 : end])
            if named is None:
                return None
            char = named
        return char, end + 1 if self.at(end) == ord(";") else end

    def emit(self, char: str) -> None:
        self.out += char.encode("utf-8", "surrogatepass")
        self.utf16 += 2 if ord(char) > 0xFFFF else 1

    def run(self) -> tuple[str, list[JSON]]:
        i = 0
        while i < len(self.src):
            byte = self.src[i]
            if byte == ord("&"):
                decoded = self.reference(i)
                if decoded is not None:
                    self.emit(decoded[0])
                    i = decoded[1]
                    continue
                if self.strict_ampersand:
                    # Telegram keeps a bare "&" as text; strict mode refuses it because it is
                    # always an escaping bug (html.escape never leaves one).
                    raise EntityParseError(f'Unescaped "&" at byte offset {i}')
            if byte != ord("<"):
                if (byte & 0xC0) != 0x80:  # the first byte of a character
                    self.utf16 += 2 if byte >= 0xF0 else 1
                self.out.append(byte)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == ord("/") else self.start_tag(i)
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        try:
            plain = self.out.decode()
        except UnicodeDecodeError:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)  # a language only counts on <pre><code>
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return plain, self.entities

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while not self.space(i) and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = self.src[begin + 1 : i].decode(errors="replace").lower()
        if tag not in SUPPORTED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        while self.at(i) != ord(">"):
            while self.at(i) != 0 and self.space(i):
                i += 1
            if self.at(i) == ord(">"):
                break
            name_begin = i
            while not self.space(i) and self.at(i) not in b"=>/\"'":
                i += 1
            name = self.src[name_begin:i].decode(errors="replace").lower()
            if not name:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                )
            while self.at(i) != 0 and self.space(i):
                i += 1
            if self.at(i) != ord("="):
                if self.at(i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if tag == "blockquote" and name == "expandable":
                    argument = "1"
                continue  # other bare attributes are ignored
            i += 1
            while self.at(i) != 0 and self.space(i):
                i += 1
            if self.at(i) == 0:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self.attribute_value(i)
            if self.at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            if (tag, name) in {("a", "href"), ("tg-emoji", "emoji-id")}:
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
            elif tag == "tg-time" and name == "unix":
                argument = value
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.stack.append(_Open(tag, argument, self.utf16, len(self.out)))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in b"'\"":
            begin = i
            while chr(self.at(i)).isascii() and (chr(self.at(i)).isalnum() or self.at(i) in b".-"):
                i += 1
            if not self.space(i) and self.at(i) != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {begin}")
            return self.src[begin:i].decode().lower(), i
        i += 1
        value = bytearray()
        while self.at(i) != quote and self.at(i) != 0:
            if self.at(i) == ord("&"):
                decoded = self.reference(i)
                if decoded is not None:
                    value += decoded[0].encode("utf-8", "surrogatepass")
                    i = decoded[1]
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return value.decode(errors="replace"), i

    def end_tag(self, begin: int) -> int:
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while not self.space(i) and self.at(i) != ord(">"):
            i += 1
        name = self.src[begin + 2 : i].decode(errors="replace").lower()
        while self.space(i) and self.at(i) != 0:
            i += 1
        if self.at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        opened = self.stack.pop()
        if name and name != opened.tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{opened.tag}>", '
                f'found "</{name}>"'
            )
        if self.utf16 > opened.offset:
            self.add_entity(opened, self.utf16 - opened.offset)
        return i + 1

    def add_entity(self, opened: _Open, length: int) -> None:
        entity: JSON = {"offset": opened.offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (
            opened.offset,
            length,
        )
        tag = opened.tag
        if tag in _SIMPLE:
            entity["type"] = _SIMPLE[tag]
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if opened.argument else "blockquote"
        elif tag == "tg-emoji":
            if not opened.argument.isdigit() or int(opened.argument) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity |= {"type": "custom_emoji", "custom_emoji_id": opened.argument}
        elif tag == "tg-time":
            if not opened.argument.isdigit():
                return  # without a valid unix time Telegram keeps the text and drops the entity
            entity |= {"type": "date_time", "unix_time": int(opened.argument)}
        elif tag == "a":
            url = opened.argument or self.out[opened.start :].decode(errors="replace")
            if not url:
                return
            entity |= {"type": "text_link", "url": url}
        elif tag == "pre":
            if last is not None and same_span and last["type"] == "code" and "language" in last:
                last["type"] = "pre"
                return
            entity["type"] = "pre"
        else:  # code
            if last is not None and same_span and last["type"] == "pre" and opened.argument:
                last["language"] = opened.argument
                return
            entity["type"] = "code"
            if opened.argument:
                entity["language"] = opened.argument
        self.entities.append(entity)


def parse_html(text: str, *, strict_ampersand: bool = False) -> tuple[str, list[JSON]]:
    """Return the plain text and entities of Telegram HTML, or raise EntityParseError."""
    return _Parser(text, strict_ampersand=strict_ampersand).run()
