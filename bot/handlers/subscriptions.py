"""Alert and cascade rules: /subscribe, /unsubscribe, /subs and /cascade."""

from __future__ import annotations

import dataclasses

from telegram import InlineKeyboardMarkup, Update

from aggregation.query import Backtest
from bot.handlers.arguments import (
    MAX_CASCADE_RULES_PER_CHAT,
    UnsubscribeRequest,
    parse_cascade,
    parse_subscribe,
    parse_unsubscribe,
)
from bot.handlers.context import BotContext, Services, locale_of, reply, topic_of
from bot.handlers.keyboards import confirm_buttons, remove_buttons
from bot.handlers.middleware import chat_of, read_request, refuse, set_up_chat
from bot.render.cascades import cascade_rule_added, cascades_removed
from bot.render.chat import rule_added, rules_list, rules_removed, unsubscribe_confirm
from bot.render.common import phrase
from bot.render.html import plain_text
from bot.rules.cascade import CascadeRule
from bot.rules.matching import MAX_RULES_PER_CHAT, Rule
from bot.rules.replay import cascade_episodes
from bot.texts.catalog import Locale
from bot.texts.usage import UsageError


async def subscribe(update: Update, context: BotContext) -> None:
    """Add an alert rule for this chat."""
    services = context.bot_data
    chat = chat_of(update)
    asked = await read_request(
        update,
        context,
        lambda args: parse_subscribe(args, services.settings.default_min_usd),
        configure=True,
    )
    if asked is None:
        return
    request, loc = asked
    topic = topic_of(update)  # a rule set in a forum topic posts there
    same = [
        rule.rule_id
        for rule in services.rules.rules_for(chat.id)
        if (rule.assets, rule.min_usd, rule.side, rule.exchanges, rule.topic)
        == (request.assets, request.min_usd, request.side, request.exchanges, topic)
    ]
    if same:
        await refuse(update, loc, UsageError("err_rule_exists", "/subs", rule_id=f"#{same[0]}"))
        return
    if len(services.rules.rules_for(chat.id)) >= MAX_RULES_PER_CHAT:
        await refuse(
            update, loc, UsageError("err_rule_limit", "/unsubscribe #12", count=MAX_RULES_PER_CHAT)
        )
        return
    await set_up_chat(update, context)
    rule = await services.store.add_rule(
        chat.id, request.assets, request.min_usd, request.side, request.exchanges, topic=topic
    )
    services.rules.add(rule)
    tested = await backtest(services, rule)
    await reply(
        update, rule_added(rule, loc=loc, backtest=tested, unlisted=unlisted(services, rule))
    )


async def unsubscribe(update: Update, context: BotContext) -> None:
    """Remove rules (all, by asset, or by id)."""
    services = context.bot_data
    chat = chat_of(update)
    asked = await read_request(update, context, parse_unsubscribe, configure=True)
    if asked is None:
        return
    request, loc = asked
    if not context.args:  # bare: show what would go and ask first
        await reply(update, *confirm_view(services, chat.id, loc))
        return
    removed: list[Rule] = []
    changed: list[tuple[Rule, Rule]] = []  # (old, with fewer assets)
    for rule in services.rules.rules_for(chat.id):
        if request.everything or rule.rule_id in request.rule_ids:
            removed.append(rule)
        elif request.assets and rule.assets & request.assets:
            remaining = rule.assets - request.assets
            if remaining:
                changed.append((rule, dataclasses.replace(rule, assets=remaining)))
            else:
                removed.append(rule)
    await remove_rules(services, chat.id, removed)
    for old_rule, new_rule in changed:
        services.rules.remove(old_rule)
        services.rules.add(new_rule)
        await services.store.replace_rule(new_rule)
    cascades = [
        rule.rule_id
        for rule in cascade_rules_of(services, chat.id)
        if request.everything or rule.rule_id in request.cascade_ids
    ]
    await remove_cascades(services, chat.id, cascades)
    await reply(update, removed_text(request, len(removed) + len(changed), len(cascades), loc))


def removed_text(request: UnsubscribeRequest, rules: int, cascades: int, loc: Locale) -> str:
    """Return one consistent answer: what was removed (never "nothing" next to "removed 1")."""
    answers = []
    if request.rule_ids or request.assets or (request.everything and (rules or not cascades)):
        answers.append(rules_removed(rules, loc=loc))
    if request.cascade_ids or (request.everything and cascades):
        answers.append(cascades_removed(cascades, loc=loc))
    return "\n".join(answers)


