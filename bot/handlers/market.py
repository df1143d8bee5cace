"""What the market did: /stats, /top, /latest and /chart."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update

from aggregation.query import WindowTotals
from bot.handlers.context import BotContext, Services, reply, reply_photo
from bot.handlers.keyboards import window_buttons
from bot.handlers.market_args import parse_chart, parse_latest, parse_stats, parse_window
from bot.handlers.middleware import read_request, refuse
from bot.render import market
from bot.render.charts import render_chart_async
from bot.texts.catalog import Locale
from bot.texts.usage import UsageError

log = logging.getLogger(__name__)


async def stats(update: Update, context: BotContext) -> None:
    """Every window, long vs short, per exchange, with coverage notes and window buttons; a
    period of whole days (`/stats BTC 7d`) adds its row from the rollups."""
    services = context.bot_data
    queries = services.queries
    asked = await read_request(
        update,
        context,
        lambda args: parse_stats(args, queries.windows_s, queries.history_s),
        configure=False,
    )
    if asked is None:
        return
    request, loc = asked
    asset, period = request.asset, request.period_s
    if period is None or period in queries.windows_s:
        view = stats_view(services, asset, period, loc)
    else:
        totals = await queries.totals(period, asset)
        view = None if totals is None else stats_view(services, asset, None, loc, totals)
    if view is None:
        await refuse(update, loc, UsageError("err_no_asset_data", "/top", asset=asset or ""))
        return
    await reply(update, *view)


async def top(update: Update, context: BotContext) -> None:
    """Top assets by long and by short liquidations in a window, with window buttons."""
    services = context.bot_data
    queries = services.queries
    asked = await read_request(
        update,
        context,
        lambda args: parse_window(
            args, queries.windows_s, queries.windows_s[-1], queries.history_s
        ),
        configure=False,
    )
    if asked is None:
        return
    window, loc = asked
    if window not in queries.windows_s:  # days from the rollups
        board = await queries.top(window, 10)
        await reply(update, market.top(board, queries.window_coverage(window), loc=loc))
        return
    await reply(update, *top_view(services, window, loc))


async def latest(update: Update, context: BotContext) -> None:
    """The newest liquidations, optionally of one asset."""
    services = context.bot_data
    asked = await read_request(update, context, parse_latest, configure=False)
    if asked is None:
        return
    request, loc = asked
    floor = services.settings.min_event_usd
    records = services.queries.latest(request.count, request.asset, min_usd=floor)
    await reply(update, market.latest(records, asset=request.asset, min_usd=floor, loc=loc))


async def chart(update: Update, context: BotContext) -> None:
    """Send a chart of liquidated USD per interval: the market or one asset, 1m to 24h."""
    services = context.bot_data
    queries = services.queries
    asked = await read_request(
        update, context, lambda args: parse_chart(args, queries.history_s), configure=False
    )
    if asked is None:
        return
    (asset, window_s), loc = asked
    if asset is not None and queries.asset(asset) is None:
        await refuse(update, loc, UsageError("err_no_asset_data", "/chart", asset=asset))
        return
    series = await queries.series(window_s, asset)
    since = queries.collecting_since(window_s)
    caption = market.chart_caption(
        series, queries.window_coverage(window_s), loc=loc, since_ms=since
    )
    try:
        png = await render_chart_async(series, lang=loc.lang, tz=loc.tz)
    except Exception:  # a drawing bug must not cost the user an answer
        log.exception("chart of %s over %ds failed", asset or "the market", window_s)
        await reply(update, market.chart_failed(loc=loc))
        return
    await reply_photo(update, png, caption)


def stats_view(
    services: Services,
    asset: str | None,
    detail_s: int | None,
    loc: Locale,
    period: WindowTotals | None = None,
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """Return /stats with its window buttons; None for an asset without data. `period`: one
    more row (whole days, from the rollups), shown by exchange and covered by the notes."""
    queries = services.queries
    windows = queries.market() if asset is None else queries.asset(asset)
    if windows is None:
        return None
    span = queries.windows_s[-1]
    if period is not None:
        windows, span = (*windows, period), period.window_s
        detail_s = span
    coverage = queries.window_coverage(span)
    since = queries.collecting_since(span)
    text = market.stats(asset, windows, coverage, detail_s=detail_s, loc=loc, since_ms=since)
    markup = window_buttons(queries.windows_s, detail_s or span, asset=asset, stats=True)
    return text, markup


def top_view(services: Services, window: int, loc: Locale) -> tuple[str, InlineKeyboardMarkup]:
    """Return /top of a window with its window buttons."""
    queries = services.queries
    board = queries.leaderboard(window, 10)
    since = queries.collecting_since(window)
    text = market.top(board, queries.window_coverage(window), loc=loc, since_ms=since)
    return text, window_buttons(queries.windows_s, window)
