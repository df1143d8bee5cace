// The live tape: newest first, filtered, size tiers coloured, new rows flashed.

import { h, replace } from "./dom.js";
import { exchangeName, price, tier, time, usd } from "./format.js";
import { t } from "./i18n.js";

export const MAX_ROWS = 200;

export function matches(event, filter) {
  return (
    event.notional_usd >= (filter.min_usd || 0) &&
    (!filter.symbol || event.base === filter.symbol) &&
    (!filter.side || event.side === filter.side) &&
    (!filter.exchange || event.exchange === filter.exchange)
  );
}

export class Tape {
  constructor(body, empty, count, onAsset) {
    this.body = body;
    this.empty = empty;
    this.count = count;
    this.onAsset = onAsset;
    this.events = []; // newest first
    this.ids = new Set();
    this.lang = "en";
    this.filter = {};
    this.pending = [];
    this.frame = null;
  }

  // Replace everything (a fresh page, a new filter, a reset stream).
  load(events) {
    this.events = [];
    this.ids = new Set();
    this.insert(events, false);
    this.render();
  }

  // Live events, oldest first as they arrive; returns those that were new.
  add(events) {
    const fresh = this.insert(events, true);
    if (fresh.length) {
      this.pending.push(...fresh);
      if (this.frame === null) {
        this.frame = requestAnimationFrame(() => this.flush());
      }
    }
    return fresh;
  }

  insert(events, live) {
    const fresh = [];
    for (const event of events) {
      if (this.ids.has(event.id) || !matches(event, this.filter)) continue;
      this.ids.add(event.id);
      fresh.push(event);
    }
    if (!fresh.length) return fresh;
    this.events.push(...fresh);
    // Newest first by event time, then by arrival; OKX reports some events late.
    this.events.sort((a, b) => b.ts_ms - a.ts_ms || (b.seq || 0) - (a.seq || 0));
    for (const dropped of this.events.splice(MAX_ROWS)) this.ids.delete(dropped.id);
    return live ? fresh.filter((e) => this.ids.has(e.id)) : fresh;
  }

  flush() {
    this.frame = null;
    const fresh = new Set(this.pending.map((e) => e.id));
    this.pending = [];
    this.render(fresh);
  }

  render(fresh = new Set()) {
    const rows = this.events.map((event) => this.row(event, fresh.has(event.id)));
    replace(this.body, rows);
    this.empty.hidden = this.events.length > 0;
    const filtered = Object.values(this.filter).some((v) => v);
    this.empty.textContent = t(this.lang, filtered ? "noMatch" : "waiting");
    this.count.textContent = this.events.length ? t(this.lang, "tapeCount", { count: this.events.length }) : "";
  }

  row(event, fresh) {
    const side = event.side === "long" ? "long" : "short";
    return h(
      "tr",
      { class: `${side} ${tier(event.notional_usd)}${fresh ? " fresh" : ""}`, dataset: { id: event.id } },
      h("td", { class: "c-time" }, time(event.ts_ms)),
      h(
        "td",
        { class: "c-asset" },
        h("button", { type: "button", class: "asset-link", title: event.symbol, onclick: () => this.onAsset(event.base) }, event.base),
      ),
      h("td", { class: "c-side" }, t(this.lang, side)),
      h("td", { class: "c-usd num" }, usd(event.notional_usd)),
      h("td", { class: "c-price num" }, price(event.price)),
      h("td", { class: "c-venue", title: `${event.exchange} ${event.market}` }, exchangeName(event.exchange)),
    );
  }
}