def confirm_view(
    services: Services, chat_id: int, loc: Locale
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Return what a bare /unsubscribe would remove with remove/keep buttons (none if empty)."""
    rules = services.rules.rules_for(chat_id)
    cascades = cascade_rules_of(services, chat_id)
    if not rules and not cascades:
        return rules_removed(0, loc=loc), None
    buttons = confirm_buttons(
        plain_text(phrase(loc, "unsub_confirm_button")),
        plain_text(phrase(loc, "unsub_cancel_button")),
    )
    return unsubscribe_confirm(rules, cascades, loc=loc), buttons


async def remove_everything(services: Services, chat_id: int, loc: Locale) -> str:
    """Remove every rule and cascade rule of a chat (a confirmed bare /unsubscribe)."""
    rules = services.rules.rules_for(chat_id)
    cascades = [rule.rule_id for rule in cascade_rules_of(services, chat_id)]
    await remove_rules(services, chat_id, rules)
    await remove_cascades(services, chat_id, cascades)
    return removed_text(UnsubscribeRequest(everything=True), len(rules), len(cascades), loc)


async def subs(update: Update, context: BotContext) -> None:
    """List this chat's rules, schedule and preferences, with a remove button per rule."""
    text, markup = await subs_view(context.bot_data, chat_of(update).id, locale_of(update, context))
    await reply(update, text, markup)


async def cascade(update: Update, context: BotContext) -> None:
    """Add a cascade rule (one message per cascade, edited as it grows), or remove them all."""
    services = context.bot_data
    chat = chat_of(update)
    asked = await read_request(update, context, parse_cascade, configure=True)
    if asked is None:
        return
    request, loc = asked
    existing = cascade_rules_of(services, chat.id)
    if request is None:
        await remove_cascades(services, chat.id, [rule.rule_id for rule in existing])
        await reply(update, cascades_removed(len(existing), loc=loc))
        return
    topic = topic_of(update)  # a cascade rule set in a forum topic posts there
    twin = [
        rule.rule_id
        for rule in existing
        if (rule.asset, rule.window_ms, rule.min_usd, rule.multiple, rule.topic)
        == (request.asset, request.window_s * 1000, request.min_usd, request.multiple, topic)
    ]
    if twin:
        await refuse(update, loc, UsageError("err_rule_exists", "/subs", rule_id=f"#C{twin[0]}"))
        return
    if len(existing) >= MAX_CASCADE_RULES_PER_CHAT:
        limit = UsageError("err_cascade_limit", "/cascade off", count=MAX_CASCADE_RULES_PER_CHAT)
        await refuse(update, loc, limit)
        return
    await set_up_chat(update, context)
    rule = await services.store.add_cascade_rule(
        chat.id,
        request.asset,
        request.window_s,
        min_usd=request.min_usd,
        multiple=request.multiple,
        topic=topic,
    )
    services.cascades.add_rules([rule])
    await reply(
        update, cascade_rule_added(rule, loc=loc, backtest=await cascade_backtest(services, rule))
    )


# Below this many assets seen the bot has not watched the market long enough to call a
# name unknown (a fresh install, a quiet test): no warning then.
TRUSTED_ASSET_LIST = 20


def unlisted(services: Services, rule: Rule) -> frozenset[str]:
    """Return the rule's assets that no feed has reported (empty until the list is broad).

    A new listing is accepted with a warning rather than refused: the bot cannot know every
    exchange's newest contract, while a typo's warning names the one-command fix.
    """
    known = services.queries.assets()
    if len(known) < TRUSTED_ASSET_LIST:
        return frozenset()
    return rule.assets - frozenset(known)


async def backtest(services: Services, rule: Rule) -> Backtest:
    """Return how often a rule would have fired over the stored events of the longest window."""
    span_s = services.queries.windows_s[-1]
    return await services.queries.backtest(
        span_s,
        rule.matches,
        min_usd=rule.min_usd,
        assets=rule.assets,
        side=rule.side,
        exchanges=rule.exchanges,
    )


async def cascade_backtest(services: Services, rule: CascadeRule) -> Backtest | None:
    """Return how often an absolute cascade rule would have fired over the stored events of
    the longest window (None for a relative rule: its threshold moves with the market)."""
    if rule.min_usd is None:
        return None
    span_s = services.queries.windows_s[-1]
    events = await services.queries.recent_events(span_s)
    count, peak = cascade_episodes(rule, events)
    return Backtest(count, peak, span_s, bool(events))


async def subs_view(
    services: Services, chat_id: int, loc: Locale
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Return /subs of a chat with a remove button per rule."""
    rules = services.rules.rules_for(chat_id)
    backtests = {rule.rule_id: await backtest(services, rule) for rule in rules}
    cascades = cascade_rules_of(services, chat_id)
    text = rules_list(
        rules,
        services.scheduler.schedule_of(chat_id),
        cascades=cascades,
        prefs=services.prefs.get(chat_id),
        loc=loc,
        backtests=backtests,
    )
    return text, remove_buttons([r.rule_id for r in rules], [r.rule_id for r in cascades])


def cascade_rules_of(services: Services, chat_id: int) -> list[CascadeRule]:
    """Return a chat's cascade rules."""
    return [rule for rule in services.cascades.detector.rules() if rule.chat_id == chat_id]


async def remove_rules(services: Services, chat_id: int, rules: list[Rule]) -> None:
    """Forget alert rules and delete them from the store."""
    for rule in rules:
        services.rules.remove(rule)
    await services.store.delete_rules([r.rule_id for r in rules])


async def remove_cascades(services: Services, chat_id: int, rule_ids: list[int]) -> None:
    """Stop cascade rules and delete them from the store."""
    if rule_ids:
        services.cascades.remove_rules(chat_id, rule_ids)
        await services.store.delete_cascade_rules(rule_ids)
