"""Replies about a chat's own settings: rules, schedules, language, time zone, quiet hours, help."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from aggregation.query import Backtest
from bot.prefs.chats import ChatPrefs, QuietHours
from bot.prefs.schedules import Schedule
from bot.render.common import backtest_line, cascade_rule_text, clip, join_lines, local_time, phrase
from bot.render.html import escape, fit
from bot.rules.cascade import CascadeRule
from bot.rules.matching import Rule
from bot.texts.catalog import DEFAULT_LOCALE, Html, Locale, text
from bot.texts.durations import format_window
from bot.texts.formatting import format_threshold, zone_name
from bot.texts.usage import UsageError
from collectors.record import Side


def rules_list(
    rules: Sequence[Rule],
    schedule: Schedule | None,
    *,
    cascades: Sequence[CascadeRule] = (),
    prefs: ChatPrefs | None = None,
    loc: Locale = DEFAULT_LOCALE,
    backtests: Mapping[int, Backtest] | None = None,
) -> str:
    """Return /subs: one line per rule (with its backtest count), the summary schedule, the
    chat's preferences and how to change them."""
    most_assets = max((len(rule.assets) + len(rule.exchanges) for rule in rules), default=0)

    def render(level: int) -> Html:
        # Levels first add rules (one asset each), then assets to every rule.
        shown = min(len(rules), level)
        per_rule = max(1, level - len(rules) + 1)
        lines = [phrase(loc, "rules_head")]
        if not rules:
            lines.append(phrase(loc, "rules_none"))
        for rule in rules[:shown]:
            line = _rule_line(loc, rule, per_rule)
            lines.append(Html(line + _backtest_short((backtests or {}).get(rule.rule_id), loc)))
        if shown < len(rules):
            lines.append(phrase(loc, "rules_more", count=len(rules) - shown))
        lines += [_cascade_line(loc, rule) for rule in cascades]
        topic = _topic(loc, schedule.topic if schedule is not None else None)
        lines.append(Html(phrase(loc, "rules_schedule", schedule=_schedule(loc, schedule)) + topic))
        if prefs is not None:
            lines.append(_prefs_line(loc, prefs))
        lines.append(phrase(loc, "rules_change"))
        return join_lines(lines)

    return str(fit(render, len(rules) + most_assets))


def rule_added(
    rule: Rule,
    *,
    loc: Locale = DEFAULT_LOCALE,
    backtest: Backtest | None = None,
    unlisted: frozenset[str] = frozenset(),
) -> str:
    """Return the reply to /subscribe, restating the rule as understood, how often it would
    have fired over the stored events (if any are stored), and which assets no feed knows."""

    def render(level: int) -> Html:
        desc = _rule_text(loc, rule, max(1, level))
        added = phrase(loc, "rule_added", rule_id=str(rule.rule_id), rule=desc)
        lines = [added, backtest_line(backtest, loc)]
        if unlisted:
            names = _listed(loc, sorted(unlisted), max(1, level))
            lines.append(phrase(loc, "not_listed", assets=names, rule_id=str(rule.rule_id)))
        return join_lines([line for line in lines if line])

    return str(fit(render, len(rule.assets) + len(rule.exchanges)))


