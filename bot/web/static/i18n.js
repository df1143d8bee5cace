// Every word the page shows, in English and Chinese (simplified).

const TEXTS = {
  en: {
    title: "Liquidations",
    live: "Live",
    reconnecting: "Reconnecting…",
    asOf: "as of {time}",
    sound: "Sound",
    soundMin: "Sound above USD",
    soundTitle: "Beep for a liquidation of at least this many USD",
    feeds: "Feeds",
    note:
      "Binance totals are a lower bound: it reports at most one liquidation per symbol per " +
      "second. OKX reports only part of its liquidations. Bybit reports all of them. Gate " +
      "reports all of them since 2026-08-20. HTX does not say. Bitget reports only the largest " +
      "per side per symbol per second, and its USD amounts are unverified.",
    kind_throttled: "lower bound",
    kind_partial: "partial",
    kind_complete: "complete",
    kind_unknown: "unknown",
    feedUp: "connected, last data {ago} ago",
    feedIdle: "reconnecting, last data {ago} ago",
    feedDown: "no data for {ago}",
    feedNever: "no data yet",
    assetView: "its windows, tape and chart",
    allAssets: "All assets",
    tape: "Live tape",
    tapeCount: "{count} shown",
    symbol: "Symbol",
    minUsd: "Min USD",
    side: "Side",
    bothSides: "Both sides",
    longs: "Longs liquidated",
    shorts: "Shorts liquidated",
    exchange: "Exchange",
    allExchanges: "All exchanges",
    time: "Time",
    asset: "Asset",
    liquidated: "Liquidated",
    size: "Size",
    price: "Price",
    long: "Long",
    short: "Short",
    waiting: "Waiting for liquidations…",
    noMatch: "No liquidation matches these filters yet.",
    events: "{count} events",
    avgPrice: "Avg liq. price",
    feedGap: "a feed was down in this window",
    showWindow: "Show the {window} window",
    chartTitle: "Liquidated USD per {bucket} · {window}",
    chartTitleAsset: "{asset}: liquidated USD per {bucket} · {window}",
    chartTotals: "Long {long} · Short {short}",
    gapLegend: "feed down",
    topLong: "Longs liquidated · {window}",
    topShort: "Shorts liquidated · {window}",
    none: "none",
    largest: "Largest liquidations · 24h",
    export: "Export CSV",
    exportTitle: "Download the stored liquidations of the last {window} as CSV",
    readout: "{time} · long {long} · short {short}",
  },
  zh: {
    title: "爆仓监控",
    live: "实时",
    reconnecting: "正在重新连接…",
    asOf: "更新于 {time}",
    sound: "提示音",
    soundMin: "提示音阈值 (USD)",
    soundTitle: "单笔爆仓不低于该金额 (USD) 时响铃",
    feeds: "数据源",
    note:
      "Binance 的合计为下限：每个交易对每秒最多只推送一笔爆仓。OKX 只推送部分爆仓，Bybit 推送全部爆仓。" +
      "芝麻开门 Gate 自 2026-08-20 起推送全部爆仓。火币 HTX 未说明是否推送全部。" +
      "Bitget 每个交易对每秒每个方向只推送最大的一笔，其 USD 金额尚未核实。",
    kind_throttled: "下限",
    kind_partial: "部分",
    kind_complete: "完整",
    kind_unknown: "未知",
    feedUp: "已连接，最近数据 {ago} 前",
    feedIdle: "正在重连，最近数据 {ago} 前",
    feedDown: "已 {ago} 无数据",
    feedNever: "尚无数据",
    assetView: "该币种的时段统计、实时爆仓与图表",
    allAssets: "全部币种",
    tape: "实时爆仓",
    tapeCount: "显示 {count} 笔",
    symbol: "币种",
    minUsd: "最小金额 (USD)",
    side: "方向",
    bothSides: "全部方向",
    longs: "多单爆仓",
    shorts: "空单爆仓",
    exchange: "交易所",
    allExchanges: "全部交易所",
    time: "时间",
    asset: "币种",
    liquidated: "爆仓方向",
    size: "金额",
    price: "价格",
    long: "多单",
    short: "空单",
    waiting: "等待爆仓数据…",
    noMatch: "暂无符合筛选条件的爆仓。",
    events: "{count} 笔",
    avgPrice: "平均爆仓价",
    feedGap: "该时段内有数据源中断",
    showWindow: "查看 {window} 统计",
    chartTitle: "每 {bucket} 爆仓金额 · {window}",
    chartTitleAsset: "{asset} 每 {bucket} 爆仓金额 · {window}",
    chartTotals: "多单 {long} · 空单 {short}",
    gapLegend: "数据源中断",
    topLong: "多单爆仓榜 · {window}",
    topShort: "空单爆仓榜 · {window}",
    none: "无",
    largest: "24 小时最大爆仓",
    export: "导出 CSV",
    exportTitle: "下载最近 {window} 已存储的爆仓数据 (CSV)",
    readout: "{time} · 多单 {long} · 空单 {short}",
  },
};

export const LANGS = Object.keys(TEXTS);

export function pickLang(params, languages) {
  const asked = (params.get("lang") || "").toLowerCase();
  if (LANGS.includes(asked)) return asked;
  const preferred = (languages || []).find((l) => /^(en|zh)\b/i.test(l));
  return preferred && preferred.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function t(lang, key, values = {}) {
  const template = (TEXTS[lang] || TEXTS.en)[key] ?? TEXTS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}
