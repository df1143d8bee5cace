"""Look up the bot's user-visible strings by key and language, with every value escaped."""

from __future__ import annotations

import datetime as dt
import html
import string
from collections.abc import Mapping
from dataclasses import dataclass

from bot.texts.en import EN
from bot.texts.entries import Entry, Plural
from bot.texts.zh import ZH

DEFAULT_LANG = "en"


class Html(str):
    """Text that is already Telegram HTML: `text` inserts it without escaping it again."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Locale:
    """How one chat reads: its language (a CATALOG key) and its time zone."""

    lang: str = DEFAULT_LANG
    tz: dt.tzinfo = dt.UTC


DEFAULT_LOCALE = Locale()

# Every language's entries; a language may lack keys (English fills in), never add any.
CATALOG: dict[str, dict[str, Entry]] = {"en": EN, "zh": ZH}

_FORMATTER = string.Formatter()


def placeholders(entry: Entry) -> frozenset[str]:
    """Return the value names an entry needs (a plural entry always needs `count`)."""
    forms = (entry.one, entry.other) if isinstance(entry, Plural) else (entry,)
    names = {name for form in forms for _, name, _, _ in _FORMATTER.parse(form) if name is not None}
    if isinstance(entry, Plural):
        names.add("count")
    return frozenset(names)


def _catalog(lang: str) -> Mapping[str, Entry]:
    """Return the catalog of `lang`, of its base language ("zh-hans" -> "zh"), or English."""
    found = CATALOG.get(lang.lower()) or CATALOG.get(lang.lower().split("-")[0])
    return found if found is not None else CATALOG[DEFAULT_LANG]


def text(lang: str, key: str, /, **values: str | int) -> Html:
    """Return entry `key` in `lang` (English if missing) with every value HTML-escaped."""
    entry = _catalog(lang).get(key)
    if entry is None:
        entry = CATALOG[DEFAULT_LANG][key]
    if isinstance(entry, Plural):
        # One rule serves English and languages without plural forms (both forms equal).
        entry = entry.one if values["count"] == 1 else entry.other
    return Html(entry.format_map({name: _escape(value) for name, value in values.items()}))


def _escape(value: str | int) -> str:
    if isinstance(value, Html):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    # Telegram needs only <, > and & escaped outside tags; quotes stay readable.
    return html.escape(value, quote=False)
