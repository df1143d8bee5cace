"""The English message catalog: every key the bot looks up, with its placeholders."""

from __future__ import annotations

from bot.texts.entries import Entry, Plural

# Templates are Telegram HTML with {name} placeholders (no format specs: values arrive
# formatted). `text` escapes every value, so a template never escapes one itself.
EN: dict[str, Entry] = {
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
    "collecting_since": "⏳ Collecting since {time}: totals cover only the time since then.",
    "note_gate": "<i>ℹ️ Gate reports all of its liquidations since 2026-08-20.</i>",
    "note_htx": "<i>ℹ️ HTX does not say whether it reports all of its liquidations.</i>",
    "note_bitget": (
        "<i>ℹ️ Bitget totals are a lower bound: it reports only the largest liquidation per side "
        "per symbol per second. Its USD amounts are unverified.</i>"
    ),
    "note_deribit": "<i>ℹ️ Deribit marks every liquidation trade: its totals are complete.</i>",
    "note_bitmex": (
        "<i>ℹ️ BitMEX publishes every liquidation order (complete at order level); a quanto "
        "order waits for an XBT price.</i>"
    ),
    "note_bitfinex": "<i>ℹ️ Bitfinex does not say whether it reports all of its liquidations.</i>",
    "note_kraken": "<i>ℹ️ Kraken does not say whether it reports all of its liquidations.</i>",
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
    "digest_totals": ("🔴 Longs {long_usd} ({long_count}) · 🟢 Shorts {short_usd} ({short_count})"),
    "digest_largest": "Largest first:",
    "digest_held": "🌙 Held during this chat's quiet hours",
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
    "period_900": "last 15 minutes",
    "period_3600": "last hour",
    "period_14400": "last 4 hours",
    "period_86400": "last 24 hours",
    "period_other": "last {window}",
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
    # Marks what was set in a forum topic (and posts there) in /subs.
    "in_topic": " · in topic #{topic}",
    "rules_change": (
        "Change them with /subscribe, /unsubscribe and /summary; /help shows examples."
    ),
    "schedule_every": "every {window}",
    "schedule_daily": "daily {clock} {zone}",
    "schedule_days": "every {window} at {clock} {zone}",
    "schedule_none": "none",
    "rule_added": "✅ Rule #{rule_id} added: {rule}",
    "rules_removed": Plural("🗑 Removed {count} rule.", "🗑 Removed {count} rules."),
    "rules_removed_none": "No rule matched, so nothing was removed.",
    "unsub_confirm": Plural(
        "🗑 Remove this chat's {count} rule? It would remove:",
        "🗑 Remove all {count} of this chat's rules? It would remove:",
    ),
    "unsub_confirm_button": "🗑 Remove all",
    "unsub_cancel_button": "Keep them",
    "unsub_cancelled": "👌 Nothing was removed.",
    "backtest": Plural(
        "📈 Over the last {span} it would have alerted {count} time, largest {usd}.",
        "📈 Over the last {span} it would have alerted {count} times, largest {usd}.",
    ),
    "backtest_none": "📈 Over the last {span} it would not have alerted.",
    "backtest_short": Plural(" · {count} alert in {span}", " · {count} alerts in {span}"),
    "not_listed": (
        "⚠️ Not listed yet: {assets}. No exchange feed has reported it; if that is a typo, "
        "remove the rule with <code>/unsubscribe #{rule_id}</code> (assets look like BTC, ETH)."
    ),
    "schedule_set": "🧾 Summaries set: {schedule}.",
    "schedule_off": "🧾 Summaries are off.",
    "schedule_next": " The first comes on {date}.",
    # --- cascades -------------------------------------------------------------------------
    "cascade_head": "🌊 <b>{asset} liquidation cascade</b>: <b>{usd}</b> in {duration}",
    "cascade_since": "⏱ Since {start} · {rule}",
    "cascade_over": "✅ Over at {time}; the peak was {peak} within {window}.",
    "cascade_orphaned": "⏹ No longer followed: the bot restarted at {time}.",
    "cascade_rule_abs": "🌊 #C{rule_id} {asset}: at least {usd} within {window}",
    "cascade_rule_rel": "🌊 #C{rule_id} {asset}: {multiple}× the usual volume within {window}",
    "cascade_rule_rel_now": (
        "🌊 #C{rule_id} {asset}: {multiple}× the usual volume within {window} ({usd} now)"
    ),
    "cascade_added": "✅ Cascade rule added: {rule}",
    "cascades_removed": Plural(
        "🗑 Removed {count} cascade rule.", "🗑 Removed {count} cascade rules."
    ),
    "cascades_removed_none": "No cascade rules, so nothing was removed.",
    # --- charts ---------------------------------------------------------------------------
    "chart_caption": (
        "📊 <b>{subject}</b>, last {window}: 🔴 longs {long_usd} · 🟢 shorts {short_usd}"
    ),
    "chart_market": "All assets",
    "chart_failed": "⚠️ The chart could not be drawn this time; please try again.",
    # --- chat preferences -----------------------------------------------------------------
    "lang_name": "English",
    "lang_set": "🌐 This chat now reads in {name}.",
    "lang_auto": (
        "🌐 Replies follow each user's Telegram language; alerts and summaries are in {name}."
    ),
    "tz_set": (
        "🕒 Time zone set to {zone}: it is {time} there. Daily summaries, quiet hours and "
        "every time shown follow it."
    ),
    "quiet_set": (
        "🌙 Quiet hours {hours} ({zone}): single alerts wait and arrive as one digest when "
        "they end. Summaries and cascade updates still come, without a sound."
    ),
    "quiet_off": "🔔 Quiet hours are off.",
    "quiet_none": "no quiet hours",
    "prefs_line": "🕒 {zone} · 🌙 {quiet} · 🌐 {lang}",
    # --- errors ----------------------------------------------------------------------------
    "usage": "⚠️ {reason}\nExample: <code>{example}</code>",
    "err_not_size": "{token} is not a size: write sizes as 250k, 1.5m or 2000000",
    "err_size_range": "{token} is out of range: a size is {low} to {high}",
    "err_size_positive": "{token}: a size must be positive, like 250k",
    "failed": "⚠️ Something went wrong with that command; it was logged. Please try again later.",
    "plain_message": "I answer commands only: send /help to see them, with examples.",
    "err_rule_exists": "this chat already has that rule: {rule_id}",
    "err_not_asset": "{token} is not an asset name (letters and digits only)",
    "err_name_asset": "name at least one asset, or all",
    "err_one_size": "give one minimum size, not two",
    "err_long_or_short": "choose long or short (or neither for both)",
    "err_all_or_assets": "use all, or name assets, not both",
    "err_too_many_assets": "at most {count} assets per rule",
    "err_min_rule": "the minimum size is {usd} (smaller would alert on nearly everything)",
    "err_all_alone": "use all alone, or name assets",
    "err_one_window": "give one window: {choices}",
    "err_not_window": "{token} is not a window; choose {choices}",
    "err_window_not_kept": "{window} is not kept; choose {choices}",
    "err_count_and_asset": "give a count and/or one asset",
    "err_count_range": "the count must be 1 to {most}",
    "err_one_asset": "give one asset",
    "err_stats_one_asset": "give one asset (or none for the whole market)",
    "err_summary_every": (
        "summaries run every 15m, 1h or 4h, every N days (e.g. 7d) up to the history kept, "
        "or daily at HH:MM"
    ),
    "err_not_time": "{token} is not a time like 08:00",
    "err_summary_usage": "use every 15m, every 1h, every 4h, every 7d HH:MM, daily HH:MM or off",
    "err_rule_limit": "this chat already has {count} rules; remove some first",
    "err_no_asset_data": "no liquidations of {asset} in the last 24 h",
    "err_status_admins": "/status is for the bot's administrators",
    "err_unknown": "unknown command",
    "err_lang": "choose a language: {choices}",
    "err_tz_usage": "name one time zone as Area/City, or UTC",
    "err_tz_unknown": "{token} is not a time zone; use Area/City like Europe/Berlin",
    "err_quiet_usage": "write quiet hours as HH:MM-HH:MM in this chat's time zone, or off",
    "err_quiet_empty": "quiet hours must start and end at different times",
    "err_cascade_usage": (
        "give an asset (or all), a size like 5m or a multiple like 10x, and a window"
    ),
    "err_not_window_span": "{token} is not a window like 30s, 2m or 1h",
    "err_cascade_window": "a cascade window is 30s to 1h",
    "err_cascade_multiple": "a multiple is 2x to 1000x the usual volume",
    "err_cascade_size": "{token} is not a size like 5m or a multiple like 10x",
    "err_cascade_min": "a cascade is at least {usd}",
    "err_cascade_limit": "this chat already has {count} cascade rules; remove some first",
    "err_chart_usage": "give at most one asset and one window",
    "err_chart_window": "a chart covers 1m to {longest}",
    "err_chart_days": "a chart covers 1m to 24h, or whole days up to {longest}",
    "err_too_many_commands": (
        "too many commands: at most {count} a minute; try again in {seconds} s"
    ),
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
        "250k, 1.5m, $2M. Exchanges: binance, okx, bybit, gate, htx, bitget. SYMBOL all means "
        "every asset.\n"
        "<code>/subscribe BTC ETH 250k</code>\n"
        "<code>/subscribe all 1m</code>\n"
        "<code>/subscribe SOL 50k short okx</code>\n"
        "/unsubscribe [SYMBOL...|all]: remove rules, e.g. <code>/unsubscribe ETH</code> "
        "or <code>/unsubscribe all</code>; <code>/unsubscribe</code> alone lists every rule "
        "and asks before removing them\n"
        "/subs: this chat's rules and settings, each rule with a remove button\n"
        "/cascade SYMBOL|all SIZE WINDOW: one message per cascade, updated as it grows. "
        "SIZE is USD (5m) or a multiple of the usual volume (10x), e.g. "
        "<code>/cascade BTC 5m 2m</code> or <code>/cascade all 10x 5m</code>; "
        "<code>/unsubscribe #C1</code> removes one\n"
        "/quiet HH:MM-HH:MM | off: hold single alerts, then one digest, e.g. "
        "<code>/quiet 23:00-07:00</code>\n"
        "\n"
        "<b>Market</b>\n"
        "/stats [SYMBOL] [PERIOD]: totals for every window, e.g. <code>/stats</code>, "
        "<code>/stats BTC</code> or <code>/stats BTC 7d</code>\n"
        "/top [WINDOW]: most liquidated assets, e.g. <code>/top 4h</code> or "
        "<code>/top 30d</code>\n"
        "/latest [N] [SYMBOL]: the newest liquidations, e.g. <code>/latest 10 ETH</code>\n"
        "/chart [SYMBOL] [WINDOW]: a chart of liquidated USD, e.g. <code>/chart</code>, "
        "<code>/chart BTC 4h</code> or <code>/chart BTC 30d</code>\n"
        "Periods in whole days (7d, 30d) reach back as far as the history kept "
        "(HISTORY_DAYS).\n"
        "\n"
        "<b>Summaries</b>\n"
        "/summary every 15m|1h|4h | every Nd HH:MM | daily HH:MM | off, e.g. "
        "<code>/summary every 1h</code>, <code>/summary daily 08:00</code> (in the chat's "
        "time zone), <code>/summary every 7d 08:00</code> (Mondays, the last 7 days) or "
        "<code>/summary off</code>\n"
        "\n"
        "<b>Settings</b>\n"
        "/tz Area/City: this chat's time zone (default UTC), e.g. "
        "<code>/tz Asia/Shanghai</code>\n"
        "/lang en|zh|auto: this chat's language, e.g. <code>/lang zh</code>\n"
        "\n"
        "/status: feed health (bot admins only)\n"
        "In groups, only chat administrators can change alerts and summaries.\n"
        "In a forum, alerts, cascades and summaries set inside a topic post in that topic.\n"
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
    "cmd_chart": "Chart of liquidations over time",
    "cmd_cascade": "Alert when liquidations cascade",
    "cmd_quiet": "Hold alerts during quiet hours",
    "cmd_lang": "Language: English or Chinese",
    "cmd_tz": "This chat's time zone",
    "cmd_status": "Feeds, queues and counters (bot admins)",
}
