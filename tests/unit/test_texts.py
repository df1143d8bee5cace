"""The message catalog: every key messages.py uses exists, placeholders agree, entries parse."""

from __future__ import annotations

import ast
import string
from pathlib import Path
from unittest.mock import patch

import pytest

from bot.texts import CATALOG, DEFAULT_LANG, Html, Plural, placeholders, text
from tests.support.telegram_text import parse_html

MESSAGES = Path(__file__).resolve().parents[2] / "bot" / "messages.py"


def lookups() -> list[tuple[int, str, frozenset[str]]]:
    """Return (line, key, value names) of every text() call in bot/messages.py."""
    found = []
    for node in ast.walk(ast.parse(MESSAGES.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id != "text":
            continue
        key = node.args[1] if len(node.args) > 1 else None
        assert isinstance(key, ast.Constant), f"line {node.lineno}: the key must be a literal"
        assert isinstance(key.value, str), f"line {node.lineno}: the key must be a string"
        names = [keyword.arg for keyword in node.keywords]
        assert None not in names, f"line {node.lineno}: pass values by name, not **mapping"
        found.append((node.lineno, key.value, frozenset(n for n in names if n is not None)))
    return found


def test_every_lookup_names_a_catalog_key_with_exactly_its_placeholders() -> None:
    calls = lookups()
    assert len(calls) > 50  # the walk really found the lookups
    english = CATALOG[DEFAULT_LANG]
    for line, key, names in calls:
        assert key in english, f"line {line}: {key!r} is not in the catalog"
        assert names == placeholders(english[key]), f"line {line}: values for {key!r}"


def test_every_catalog_entry_is_used() -> None:
    used = {key for _, key, _ in lookups()}
    assert set(CATALOG[DEFAULT_LANG]) - used == set()


def test_messages_reads_strings_only_through_text() -> None:
    tree = ast.parse(MESSAGES.read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert "CATALOG" not in names


@pytest.mark.parametrize("lang", sorted(CATALOG))
def test_each_language_has_the_keys_and_placeholders_of_english(lang: str) -> None:
    english = CATALOG[DEFAULT_LANG]
    for key, entry in CATALOG[lang].items():
        assert key in english, f"{lang}: {key!r} is not an English key"
        assert placeholders(entry) == placeholders(english[key]), f"{lang}: {key!r}"
        if isinstance(entry, Plural):
            one, other = (placeholders(form) for form in (entry.one, entry.other))
            assert one - {"count"} == other - {"count"}, f"{lang}: {key!r} plural forms"


@pytest.mark.parametrize("lang", sorted(CATALOG))
def test_every_entry_is_telegram_html_without_format_specs(lang: str) -> None:
    for key, entry in CATALOG[lang].items():
        forms = (entry.one, entry.other) if isinstance(entry, Plural) else (entry,)
        for form in forms:
            for _, name, spec, conversion in string.Formatter().parse(form):
                assert not spec, f"{lang} {key}: {name} has a format spec"
                assert conversion is None, f"{lang} {key}: {name} has a conversion"
                assert name is None or name.isidentifier(), f"{lang} {key}: {name!r}"
            values = {name: "&lt;v&amp;&gt;" for name in placeholders(entry)}
            values["count"] = "2"
            rendered = form.format_map(values)
            parse_html(rendered, strict_ampersand=True)  # raises on bad markup


def test_values_are_escaped_unless_already_html() -> None:
    assert text("en", "usage", reason='<b>&"x', example="/a <b>") == (
        '⚠️ &lt;b&gt;&amp;"x\nExample: <code>/a &lt;b&gt;</code>'
    )
    assert text("en", "summary_largest", event=Html("<b>x</b>")) == ("💥 <b>Largest</b>: <b>x</b>")
    assert isinstance(text("en", "not_admin"), Html)


def test_counts_choose_the_plural_form_and_get_separators() -> None:
    assert text("en", "rules_removed", count=1) == "🗑 Removed 1 rule."
    assert text("en", "rules_removed", count=12_345) == "🗑 Removed 12,345 rules."


def test_missing_language_or_entry_falls_back_to_english() -> None:
    chinese = {"not_admin": "⛔ 只有群管理员可以更改本群的提醒和摘要。"}
    with patch.dict(CATALOG, {"zh": chinese}):
        assert text("zh", "not_admin") == chinese["not_admin"]
        assert text("zh-Hans", "not_admin") == chinese["not_admin"]
        assert text("zh", "rules_none") == "No alert rules yet."
    assert text("zh", "not_admin") == text("en", "not_admin")
    assert text("xx", "rules_none") == "No alert rules yet."


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(KeyError):
        text("en", "usage", reason="x")
