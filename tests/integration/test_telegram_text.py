"""Telegram HTML parsing and command detection of the fake Bot API, against TDLib's behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.telegram_text import EntityParseError, command_entities, parse_html


@pytest.mark.parametrize(
    ("markup", "plain", "entities"),
    [
        (
            "<b>bold</b> <i>it</i>",
            "bold it",
            [
                {"offset": 0, "length": 4, "type": "bold"},
                {"offset": 5, "length": 2, "type": "italic"},
            ],
        ),
        # Offsets count UTF-16 units: the emoji is two.
        ("😀 <u>x</u>", "😀 x", [{"offset": 3, "length": 1, "type": "underline"}]),
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "x = 1",
            [{"offset": 0, "length": 5, "type": "pre", "language": "python"}],
        ),
        (
            '<code class="language-python">x</code>',
            "x",
            [{"offset": 0, "length": 1, "type": "code"}],
        ),
        (
            '<a href="https://t.me/x?a=1&amp;b=2">link</a>',
            "link",
            [{"offset": 0, "length": 4, "type": "text_link", "url": "https://t.me/x?a=1&b=2"}],
        ),
        ("&lt;&gt;&amp;&quot;&#36;&#x24;", '<>&"$$', []),
        (
            "<blockquote expandable>q</blockquote>",
            "q",
            [{"offset": 0, "length": 1, "type": "expandable_blockquote"}],
        ),
        (
            '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span>',
            "st",
            [
                {"offset": 0, "length": 1, "type": "spoiler"},
                {"offset": 1, "length": 1, "type": "spoiler"},
            ],
        ),
        (
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
            "👍",
            [
                {
                    "offset": 0,
                    "length": 2,
                    "type": "custom_emoji",
                    "custom_emoji_id": "5368324170671202286",
                }
            ],
        ),
        (
            "<B>x</B> <s>y</>",
            "x y",
            [
                {"offset": 0, "length": 1, "type": "bold"},
                {"offset": 2, "length": 1, "type": "strikethrough"},
            ],
        ),
        ("<b></b>x", "x", []),  # an empty entity is dropped, not refused
        ("AT&T 5 > 3", "AT&T 5 > 3", []),  # Telegram keeps a bare & and > as text
    ],
)
def test_valid_html_gives_telegrams_text_and_entities(
    markup: str, plain: str, entities: list[dict[str, Any]]
) -> None:
    assert parse_html(markup) == (plain, entities)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("é<foo>", 'Unsupported start tag "foo" at byte offset 2'),  # bytes, not characters
        ("x <b", "Unclosed start tag at byte offset 2"),
        ('<a href="x"', "Unclosed start tag at byte offset 0"),
        ("<a href", 'Unclosed start tag "a" at byte offset 0'),
        ('<a ="x">y</a>', 'Empty attribute name in the tag "a" at byte offset 0'),
        ("<a href=x/>y</a>", "Unexpected end of name token at byte offset 8"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ('<tg-emoji emoji-id="x">y</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)
def test_invalid_html_is_refused_with_tdlibs_message(markup: str, error: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(markup)

    assert str(caught.value) == error


def test_strict_mode_refuses_a_bare_ampersand_but_not_a_reference() -> None:
    assert parse_html("a &amp; b", strict_ampersand=True) == ("a & b", [])
    with pytest.raises(EntityParseError, match=r'^Unescaped "&" at byte offset 2$'):
        parse_html("a & b", strict_ampersand=True)


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("/start", [(0, 6)]),
        ("/status@liquidation_test_bot now", [(0, 28)]),
        ("hi 😀 /help", [(6, 5)]),
        ("/top 10 then /stats", [(0, 4), (13, 6)]),
        ("a/b and /x/y and http://x.y/z", []),
    ],
)
def test_bot_commands_get_entities_with_utf16_offsets(
    text: str, spans: list[tuple[int, int]]
) -> None:
    expected = [{"type": "bot_command", "offset": o, "length": n} for o, n in spans]

    assert command_entities(text) == expected
