"""Telegram messages: exact renderings, escaping, the 4096 limit, plain text and splitting."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.messages import plain_text, split_message
from tests.support.telegram_text import EntityParseError, parse_html, utf16_len

# --- plain text ---------------------------------------------------------------------------


def test_plain_text_strips_tags_and_decodes_as_telegram_does() -> None:
    assert plain_text('<a href="https://x.y/?a=1&amp;b=>">l&lt;</a> &amp &copy; &#36;&#x24;') == (
        "l< & &copy; $$"
    )
    assert plain_text("<b>broken") == "broken"  # what Telegram refused still reads


references = st.sampled_from(
    [
        *("&lt", "&gt;", "&amp;", "&quot", "&#", "&#x", "&#X41;", "&#65", "&#x1F600;", "&#0;"),
        *("&#1114111;", "&#123456789;", "&#x10FFFF;", "&ampx", "&foo;", "&", "&#x41", "&#9;"),
        *("&#00000065;", "&#0000065;", "&#x0000041;", "&#x000041;"),  # too long, or just not
    ]
)
html_text = st.lists(
    st.one_of(
        references,
        st.text(alphabet="ab;#x09AF é😀\n>", max_size=8),
        st.sampled_from(["<b>", "</b>", '<a href="x>y&amp;z">', "</a>", "<pre>", "</pre>"]),
    ),
    max_size=20,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(html_text)
def test_plain_text_matches_telegrams_parser(markup: str) -> None:
    try:
        plain, _ = parse_html(markup)
    except EntityParseError:
        return  # Telegram refuses it; plain_text need only not fail
    assert plain_text(markup) == plain


# --- splitting ----------------------------------------------------------------------------


def styles(markup: str, skip: str = "\n") -> list[tuple[str, frozenset[str]]]:
    """Return each character with the formatting Telegram gives it, `skip` ones left out."""
    plain, entities = parse_html(markup, strict_ampersand=True)
    result = []
    offset = 0
    for char in plain:
        covering = frozenset(
            f"{e['type']}:{e.get('url', '')}"
            for e in entities
            if e["offset"] <= offset < e["offset"] + e["length"]
        )
        if char not in skip:
            result.append((char, covering))
        offset += utf16_len(char)
    return result


words = st.text(alphabet="ab <>&\"'é😀", min_size=1, max_size=12).map(html.escape)
segment = st.one_of(
    words,
    st.tuples(st.sampled_from(["b", "i", "u", "s", "code", "tg-spoiler"]), words).map(
        lambda pair: f"<{pair[0]}>{pair[1]}</{pair[0]}>"
    ),
    words.map(lambda w: f'<a href="https://t.me/x?a=1&amp;b=2">{w}</a>'),
)
line_strategy = (
    st.lists(segment, min_size=1, max_size=4).map("".join).filter(lambda s: plain_text(s).strip())
)
# A block is one line, or several lines inside a tag that spans them.
block = st.one_of(
    line_strategy.map(lambda line: [line]),
    st.tuples(
        st.sampled_from(["<pre>", "<b>", "<blockquote expandable>", '<a href="https://e.x">']),
        st.lists(line_strategy, min_size=2, max_size=6),
    ).map(
        lambda pair: [
            pair[0] + pair[1][0],
            *pair[1][1:-1],
            pair[1][-1] + "</" + pair[0][1:].split(">")[0].split(" ")[0] + ">",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(block, min_size=1, max_size=12), st.data())
def test_split_parts_parse_fit_and_rejoin(blocks: list[list[str]], data: st.DataObject) -> None:
    lines = [line for lines in blocks for line in lines]
    markup = "\n".join(lines)
    widest = max(utf16_len(plain_text(line)) for line in lines)
    limit = data.draw(st.integers(min_value=2, max_value=widest * 4 + 10))
    parts = split_message(markup, limit)
    for part in parts:
        plain, _ = parse_html(part, strict_ampersand=True)
        assert utf16_len(plain) <= limit
    # Every character keeps its formatting. Cutting a long line adds newlines, and a piece
    # of only spaces is left out, as Telegram would refuse it.
    blank = "\n \t"
    assert [s for part in parts for s in styles(part, blank)] == styles(markup, blank)
    if limit >= widest:  # every line fits: parts end where lines end, and none is blank
        assert [s for part in parts for s in styles(part)] == styles(markup)
        assert "\n".join(parse_html(part)[0] for part in parts) == parse_html(markup)[0]
        if all(len(block) == 1 for block in blocks):
            assert "\n".join(parts) == markup  # nothing spans a cut: the parts are lines


def test_split_closes_and_reopens_a_pre_block() -> None:
    markup = "<b>Table</b>\n<pre>" + "\n".join(f"row {i:02d} &amp;" for i in range(6)) + "</pre>"
    assert split_message(markup, 30) == [
        "<b>Table</b>\n<pre>row 00 &amp;\nrow 01 &amp;</pre>",
        "<pre>row 02 &amp;\nrow 03 &amp;\nrow 04 &amp;</pre>",
        "<pre>row 05 &amp;</pre>",
    ]


def test_split_keeps_a_short_message_whole() -> None:
    short = "<b>BTC</b> long liquidated\n<code>BTCUSDT</code> &amp; more"
    assert split_message(short) == [short]
    assert split_message("") == []
    assert split_message("a\n\n\n\nb", 2) == ["a\n", "b"]  # a blank part would be refused


def test_split_cuts_an_overlong_line_between_characters() -> None:
    markup = "<b>" + "x&amp;😀" * 3_000 + "</b>\nend"
    parts = split_message(markup)
    assert len(parts) == 3  # 12,000 UTF-16 units of text, then "end"
    for part in parts:
        assert utf16_len(parse_html(part, strict_ampersand=True)[0]) <= 4096
    rejoined = "".join(parse_html(part)[0] for part in parts).replace("\n", "")
    assert rejoined == "x&😀" * 3_000 + "end"


def test_split_rejects_a_limit_below_two() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_message("x", 1)
