// Window cards, leaderboards, the largest liquidations and the feeds' health.

import { h, replace } from "./dom.js";
import { dayTime, duration, exchangeName, feedName, price, usd } from "./format.js";
import { t } from "./i18n.js";

function ratio(longUsd, shortUsd) {
  const total = longUsd + shortUsd;
  const long = h("span", { class: "l" });
  const short = h("span", { class: "s" });
  long.style.flexGrow = String(total ? longUsd / total : 0);
  short.style.flexGrow = String(total ? shortUsd / total : 0);
  return h("div", { class: "ratio", "aria-hidden": "true" }, long, short);
}

function card(lang, w, selected, onSelect) {
  const total = w.long_usd + w.short_usd;
  const count = w.long_count + w.short_count;
  const down = Object.values(w.uptime || {}).some((share) => share < 0.999);
  const amount = (value, side) =>
    value ? h("span", { class: `v num ${side}-text` }, usd(value)) : h("span", { class: "v num zero" }, "–");
  const venues = Object.entries(w.by_exchange).map(([name, s]) => [
    h("span", {}, exchangeName(name)),
    amount(s.long_usd, "long"),
    amount(s.short_usd, "short"),
  ]);
  return h(
    "button",
    {
      type: "button",
      class: `card${selected ? " selected" : ""}`,
      "aria-pressed": selected ? "true" : "false",
      title: t(lang, "showWindow", { window: w.window }),
      dataset: { window: w.window },
      onclick: () => onSelect(w.window),
    },
    h(
      "div",
      { class: "card-head" },
      h("span", { class: "card-window" }, w.window),
      down ? h("span", { class: "card-warn", title: t(lang, "feedGap") }, "⚠") : null,
    ),
    h(
      "div",
      { class: "card-total num" },
      usd(total),
      h("span", { class: "card-count" }, t(lang, "events", { count: count.toLocaleString() })),
    ),
    ratio(w.long_usd, w.short_usd),
    h(
      "div",
      { class: "sides" },
      h("span", { class: "long-text" }, t(lang, "long")),
      h("span", { class: "v num long-text" }, usd(w.long_usd)),
      h("span", { class: "n num" }, w.long_count.toLocaleString()),
      h("span", { class: "short-text" }, t(lang, "short")),
      h("span", { class: "v num short-text" }, usd(w.short_usd)),
      h("span", { class: "n num" }, w.short_count.toLocaleString()),
    ),
    w.avg_price !== null && w.avg_price !== undefined
      ? h("div", { class: "avg" }, h("span", {}, t(lang, "avgPrice")), h("span", { class: "v num" }, price(w.avg_price)))
      : null,
    venues.length ? h("div", { class: "venues" }, venues) : null,
  );
}

export function renderCards(root, lang, windows, selected, onSelect) {
  replace(root, windows.map((w) => card(lang, w, w.window === selected, onSelect)));
}

export function renderBoard(root, lang, ranked, side, onAsset) {
  if (!ranked.length) {
    replace(root, h("li", { class: "none" }, t(lang, "none")));
    return;
  }
  const top = ranked[0].usd || 1;
  replace(
    root,
    ranked.map((r, i) => {
      const bar = h("span", { class: `bar ${side}`, "aria-hidden": "true" });
      bar.style.width = `${Math.max(2, (100 * r.usd) / top)}%`;
      return h(
        "li",
        {},
        h("span", { class: "rank num" }, String(i + 1)),
        h("button", { type: "button", class: "asset-link", onclick: () => onAsset(r.base) }, r.base),
        h("span", { class: "v num" }, usd(r.usd)),
        h("span", { class: "n num" }, r.count.toLocaleString()),
        bar,
      );
    }),
  );
}

export function renderLargest(root, lang, events, onAsset) {
  if (!events.length) {
    replace(root, h("li", { class: "none" }, t(lang, "none")));
    return;
  }
  replace(
    root,
    events.map((e) =>
      h(
        "li",
        {},
        h("span", { class: "when num" }, dayTime(e.ts_ms)),
        h(
          "span",
          {},
          h("button", { type: "button", class: "asset-link", title: e.symbol, onclick: () => onAsset(e.base) }, e.base),
          " ",
          h("span", { class: e.side === "long" ? "long-text" : "short-text" }, t(lang, e.side)),
        ),
        h("span", { class: `v num ${e.side === "long" ? "long-text" : "short-text"}` }, usd(e.notional_usd)),
        h("span", { class: "venue" }, exchangeName(e.exchange)),
      ),
    ),
  );
}

export function renderFeeds(root, lang, feeds, nowMs) {
  replace(
    root,
    feeds.map((f) => {
      const last = f.last_frame_ms;
      const ago = last === null ? null : duration((nowMs - last) / 1000);
      const state = !f.healthy ? "down" : f.connected ? "up" : "idle";
      let title;
      if (ago === null) title = t(lang, "feedNever");
      else if (state === "down") title = t(lang, "feedDown", { ago });
      else title = t(lang, state === "up" ? "feedUp" : "feedIdle", { ago });
      return h(
        "li",
        { class: `feed ${state}`, title, dataset: { feed: f.feed } },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("span", {}, feedName(f.feed)),
        h("span", { class: `kind ${f.coverage}` }, t(lang, `kind_${f.coverage}`)),
      );
    }),
  );
}