def rules_removed(count: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /unsubscribe."""
    if count <= 0:
        return str(phrase(loc, "rules_removed_none"))
    return str(phrase(loc, "rules_removed", count=count))


def schedule_set(
    schedule: Schedule | None, *, loc: Locale = DEFAULT_LOCALE, next_day: dt.date | None = None
) -> str:
    """Return the reply to /summary; None means summaries were turned off. `next_day`: the
    first day a summary every N days comes."""
    if schedule is None:
        return str(phrase(loc, "schedule_off"))
    text = phrase(loc, "schedule_set", schedule=_schedule(loc, schedule))
    if next_day is not None:
        text = Html(text + phrase(loc, "schedule_next", date=next_day.isoformat()))
    return str(text)


def language_set(lang: str | None, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /lang: the chosen language, or None for each user's own."""
    if lang is None:
        return str(phrase(loc, "lang_auto", name=phrase(loc, "lang_name")))
    return str(phrase(loc, "lang_set", name=phrase(loc, "lang_name")))


def zone_set(zone_name: str, now_ms: int, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /tz: the zone and the time there now."""
    return str(phrase(loc, "tz_set", zone=clip(zone_name, 40), time=local_time(loc, now_ms)))


def quiet_set(quiet: QuietHours | None, zone_name: str, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to /quiet; None means quiet hours were turned off."""
    if quiet is None:
        return str(phrase(loc, "quiet_off"))
    return str(phrase(loc, "quiet_set", hours=quiet.label(), zone=clip(zone_name, 40)))


def usage_key(key: str, example: str, *, loc: Locale = DEFAULT_LOCALE, **values: str | int) -> str:
    """Return the reply to a bad command whose reason is catalog entry `key`."""
    reason = phrase(
        loc, key, **{k: clip(v, 200) if isinstance(v, str) else v for k, v in values.items()}
    )
    return str(phrase(loc, "usage", reason=reason, example=clip(example, 200)))


def usage_error(exc: UsageError, *, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the reply to a command whose arguments failed to parse."""
    return usage_key(exc.key, exc.example, loc=loc, **exc.values)


def not_admin(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the refusal for a member who is not a chat administrator."""
    return str(phrase(loc, "not_admin"))


def help_text(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return /help: every command with examples, the colours and the data note."""
    return str(join_lines([phrase(loc, "help_body"), Html(""), phrase(loc, "data_note")]))


def start_text(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return /start: what the bot does, then the same guide as /help."""
    return str(join_lines([phrase(loc, "start_intro"), Html(""), Html(help_text(loc=loc))]))


def _backtest_short(backtest: Backtest | None, loc: Locale) -> str:
    if backtest is None or not backtest.has_events:
        return ""
    return phrase(loc, "backtest_short", count=backtest.count, span=format_window(backtest.span_s))


def unsubscribe_confirm(
    rules: Sequence[Rule], cascades: Sequence[CascadeRule], *, loc: Locale = DEFAULT_LOCALE
) -> str:
    """Return what a bare /unsubscribe would remove, asking to confirm with a button."""
    lines = [phrase(loc, "unsub_confirm", count=len(rules) + len(cascades))]
    lines += [_rule_line(loc, rule, 3) for rule in rules]
    lines += [_cascade_line(loc, rule) for rule in cascades]
    return str(fit(lambda level: join_lines(lines[: level + 1]), len(lines)))


def unsubscribe_cancelled(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the answer to "keep them" under a bare /unsubscribe."""
    return str(phrase(loc, "unsub_cancelled"))


def failed_text(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the answer to a command that failed inside the bot."""
    return str(phrase(loc, "failed"))


def plain_message_hint(*, loc: Locale = DEFAULT_LOCALE) -> str:
    """Return the pointer to /help for a plain message in a private chat."""
    return str(phrase(loc, "plain_message"))


def command_description(name: str, lang: str) -> str:
    """Return a command's one-line description for the menu (plain text)."""
    return str(text(lang, f"cmd_{name}"))


def _prefs_line(loc: Locale, prefs: ChatPrefs) -> Html:
    quiet = phrase(loc, "quiet_none") if prefs.quiet is None else prefs.quiet.label()
    return phrase(
        loc,
        "prefs_line",
        zone=clip(prefs.tz or "UTC", 40),
        quiet=quiet,
        lang=phrase(loc, "lang_name"),
    )


def _rule_line(loc: Locale, rule: Rule, most: int) -> Html:
    """Return "#3 BTC ≥ $100K, ..." (at most `most` assets and exchanges), topic marked."""
    line = phrase(loc, "rule_line", rule_id=str(rule.rule_id), rule=_rule_text(loc, rule, most))
    return Html(line + _topic(loc, rule.topic))


def _cascade_line(loc: Locale, rule: CascadeRule) -> Html:
    """Return a cascade rule's line in a list, topic marked."""
    return Html(cascade_rule_text(loc, rule, None) + _topic(loc, rule.topic))


def _topic(loc: Locale, topic: int | None) -> Html:
    """Return " · in topic #7" for what was set in a forum topic (it posts there), else ""."""
    return Html("") if topic is None else phrase(loc, "in_topic", topic=topic)


def _schedule(loc: Locale, schedule: Schedule | None) -> Html:
    if schedule is None:
        return phrase(loc, "schedule_none")
    minute = schedule.daily_minute or 0
    clock = f"{minute // 60:02d}:{minute % 60:02d}"
    if schedule.days is not None and schedule.every_s is not None:
        window = format_window(schedule.every_s)
        return phrase(loc, "schedule_days", window=window, clock=clock, zone=zone_name(loc.tz))
    if schedule.every_s is not None:
        return phrase(loc, "schedule_every", window=format_window(schedule.every_s))
    return phrase(loc, "schedule_daily", clock=clock, zone=zone_name(loc.tz))


def _rule_text(loc: Locale, rule: Rule, most: int) -> Html:
    """Describe a rule, listing at most `most` assets and `most` exchanges."""
    every = phrase(loc, "rule_every_asset")
    assets = _listed(loc, sorted(rule.assets), most) if rule.assets else every
    if rule.side is None:
        side = phrase(loc, "rule_both_sides")
    elif rule.side is Side.LONG:
        side = phrase(loc, "rule_longs_only")
    else:
        side = phrase(loc, "rule_shorts_only")
    if rule.exchanges:
        exchanges = _listed(loc, sorted(rule.exchanges), most)
    else:
        exchanges = phrase(loc, "rule_all_exchanges")
    return phrase(
        loc,
        "rule_desc",
        assets=assets,
        min_usd=format_threshold(rule.min_usd),
        side=side,
        exchanges=exchanges,
    )


def _listed(loc: Locale, names: Sequence[str], most: int) -> Html:
    shown = ", ".join(clip(name) for name in names[:most])
    if len(names) <= most:
        return Html(escape(shown))
    return phrase(loc, "rule_more", names=shown, count=len(names) - most)
