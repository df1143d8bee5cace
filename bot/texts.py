"""Hold every user-visible string of the Telegram bot, keyed, per language."""

from __future__ import annotations

import html
import string
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_LANG = "en"


class Html(str):
    """Text that is already Telegram HTML: `text` inserts it without escaping it again."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Plural:
    """An entry with a singular and a plural form, chosen by the `count` value."""

    one: str
    other: str


Entry = str | Plural

# Templates are Telegram HTML with {name} placeholders (no format specs: values arrive
# formatted). `text` escapes every value, so a template never escapes one itself.
CATALOG: dict[str, dict[str, Entry]] = {
    "en": {
        # --- shared pieces -------------------------------------------------------------------
        "liquidated_long": "long liquidated",
        "liquidated_short": "short liquidated",
        "side_long": "long",
        "side_short": "short",
        "event_line": "{dot} {asset} {side} {usd} at {price} · {venue} · {time}",
        "span": "{start} – {end}",
        "more_lines": Plural("…and {count} more", "…and {count} more"),
        "no_liquidations": "no liquidations",
        "data_note": (
            "<i>ℹ️ Binance totals are a lower bound: it reports at most one liquidation per "
            "symbol per second. OKX reports only part of its liquidations. Bybit reports all "
            "of them.</i>"
        ),
        "feed_down": "⚠️ {feed} feed was up {share} of {span}",
        "feed_down_now": "⚠️ {feed} feed was up {share} of {span} and is down now",
        "feed_down_at_end": "⚠️ {feed} feed was up {share} of {span} and down when it ended",
        "more_feeds": Plural("⚠️ +{count} more feed was down", "⚠️ +{count} more feeds were down"),
        "gap": "   gap from {start}, {duration}, {state}",
        "gap_backfilled": "backfilled from the exchange",
        "gap_missing": "not backfilled",
        "more_gaps": Plural("   +{count} earlier gap", "   +{count} earlier gaps"),
        "last_window": "the last {window}",
        "col_usd": "USD",
        "col_events": "events",
        "col_long": "long",
        "col_short": "short",
        "col_total": "total",
        "col_rank": "#",
        "col_asset": "asset",
        "col_count": "events",
        # --- alerts ----------------------------------------------------------------------------
        "alert": (
            "{dot} <b>{asset}</b> {liquidated}: <b>{usd}</b>\n"
            "{venue} · <code>{symbol}</code> · price {price}\n"
            "{time}"
        ),
        "digest_head": Plural(
            "⚡ <b>{count} liquidation alert</b>", "⚡ <b>{count} liquidation alerts</b>"
        ),
        "digest_totals": (
            "🔴 Longs {long_usd} ({long_count}) · 🟢 Shorts {short_usd} ({short_count})"
        ),
        "digest_largest": "Largest first:",
        "digest_more": Plural("…and {count} more ({usd})", "…and {count} more ({usd})"),
        "notice": "⚠️ {details}",
        "notice_dropped": Plural(
            "{count} alert was not sent: this chat's alert queue was full.",
            "{count} alerts were not sent: this chat's alert queue was full.",
        ),
        "notice_uncertain": Plural(
            "{count} alert may not have arrived: Telegram did not confirm it.",
            "{count} alerts may not have arrived: Telegram did not confirm them.",
        ),
        # --- /stats ----------------------------------------------------------------------------
        "stats_head_market": "📊 <b>Liquidations, all assets</b>",
        "stats_head_asset": "📊 <b>Liquidations, {asset}</b>",
        "stats_as_of": "Windows ending {time}",
        "stats_empty": "No liquidations in {span}.",
        "stats_no_windows": "No windows are configured.",
        "stats_by_exchange": "<b>By exchange, last {window}</b>",
        # --- /top ------------------------------------------------------------------------------
        "top_head": "🏆 <b>Most liquidated assets, last {window}</b>",
        "top_as_of": "As of {time}",
        "top_longs": "🔴 <b>Longs liquidated</b>",
        "top_shorts": "🟢 <b>Shorts liquidated</b>",
        # --- /latest ---------------------------------------------------------------------------
        "latest_head": "🕒 <b>Latest liquidations, {asset}</b> ({floor})",
        "latest_all_assets": "all assets",
        "latest_floor": "at least {usd}",
        "latest_any_size": "any size",
        "latest_none": "No liquidations found.",
        # --- scheduled summary -----------------------------------------------------------------
        "summary_head": "🧾 <b>Liquidation summary, {label}</b>",
        "summary_totals": (
            "🔴 Longs {long_usd} ({long_count}) · 🟢 Shorts {short_usd} ({short_count})"
        ),
        "summary_total": "Total {usd} ({count})",
        "summary_empty": "No liquidations in this period.",
        "summary_by_exchange": "<b>By exchange</b>",
        "summary_top_longs": "🔴 <b>Top longs liquidated</b>",
        "summary_top_shorts": "🟢 <b>Top shorts liquidated</b>",
        "summary_largest": "💥 <b>Largest</b>: {event}",
        "summary_period": "the period",
        # --- rules and schedules ---------------------------------------------------------------
        "rules_head": "🔔 <b>Alert rules in this chat</b>",
        "rules_none": "No alert rules yet.",
        "rule_line": "#{rule_id} {rule}",
        "rule_desc": "{assets} ≥ {min_usd}, {side}, {exchanges}",
        "rule_every_asset": "every asset",
        "rule_both_sides": "both sides",
        "rule_longs_only": "longs only",
        "rule_shorts_only": "shorts only",
        "rule_all_exchanges": "all exchanges",
        "rule_more": Plural("{names} +{count} more", "{names} +{count} more"),
        "rules_more": Plural("…and {count} more rule", "…and {count} more rules"),
        "rules_schedule": "🧾 Summary: {schedule}",
        "rules_change": (
            "Change them with /subscribe, /unsubscribe and /summary; /help shows examples."
        ),
        "schedule_every": "every {window}",
        "schedule_daily": "daily {clock} UTC",
        "schedule_none": "none",
        "rule_added": "✅ Rule #{rule_id} added: {rule}",
        "rules_removed": Plural("🗑 Removed {count} rule.", "🗑 Removed {count} rules."),
        "rules_removed_none": "No rule matched, so nothing was removed.",
        "schedule_set": "🧾 Summaries set: {schedule}.",
        "schedule_off": "🧾 Summaries are off.",
        # --- errors ----------------------------------------------------------------------------
        "usage": "⚠️ {reason}\nExample: <code>{example}</code>",
        "not_admin": (
            "⛔ Only chat administrators may change this chat's alerts and summary schedule."
        ),
        # --- admin status ----------------------------------------------------------------------
        "status_head": "🛠 <b>Status</b>",
        "status_more": Plural("…and {count} more line", "…and {count} more lines"),
        # --- /start and /help ------------------------------------------------------------------
        "start_intro": (
            "👋 <b>Liquidation alerts</b> from Binance, OKX and Bybit: instant alerts for large "
            "forced liquidations, market statistics and scheduled summaries."
        ),
        "help_body": (
            "<b>Alerts</b>\n"
            "/subscribe SYMBOL... [MIN_USD] [long|short] [EXCHANGE...]\n"
            "Alert on every liquidation of at least MIN_USD (default $100K). Sizes: 250000, "
            "250k, 1.5m, $2M. Exchanges: binance, okx, bybit. SYMBOL all means every asset.\n"
            "<code>/subscribe BTC ETH 250k</code>\n"
            "<code>/subscribe all 1m</code>\n"
            "<code>/subscribe SOL 50k short okx</code>\n"
            "/unsubscribe [SYMBOL...|all]: remove rules, e.g. <code>/unsubscribe ETH</code> "
            "or <code>/unsubscribe all</code>\n"
            "/subs: this chat's rules and summary schedule\n"
            "\n"
            "<b>Market</b>\n"
            "/stats [SYMBOL]: totals for every window, e.g. <code>/stats</code> or "
            "<code>/stats BTC</code>\n"
            "/top [WINDOW]: most liquidated assets, e.g. <code>/top 4h</code>\n"
            "/latest [N] [SYMBOL]: the newest liquidations, e.g. <code>/latest 10 ETH</code>\n"
            "\n"
            "<b>Summaries</b>\n"
            "/summary every 15m|1h|4h | daily HH:MM | off, e.g. <code>/summary every 1h</code>, "
            "<code>/summary daily 08:00</code> (UTC) or <code>/summary off</code>\n"
            "\n"
            "/status: feed health (bot admins only)\n"
            "In groups, only chat administrators can change alerts and summaries.\n"
            "\n"
            "🔴 = a long position was liquidated, 🟢 = a short position was liquidated."
        ),
        # --- command menu (plain text: setMyCommands takes no HTML) ---------------------------
        "cmd_start": "What this bot does",
        "cmd_help": "Commands and examples",
        "cmd_subscribe": "Alert on large liquidations",
        "cmd_unsubscribe": "Remove alert rules",
        "cmd_subs": "List this chat's rules and schedule",
        "cmd_stats": "Liquidation totals per window",
        "cmd_top": "Most liquidated assets",
        "cmd_latest": "Newest liquidations",
        "cmd_summary": "Set or stop scheduled summaries",
    },
}

_FORMATTER = string.Formatter()


def placeholders(entry: Entry) -> frozenset[str]:
    """Return the value names an entry needs (a plural entry always needs `count`)."""
    forms = (entry.one, entry.other) if isinstance(entry, Plural) else (entry,)
    names = {name for form in forms for _, name, _, _ in _FORMATTER.parse(form) if name is not None}
    if isinstance(entry, Plural):
        names.add("count")
    return frozenset(names)


def _catalog(lang: str) -> Mapping[str, Entry]:
    """Return the catalog of `lang`, of its base language ("zh-hans" -> "zh"), or English."""
    found = CATALOG.get(lang.lower()) or CATALOG.get(lang.lower().split("-")[0])
    return found if found is not None else CATALOG[DEFAULT_LANG]


def text(lang: str, key: str, /, **values: str | int) -> Html:
    """Return entry `key` in `lang` (English if missing) with every value HTML-escaped."""
    entry = _catalog(lang).get(key)
    if entry is None:
        entry = CATALOG[DEFAULT_LANG][key]
    if isinstance(entry, Plural):
        # One rule serves English and languages without plural forms (both forms equal).
        entry = entry.one if values["count"] == 1 else entry.other
    return Html(entry.format_map({name: _escape(value) for name, value in values.items()}))


def _escape(value: str | int) -> str:
    if isinstance(value, Html):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    # Telegram needs only <, > and & escaped outside tags; quotes stay readable.
    return html.escape(value, quote=False)
