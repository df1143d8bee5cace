"""The Chinese (simplified) message catalog: the same keys and placeholders as English."""

from __future__ import annotations

from bot.texts.entries import Entry, Plural

ZH: dict[str, Entry] = {
    # --- shared pieces -----------------------------------------------------------------------
    "liquidated_long": "多单爆仓",
    "liquidated_short": "空单爆仓",
    "side_long": "多单",
    "side_short": "空单",
    "event_line": "{dot} {asset} {side} {usd} · 价格 {price} · {venue} · {time}",
    "span": "{start} 至 {end}",
    "more_lines": Plural("…还有 {count} 条", "…还有 {count} 条"),
    "no_liquidations": "无爆仓",
    "data_note": (
        "<i>ℹ️ Binance 的合计为下限：每个交易对每秒最多只推送一笔爆仓。"
        "OKX 只推送部分爆仓，Bybit 推送全部爆仓。</i>"
    ),
    "collecting_since": "⏳ 自 {time} 起开始收集：统计只涵盖此后的数据。",
    "note_gate": "<i>ℹ️ 芝麻开门 Gate 自 2026-08-20 起推送全部爆仓。</i>",
    "note_htx": "<i>ℹ️ 火币 HTX 未说明是否推送全部爆仓。</i>",
    "note_bitget": (
        "<i>ℹ️ Bitget 的合计为下限：每个交易对每秒每个方向只推送最大的一笔爆仓。"
        "其 USD 金额尚未核实。</i>"
    ),
    "note_deribit": "<i>ℹ️ Deribit 标记每一笔爆仓成交：其合计完整。</i>",
    "note_bitmex": "<i>ℹ️ BitMEX 推送每一笔爆仓委托（按委托完整）；quanto 合约需等到 XBT 价格。</i>",
    "note_bitfinex": "<i>ℹ️ Bitfinex 未说明是否推送全部爆仓。</i>",
    "note_kraken": "<i>ℹ️ Kraken 未说明是否推送全部爆仓。</i>",
    "feed_down": "⚠️ {feed} 数据源在线率 {share}（{span}）",
    "feed_down_now": "⚠️ {feed} 数据源在线率 {share}（{span}），目前已断开",
    "feed_down_at_end": "⚠️ {feed} 数据源在线率 {share}（{span}），时段结束时已断开",
    "more_feeds": Plural("⚠️ 另有 {count} 个数据源曾断开", "⚠️ 另有 {count} 个数据源曾断开"),
    "gap": "   {start} 起中断 {duration}，{state}",
    "gap_backfilled": "已从交易所补全",
    "gap_missing": "未补全",
    "more_gaps": Plural("   另有 {count} 次更早的中断", "   另有 {count} 次更早的中断"),
    "last_window": "最近 {window}",
    "col_usd": "USD",
    "col_events": "笔数",
    "col_long": "多单",
    "col_short": "空单",
    "col_total": "合计",
    "col_rank": "#",
    "col_asset": "币种",
    "col_count": "笔数",
    # --- alerts ------------------------------------------------------------------------------
    "alert": (
        "{dot} <b>{asset}</b> {liquidated}：<b>{usd}</b>\n"
        "{venue} · <code>{symbol}</code> · 价格 {price}\n"
        "{time}"
    ),
    "digest_head": Plural("⚡ <b>{count} 条爆仓提醒</b>", "⚡ <b>{count} 条爆仓提醒</b>"),
    "digest_totals": "🔴 多单 {long_usd} ({long_count}) · 🟢 空单 {short_usd} ({short_count})",
    "digest_largest": "按金额从大到小：",
    "digest_held": "🌙 本聊天免打扰时段内暂存的提醒",
    "digest_more": Plural("…还有 {count} 条 ({usd})", "…还有 {count} 条 ({usd})"),
    "notice": "⚠️ {details}",
    "notice_dropped": Plural(
        "{count} 条提醒未发送：本聊天的提醒队列已满。",
        "{count} 条提醒未发送：本聊天的提醒队列已满。",
    ),
    "notice_uncertain": Plural(
        "{count} 条提醒可能未送达：Telegram 未确认。",
        "{count} 条提醒可能未送达：Telegram 未确认。",
    ),
    # --- /stats ------------------------------------------------------------------------------
    "stats_head_market": "📊 <b>全部币种爆仓统计</b>",
    "stats_head_asset": "📊 <b>{asset} 爆仓统计</b>",
    "stats_as_of": "统计截至 {time}",
    "stats_empty": "{span} 无爆仓。",
    "stats_no_windows": "未配置统计周期。",
    "stats_by_exchange": "<b>按交易所（最近 {window}）</b>",
    # --- /top --------------------------------------------------------------------------------
    "top_head": "🏆 <b>最近 {window} 爆仓最多的币种</b>",
    "top_as_of": "截至 {time}",
    "top_longs": "🔴 <b>多单爆仓</b>",
    "top_shorts": "🟢 <b>空单爆仓</b>",
    # --- /latest -----------------------------------------------------------------------------
    "latest_head": "🕒 <b>最新爆仓：{asset}</b>（{floor}）",
    "latest_all_assets": "全部币种",
    "latest_floor": "不低于 {usd}",
    "latest_any_size": "不限金额",
    "latest_none": "未找到爆仓记录。",
    # --- scheduled summary -------------------------------------------------------------------
    "summary_head": "🧾 <b>爆仓汇总（{label}）</b>",
    "summary_totals": "🔴 多单 {long_usd} ({long_count}) · 🟢 空单 {short_usd} ({short_count})",
    "summary_total": "合计 {usd} ({count})",
    "summary_empty": "本时段无爆仓。",
    "summary_by_exchange": "<b>按交易所</b>",
    "summary_top_longs": "🔴 <b>多单爆仓排行</b>",
    "summary_top_shorts": "🟢 <b>空单爆仓排行</b>",
    "summary_largest": "💥 <b>最大一笔</b>：{event}",
    "summary_period": "本时段",
    "period_900": "最近 15 分钟",
    "period_3600": "最近 1 小时",
    "period_14400": "最近 4 小时",
    "period_86400": "最近 24 小时",
    "period_other": "最近 {window}",
    # --- rules and schedules -----------------------------------------------------------------
    "rules_head": "🔔 <b>本聊天的提醒规则</b>",
    "rules_none": "暂无提醒规则。",
    "rule_line": "#{rule_id} {rule}",
    "rule_desc": "{assets} ≥ {min_usd}，{side}，{exchanges}",
    "rule_every_asset": "全部币种",
    "rule_both_sides": "多空双向",
    "rule_longs_only": "仅多单",
    "rule_shorts_only": "仅空单",
    "rule_all_exchanges": "全部交易所",
    "rule_more": Plural("{names} 及另外 {count} 个", "{names} 及另外 {count} 个"),
    "rules_more": Plural("…还有 {count} 条规则", "…还有 {count} 条规则"),
    "rules_schedule": "🧾 汇总：{schedule}",
    "in_topic": " · 发到话题 #{topic}",
    "rules_change": "用 /subscribe、/unsubscribe 和 /summary 修改；/help 查看示例。",
    "schedule_every": "每 {window}",
    "schedule_daily": "每天 {clock} {zone}",
    "schedule_days": "每 {window} 的 {clock} {zone}",
    "schedule_none": "无",
    "rule_added": "✅ 已添加规则 #{rule_id}：{rule}",
    "rules_removed": Plural("🗑 已删除 {count} 条规则。", "🗑 已删除 {count} 条规则。"),
    "rules_removed_none": "没有匹配的规则，未删除任何规则。",
    "unsub_confirm": Plural(
        "🗑 删除本聊天的 {count} 条规则？将删除：", "🗑 删除本聊天的全部 {count} 条规则？将删除："
    ),
    "unsub_confirm_button": "🗑 全部删除",
    "unsub_cancel_button": "保留",
    "unsub_cancelled": "👌 未删除任何规则。",
    "backtest": Plural(
        "📈 过去 {span} 内该规则会提醒 {count} 次，最大 {usd}。",
        "📈 过去 {span} 内该规则会提醒 {count} 次，最大 {usd}。",
    ),
    "backtest_none": "📈 过去 {span} 内该规则不会提醒。",
    "backtest_short": Plural(" · {span} 内 {count} 次", " · {span} 内 {count} 次"),
    "not_listed": (
        "⚠️ 尚未上市：{assets}。没有交易所数据源报告过它；若是拼写错误，"
        "请用 <code>/unsubscribe #{rule_id}</code> 删除该规则（币种形如 BTC、ETH）。"
    ),
    "schedule_set": "🧾 汇总已设置：{schedule}。",
    "schedule_off": "🧾 已关闭汇总。",
    "schedule_next": "首次汇总在 {date}。",
    # --- cascades ---------------------------------------------------------------------------
    "cascade_head": "🌊 <b>{asset} 连环爆仓</b>：{duration} 内 <b>{usd}</b>",
    "cascade_since": "⏱ 始于 {start} · {rule}",
    "cascade_over": "✅ 已于 {time} 结束；{window} 内峰值为 {peak}。",
    "cascade_orphaned": "⏹ 已停止跟踪：机器人于 {time} 重启。",
    "cascade_rule_abs": "🌊 #C{rule_id} {asset}：{window} 内至少 {usd}",
    "cascade_rule_rel": "🌊 #C{rule_id} {asset}：{window} 内达到平时爆仓量的 {multiple} 倍",
    "cascade_rule_rel_now": (
        "🌊 #C{rule_id} {asset}：{window} 内达到平时爆仓量的 {multiple} 倍（当前 {usd}）"
    ),
    "cascade_added": "✅ 已添加连环爆仓规则：{rule}",
    "cascades_removed": Plural(
        "🗑 已删除 {count} 条连环爆仓规则。", "🗑 已删除 {count} 条连环爆仓规则。"
    ),
    "cascades_removed_none": "没有连环爆仓规则，未删除任何规则。",
    # --- charts ---------------------------------------------------------------------------
    "chart_caption": (
        "📊 <b>{subject}</b>，最近 {window}：🔴 多单 {long_usd} · 🟢 空单 {short_usd}"
    ),
    "chart_market": "全部币种",
    "chart_failed": "⚠️ 本次未能生成图表，请稍后重试。",
    # --- chat preferences -----------------------------------------------------------------
    "lang_name": "中文",
    "lang_set": "🌐 本聊天的语言已设为{name}。",
    "lang_auto": "🌐 回复将跟随每位用户的 Telegram 语言；提醒和汇总使用{name}。",
    "tz_set": (
        "🕒 时区已设为 {zone}：当地现在是 {time}。"
        "每日汇总、免打扰时段以及显示的所有时间都按此时区。"
    ),
    "quiet_set": (
        "🌙 免打扰时段 {hours}（{zone}）：期间的单条提醒会暂存，结束时合并为一条消息发送。"
        "汇总和连环爆仓更新照常发送，但不发出提示音。"
    ),
    "quiet_off": "🔔 已关闭免打扰时段。",
    "quiet_none": "无免打扰",
    "prefs_line": "🕒 {zone} · 🌙 {quiet} · 🌐 {lang}",
    # --- errors ------------------------------------------------------------------------------
    "usage": "⚠️ {reason}\n示例：<code>{example}</code>",
    "err_not_size": "{token} 不是有效金额：请写成 250k、1.5m 或 2000000",
    "err_size_range": "{token} 超出范围：金额须在 {low} 到 {high} 之间",
    "err_size_positive": "{token}：金额必须为正数，例如 250k",
    "failed": "⚠️ 该命令执行出错，已记录日志。请稍后再试。",
    "plain_message": "我只响应命令：发送 /help 查看全部命令和示例。",
    "err_rule_exists": "本聊天已有相同的规则：{rule_id}",
    "err_not_asset": "{token} 不是有效的币种名称（只能包含字母和数字）",
    "err_name_asset": "请至少指定一个币种，或使用 all",
    "err_one_size": "只能指定一个最小金额",
    "err_long_or_short": "请选择 long 或 short（都不写则多空双向）",
    "err_all_or_assets": "请使用 all 或指定币种，不能同时使用",
    "err_too_many_assets": "每条规则最多 {count} 个币种",
    "err_min_rule": "最小金额为 {usd}（再小几乎每笔爆仓都会提醒）",
    "err_all_alone": "all 须单独使用，或改为指定币种",
    "err_one_window": "请指定一个周期：{choices}",
    "err_not_window": "{token} 不是有效周期；可选 {choices}",
    "err_window_not_kept": "未保存 {window} 周期的数据；可选 {choices}",
    "err_count_and_asset": "请指定数量和/或一个币种",
    "err_count_range": "数量必须在 1 到 {most} 之间",
    "err_one_asset": "请指定一个币种",
    "err_stats_one_asset": "请指定一个币种（不填则统计全市场）",
    "err_summary_every": (
        "汇总可设为每 15m、1h 或 4h 一次，每 N 天一次（如 7d，不超过保存的历史），或每天 HH:MM 一次"
    ),
    "err_not_time": "{token} 不是有效时间，格式如 08:00",
    "err_summary_usage": "请使用 every 15m、every 1h、every 4h、every 7d HH:MM、daily HH:MM 或 off",
    "err_rule_limit": "本聊天已有 {count} 条规则，请先删除一些",
    "err_no_asset_data": "最近 24 小时内没有 {asset} 的爆仓",
    "err_status_admins": "/status 仅限机器人管理员使用",
    "err_unknown": "未知命令",
    "err_lang": "请选择语言：{choices}",
    "err_tz_usage": "请指定一个时区，格式为 Area/City，或 UTC",
    "err_tz_unknown": "{token} 不是有效时区；请使用 Area/City 格式，如 Asia/Shanghai",
    "err_quiet_usage": "免打扰时段请写成 HH:MM-HH:MM（按本聊天的时区），或 off",
    "err_quiet_empty": "免打扰时段的开始和结束时间不能相同",
    "err_cascade_usage": "请指定币种（或 all）、金额（如 5m）或倍数（如 10x），以及时间窗口",
    "err_not_window_span": "{token} 不是有效时间窗口，格式如 30s、2m 或 1h",
    "err_cascade_window": "连环爆仓的时间窗口为 30s 到 1h",
    "err_cascade_multiple": "倍数须为平时爆仓量的 2x 到 1000x",
    "err_cascade_size": "{token} 不是有效金额（如 5m）或倍数（如 10x）",
    "err_cascade_min": "连环爆仓金额至少为 {usd}",
    "err_cascade_limit": "本聊天已有 {count} 条连环爆仓规则，请先删除一些",
    "err_chart_usage": "最多指定一个币种和一个时间范围",
    "err_chart_window": "图表时间范围为 1m 到 {longest}",
    "err_chart_days": "图表时间范围为 1m 到 24h，或最长 {longest} 的整天",
    "err_too_many_commands": "命令过于频繁：每分钟最多 {count} 条，请 {seconds} 秒后再试",
    "not_admin": "⛔ 只有群管理员可以修改本群的提醒规则和汇总计划。",
    # --- admin status ------------------------------------------------------------------------
    "status_head": "🛠 <b>状态</b>",
    "status_more": Plural("…还有 {count} 行", "…还有 {count} 行"),
    # --- /start and /help --------------------------------------------------------------------
    "start_intro": (
        "👋 <b>爆仓提醒</b>，数据来自 Binance、OKX 和 Bybit："
        "大额爆仓即时提醒、市场统计以及定时汇总。"
    ),
    "help_body": (
        "<b>提醒</b>\n"
        "/subscribe SYMBOL... [MIN_USD] [long|short] [EXCHANGE...]\n"
        "每笔金额不低于 MIN_USD（默认 $100K）的爆仓都会提醒。"
        "金额写法：250000、250k、1.5m、$2M。交易所：binance、okx、bybit、gate（芝麻开门）、htx（火币）、bitget。"
        "SYMBOL 写 all 表示全部币种。\n"
        "<code>/subscribe BTC ETH 250k</code>\n"
        "<code>/subscribe all 1m</code>\n"
        "<code>/subscribe SOL 50k short okx</code>\n"
        "/unsubscribe [SYMBOL...|all]：删除规则，如 <code>/unsubscribe ETH</code> "
        "或 <code>/unsubscribe all</code>；单独发送 <code>/unsubscribe</code> 会列出全部规则，"
        "确认后才删除\n"
        "/subs：本聊天的规则和设置，每条规则附带删除按钮\n"
        "/cascade SYMBOL|all SIZE WINDOW：每次连环爆仓发送一条消息，并随规模扩大持续更新。"
        "SIZE 为 USD 金额（5m）或平时爆仓量的倍数（10x），如 "
        "<code>/cascade BTC 5m 2m</code> 或 <code>/cascade all 10x 5m</code>；"
        "<code>/unsubscribe #C1</code> 可删除其中一条\n"
        "/quiet HH:MM-HH:MM | off：暂存单条提醒，结束后合并为一条发送，如 "
        "<code>/quiet 23:00-07:00</code>\n"
        "\n"
        "<b>市场</b>\n"
        "/stats [SYMBOL] [PERIOD]：各周期的爆仓合计，如 <code>/stats</code>、"
        "<code>/stats BTC</code> 或 <code>/stats BTC 7d</code>\n"
        "/top [WINDOW]：爆仓最多的币种，如 <code>/top 4h</code> 或 <code>/top 30d</code>\n"
        "/latest [N] [SYMBOL]：最新爆仓，如 <code>/latest 10 ETH</code>\n"
        "/chart [SYMBOL] [WINDOW]：爆仓金额（USD）图表，如 <code>/chart</code>、"
        "<code>/chart BTC 4h</code> 或 <code>/chart BTC 30d</code>\n"
        "以整天计的周期（7d、30d）最长可追溯至保存的历史（HISTORY_DAYS）。\n"
        "\n"
        "<b>汇总</b>\n"
        "/summary every 15m|1h|4h | every Nd HH:MM | daily HH:MM | off，如 "
        "<code>/summary every 1h</code>、<code>/summary daily 08:00</code>（按本聊天的时区）、"
        "<code>/summary every 7d 08:00</code>（每周一，汇总最近 7 天）或 "
        "<code>/summary off</code>\n"
        "\n"
        "<b>设置</b>\n"
        "/tz Area/City：本聊天的时区（默认 UTC），如 "
        "<code>/tz Asia/Shanghai</code>\n"
        "/lang en|zh|auto：本聊天的语言，如 <code>/lang zh</code>\n"
        "\n"
        "/status：数据源状态（仅限机器人管理员）\n"
        "在群组中，只有群管理员可以修改提醒和汇总。\n"
        "在开启话题的群组中，在某个话题里设置的提醒、连环爆仓和汇总会发到该话题。\n"
        "\n"
        "🔴 = 多头仓位爆仓，🟢 = 空头仓位爆仓。"
    ),
    # --- command menu (plain text: setMyCommands takes no HTML) ---------------------------
    "cmd_start": "本机器人的功能",
    "cmd_help": "命令与示例",
    "cmd_subscribe": "大额爆仓提醒",
    "cmd_unsubscribe": "删除提醒规则",
    "cmd_subs": "查看本聊天的规则和汇总计划",
    "cmd_stats": "各周期爆仓合计",
    "cmd_top": "爆仓最多的币种",
    "cmd_latest": "最新爆仓",
    "cmd_summary": "设置或关闭定时汇总",
    "cmd_chart": "爆仓走势图",
    "cmd_cascade": "连环爆仓提醒",
    "cmd_quiet": "免打扰时段暂存提醒",
    "cmd_lang": "语言：英文或中文",
    "cmd_tz": "本聊天的时区",
    "cmd_status": "数据源、队列和计数器（机器人管理员）",
}
