"""The message catalog: every key the bot looks up exists, placeholders agree, entries parse."""

from __future__ import annotations

import ast
import string
from pathlib import Path
from unittest.mock import patch

import pytest

from bot.handlers import registry
from bot.texts.catalog import CATALOG, DEFAULT_LANG, Html, placeholders, text
from bot.texts.entries import Plural
from tests.support.telegram_text import parse_html

BOT = Path(__file__).resolve().parents[2] / "bot"
RENDER = BOT / "render"
# Where catalog keys are looked up, and which argument holds the key.
KEY_ARGUMENT = {"phrase": 1, "text": 1, "UsageError": 0, "usage_key": 0}
# Keys built at run time: the command menu and the summary periods.
DYNAMIC = {f"cmd_{name}" for name in (*registry.COMMANDS, "status")} | {
    f"period_{s}" for s in (900, 3600, 14400, 86400)
}


def lookups() -> list[tuple[str, str, frozenset[str]]]:
    """Return (place, key, value names) of every literal catalog lookup in bot/."""
    found = []
    for path in sorted(BOT.rglob("*.py")):
        if path.parent == BOT / "texts":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            position = KEY_ARGUMENT.get(name)
            if position is None or len(node.args) <= position:
                continue
            key = node.args[position]
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                continue  # a generic path (usage_key's own lookup) or a DYNAMIC key
            names = [keyword.arg for keyword in node.keywords if keyword.arg != "loc"]
            place = f"{path.name}:{node.lineno}"
            assert None not in names, f"{place}: pass values by name, not **mapping"
            found.append((place, key.value, frozenset(n for n in names if n is not None)))
    return found


def test_every_lookup_names_a_catalog_key_with_exactly_its_placeholders() -> None:
    calls = lookups()
    assert len(calls) > 80  # the walk really found the lookups
    english = CATALOG[DEFAULT_LANG]
    for place, key, names in calls:
        assert key in english, f"{place}: {key!r} is not in the catalog"
        assert names == placeholders(english[key]), f"{place}: values for {key!r}"
    for key in DYNAMIC:
        assert key in english, key


def test_every_catalog_entry_is_used() -> None:
    used = {key for _, key, _ in lookups()} | DYNAMIC
    assert set(CATALOG[DEFAULT_LANG]) - used == set()


def test_messages_reads_strings_only_through_text() -> None:
    for path in sorted(RENDER.glob("*.py")):
        tree = ast.parse(path.read_text())
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert "CATALOG" not in names


@pytest.mark.parametrize("lang", sorted(CATALOG))
def test_each_language_has_the_keys_and_placeholders_of_english(lang: str) -> None:
    english = CATALOG[DEFAULT_LANG]
    assert set(CATALOG[lang]) == set(english)  # no key missing, none extra
    for key, entry in CATALOG[lang].items():
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
            values = dict.fromkeys(placeholders(entry), "&lt;v&amp;&gt;")
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
    with patch.dict(CATALOG, {"zh": {}}):
        assert text("zh", "not_admin") == text("en", "not_admin")
    assert text("xx", "rules_none") == "No alert rules yet."


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(KeyError):
        text("en", "usage", reason="x")
