"""Telegram HTML as the Bot API reads it: visible text, escaping, fitting and splitting (pure)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.texts.catalog import Html

MAX_TEXT_LENGTH = 4096  # Telegram's limit on a message's text after entity parsing
MAX_CAPTION_LENGTH = 1024  # and on a photo's caption


def plain_text(html_text: str) -> str:
    """Return the text Telegram would show for `html_text`: tags removed, entities decoded."""
    return "".join(_decode(token.raw) if token.name is None else "" for token in _tokens(html_text))


def split_message(html_text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Split Telegram HTML between lines into parts of at most `limit` visible characters."""
    # Tags open at a cut are closed at the end of one part and reopened at the start of the
    # next, so every part parses alone. A line longer than `limit` is cut between characters
    # (never inside a tag or a character reference). Blank parts are left out: Telegram
    # refuses an empty message.
    if limit < 2:
        raise ValueError("limit must be at least 2 (one character can take two units)")
    parts: list[str] = []
    stack: list[_Token] = []  # tags open where the current part starts
    opening = ""
    body: list[str] = []
    size = 0  # visible length of body, in UTF-16 units

    def flush() -> None:
        nonlocal opening, body, size
        if body:
            closing = "".join(f"</{tag.name}>" for tag in reversed(stack))
            part = opening + "\n".join(body) + closing
            if plain_text(part).strip():
                parts.append(part)
        opening = "".join(tag.raw for tag in stack)
        body = []
        size = 0

    for line in _lines(html_text):
        for piece in _cut(line, limit):
            width = sum(utf16_width(_decode(t.raw)) for t in piece if t.name is None)
            if body and size + 1 + width > limit:
                flush()
            size += width + (1 if body else 0)
            body.append("".join(t.raw for t in piece))
            for token in piece:
                _track(stack, token)
    flush()
    return parts


def fit(render: Callable[[int], Html], most: int) -> Html:
    """Return render(level) for the largest level in 0..most whose text fits one message."""
    # A higher level shows more of every list, so the text grows with it: bisect.
    candidate = render(most)
    if _fits(candidate):
        return candidate
    best: Html | None = None
    low, high = 0, most  # render(high) is known not to fit
    while low < high:
        middle = (low + high) // 2
        candidate = render(middle)
        if _fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle
    if best is not None:
        return best
    # Names are clipped and lists capped, so only absurd inputs get here: keep the first part.
    return Html(split_message(render(0))[0])


def _fits(html_text: str) -> bool:
    return utf16_width(plain_text(html_text)) <= MAX_TEXT_LENGTH


def utf16_width(plain: str) -> int:
    """Return the length Telegram counts for plain text, in UTF-16 units."""
    # UTF-16 units: Telegram is said to count characters, and these are never fewer.
    return len(plain.encode("utf-16-le", "surrogatepass")) // 2


def escape(value: str) -> str:
    """Escape a value for Telegram HTML."""
    # Telegram needs only <, > and & escaped outside tags; quotes stay readable.
    return html.escape(value, quote=False)


# --- Telegram HTML: tokens, references, lines ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    """A tag (`name` set; `closing` for an end tag) or a run of text (`name` None)."""

    raw: str
    name: str | None = None
    closing: bool = False


# A tag may hold quoted attribute values containing ">" (Telegram allows it in an href).
_TAG = re.compile(r"""<(/?)([^\s>/"']*)[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>""")
# Telegram's references: four names, decimal or lowercase-x hex numbers, ";" optional.
_REFERENCE = re.compile(r"&(?:#x([0-9a-fA-F]*)|#([0-9]*)|([A-Za-z]*));?")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _tokens(html_text: str) -> list[_Token]:
    tokens = []
    position = 0
    for match in _TAG.finditer(html_text):
        if match.start() > position:
            tokens.append(_Token(html_text[position : match.start()]))
        tokens.append(_Token(match.group(), match.group(2).lower(), match.group(1) == "/"))
        position = match.end()
    if position < len(html_text):
        tokens.append(_Token(html_text[position:]))
    return tokens


def _decode(raw: str) -> str:
    """Decode character references as Telegram does; anything else stays as written."""
    return _REFERENCE.sub(_reference, raw) if "&" in raw else raw


def _reference(match: re.Match[str]) -> str:
    hex_digits, decimal, name = match.groups()
    if name is not None:
        return _NAMED.get(name, match.group())
    digits = hex_digits if hex_digits is not None else decimal
    code = int(digits, 16 if hex_digits is not None else 10) if digits else 0
    # Telegram gives up on a reference of ten characters or more before the ";".
    too_long = len(match.group().rstrip(";")) >= 10
    if code == 0 or code >= 0x10FFFF or too_long:
        return match.group()
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"  # a lone surrogate cannot be sent; show what a client would
    return chr(code)


def _lines(html_text: str) -> list[list[_Token]]:
    """Return the tokens of each line; a newline inside a tag does not end a line."""
    lines: list[list[_Token]] = [[]]
    for token in _tokens(html_text):
        if token.name is not None:
            lines[-1].append(token)
            continue
        first, *rest = token.raw.split("\n")
        if first:
            lines[-1].append(_Token(first))
        lines.extend([_Token(piece)] if piece else [] for piece in rest)
    return lines


def _cut(line: list[_Token], limit: int) -> list[list[_Token]]:
    """Return the line whole, or cut into pieces of at most `limit` visible characters."""
    if sum(utf16_width(_decode(t.raw)) for t in line if t.name is None) <= limit:
        return [line]
    pieces: list[list[_Token]] = [[]]
    size = 0
    for token in line:
        if token.name is not None:
            pieces[-1].append(token)
            continue
        for unit in _units(token.raw):
            width = utf16_width(_decode(unit))
            if size + width > limit and size > 0:
                pieces.append([])
                size = 0
            pieces[-1].append(_Token(unit))
            size += width
    return pieces


def _units(raw: str) -> list[str]:
    """Return the characters of a text run, keeping each character reference whole."""
    units: list[str] = []
    position = 0
    for match in _REFERENCE.finditer(raw):
        reference = match.group()
        if _decode(reference) == reference:
            continue  # not a reference to Telegram: its characters are text
        units.extend(raw[position : match.start()])
        units.append(reference)
        position = match.end()
    units.extend(raw[position:])
    return units


def _track(stack: list[_Token], token: _Token) -> None:
    """Keep the stack of open tags up to date with one token."""
    if token.name is None:
        return
    if token.closing:
        if stack:
            stack.pop()
    else:
        stack.append(token)
