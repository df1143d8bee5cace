"""A user's mistake in a command: the reason as a catalog entry, and a correct example."""

from __future__ import annotations

import html

from bot.texts.catalog import DEFAULT_LANG, text


class UsageError(ValueError):
    """A command's arguments are wrong: a reason (a catalog `key` and its values, one line
    in every language) and a correct `example`."""

    def __init__(self, key: str, example: str, **values: str | int) -> None:
        self.key = key
        self.values = values
        self.example = example
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """Return the reason in English, as plain text (for logs and tests)."""
        return html.unescape(text(DEFAULT_LANG, self.key, **self.values))


def quote_input(token: str) -> str:
    """Quote user input for a reason line, shortened (it may be 10,000 characters)."""
    return repr(token if len(token) <= 24 else token[:24] + "…")
