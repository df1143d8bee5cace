"""The admins' status report."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.common import clip, join_lines, phrase
from bot.render.html import escape, fit
from bot.texts.catalog import DEFAULT_LOCALE, Html, Locale


def status(lines: Sequence[str], *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the admins' status report: the given lines, escaped, as many as fit."""
    escaped = [Html(escape(clip(line, 1000))) for line in lines]

    def render(shown: int) -> Html:
        body = [phrase(loc, "status_head"), *escaped[:shown]]
        if shown < len(escaped):
            body.append(phrase(loc, "status_more", count=len(escaped) - shown))
        return join_lines(body)

    return str(fit(render, len(escaped)))
