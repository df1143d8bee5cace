"""Presses on inline buttons: switch a window, remove a rule, and edit the message."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.handlers.context import BotContext, edit, locale_of
from bot.handlers.keyboards import parse_press
from bot.handlers.market import stats_view, top_view
from bot.handlers.middleware import may_press
from bot.handlers.subscriptions import (
    cascade_rules_of,
    remove_cascades,
    remove_everything,
    remove_rules,
    subs_view,
)
from bot.render.cascades import cascades_removed
from bot.render.chat import not_admin, rules_removed, unsubscribe_cancelled
from bot.render.html import plain_text, split_message


async def button(update: Update, context: BotContext) -> None:
    """Handle a press on an inline button: switch a window, or remove a rule."""
    query = update.callback_query
    if query is None:
        return
    press = parse_press(query.data)
    chat = update.effective_chat
    loc = locale_of(update, context)
    if press is None or chat is None or query.message is None:
        await query.answer()  # an old or foreign button: nothing to do
        return
    if not await may_press(update, context, press):
        await query.answer(plain_text(not_admin(loc=loc)), show_alert=True)
        return
    services = context.bot_data
    view: tuple[str, InlineKeyboardMarkup | None] | None
    notice = ""
    if press.action == "top":
        if press.number not in services.queries.windows_s:
            await query.answer()
            return
        view = top_view(services, press.number, loc)
    elif press.action == "st":
        if press.number not in services.queries.windows_s:
            await query.answer()
            return
        view = stats_view(services, press.asset, press.number, loc)
    elif press.action == "rm":
        rules = [r for r in services.rules.rules_for(chat.id) if r.rule_id == press.number]
        await remove_rules(services, chat.id, rules)
        notice = plain_text(rules_removed(len(rules), loc=loc))
        view = await subs_view(services, chat.id, loc)
    elif press.action in ("rma", "rmk"):
        done = (
            await remove_everything(services, chat.id, loc)
            if press.action == "rma"
            else unsubscribe_cancelled(loc=loc)
        )
        notice = plain_text(done)
        view = (done, None)
    else:  # "rmc"
        ids = [r.rule_id for r in cascade_rules_of(services, chat.id) if r.rule_id == press.number]
        await remove_cascades(services, chat.id, ids)
        notice = plain_text(cascades_removed(len(ids), loc=loc))
        view = await subs_view(services, chat.id, loc)
    if view is not None:
        await _edit(query.message.chat.id, query.message.message_id, view, context)
    await query.answer(notice or None)


async def _edit(
    chat_id: int,
    message_id: int,
    view: tuple[str, InlineKeyboardMarkup | None],
    context: BotContext,
) -> None:
    """Replace a message's text and buttons; an unchanged message is left as it is."""
    text, markup = view
    await edit(context.bot, chat_id, message_id, split_message(text)[0], markup)
