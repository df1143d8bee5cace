// The dashboard page: wires the stream, the tape, the cards, the chart and the filters.

import { Chart } from "./chart.js";
import { byId } from "./dom.js";
import { bucketName, time, usd, zoneLabel } from "./format.js";
import { pickLang, t } from "./i18n.js";
import { renderBoard, renderCards, renderFeeds, renderLargest } from "./panels.js";
import { Stream } from "./stream.js";
import { MAX_ROWS, Tape } from "./tape.js";

const ASSET_REFRESH_MS = 2000;
const CHART_REFRESH_MS = 5000;
const TYPING_MS = 300;

const params = new URLSearchParams(location.search);
const state = {
  lang: pickLang(params, navigator.languages),
  filter: readFilter(params),
  window: params.get("window"),
  rangeDays: Number.parseInt(params.get("days") || "0", 10) || 0, // 7d, 30d: the rollups
  windows: [],
  snapshot: null,
  assetWindows: null,
};

const tape = new Tape(byId("tape"), byId("tape-empty"), byId("tape-count"), showAsset);
const chart = new Chart(byId("chart"), byId("chart-readout"), byId("chart-legend"));
const stream = new Stream({ onHello, onTape, onSnapshot, onState });
const sound = { on: false, min: 1e6, context: null };

// --- filters and the address ------------------------------------------------------------

function readFilter(query) {
  const min = Number.parseFloat(query.get("min_usd") || "");
  const side = query.get("side");
  return {
    symbol: cleanSymbol(query.get("symbol") || "") || null,
    min_usd: Number.isFinite(min) && min > 0 ? min : 0,
    side: side === "long" || side === "short" ? side : null,
    exchange: (query.get("exchange") || "").toLowerCase() || null,
  };
}

function cleanSymbol(text) {
  return text.trim().toUpperCase().replace(/^\$/, "").replace(/[^A-Z0-9]/g, "").slice(0, 24);
}

function readForm() {
  const form = byId("filters");
  return readFilter(new URLSearchParams(new FormData(form)));
}

function writeForm() {
  byId("f-symbol").value = state.filter.symbol || "";
  byId("f-min").value = state.filter.min_usd ? String(state.filter.min_usd) : "";
  byId("f-side").value = state.filter.side || "";
  byId("f-exchange").value = state.filter.exchange || "";
}

function writeAddress() {
  const query = new URLSearchParams();
  const { symbol, min_usd: min, side, exchange } = state.filter;
  if (symbol) query.set("symbol", symbol);
  if (min) query.set("min_usd", String(min));
  if (side) query.set("side", side);
  if (exchange) query.set("exchange", exchange);
  if (state.window) query.set("window", state.window);
  if (params.has("lang")) query.set("lang", state.lang);
  const text = query.toString();
  history.replaceState(null, "", text ? `?${text}` : location.pathname);
}

function sameFilter(a, b) {
  return a.symbol === b.symbol && a.min_usd === b.min_usd && a.side === b.side && a.exchange === b.exchange;
}

function applyFilter(filter) {
  if (sameFilter(filter, state.filter)) return;
  const assetChanged = filter.symbol !== state.filter.symbol;
  state.filter = filter;
  tape.filter = filter;
  writeAddress();
  stream.setFilter(filter); // first: events from now on follow the new filter
  loadTape(); // then: what already happened
  if (assetChanged) {
    state.assetWindows = null;
    renderAsset();
    refreshAsset();
    refreshChart();
  }
}

function showAsset(base) {
  applyFilter({ ...state.filter, symbol: base });
  writeForm();
  window.scrollTo({ top: 0, behavior: "smooth" });
}

let typing = null;
byId("filters").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => applyFilter(readForm()), TYPING_MS);
});
byId("filters").addEventListener("change", () => applyFilter(readForm()));
byId("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(typing);
  applyFilter(readForm());
});
for (const input of byId("filters").querySelectorAll("input")) {
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(typing);
      applyFilter(readForm());
    }
  });
}
byId("asset-clear").addEventListener("click", () => {
  applyFilter({ ...state.filter, symbol: null });
  writeForm();
});

// --- data from the API ------------------------------------------------------------------

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function filterQuery(filter) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filter)) {
    if (value) query.set(name, String(value));
  }
  return query;
}

let tapeRequest = 0;
async function loadTape() {
  const request = ++tapeRequest;
  const filter = state.filter;
  const query = filterQuery(filter);
  query.set("limit", String(MAX_ROWS));
  try {
    const body = await getJson(`/api/v1/latest?${query}`);
    if (request !== tapeRequest) return; // a newer filter won
    const live = tape.events.filter((e) => e.seq); // arrived meanwhile: keep them
    tape.load([...body.events, ...live]);
  } catch {
    // The stream's next hello retries.
  }
}

async function refreshAsset() {
  const symbol = state.filter.symbol;
  if (!symbol) return;
  try {
    const body = await getJson(`/api/v1/windows?symbol=${encodeURIComponent(symbol)}`);
    if (state.filter.symbol === symbol) {
      state.assetWindows = body.windows;
      renderCardsNow();
    }
  } catch {
    // Next tick.
  }
}

// A 7d or 30d range reads the one-minute rollups through /api/v1/history, hourly.
async function refreshHistory(days) {
  const until = state.snapshot ? state.snapshot.as_of_ms : Date.now(); // the server's clock
  const query = new URLSearchParams({ since: until - days * 86400000, until, interval: 3600 });
  if (state.filter.symbol) query.set("symbol", state.filter.symbol);
  const series = await getJson(`/api/v1/history?${query}`);
  if (state.rangeDays !== days || series.symbol !== state.filter.symbol) return null;
  return { ...series, window: `${days}d` };
}

async function refreshChart() {
  if (state.rangeDays) {
    try {
      const series = await refreshHistory(state.rangeDays);
      if (series) showSeries(series);
    } catch {
      // Next tick.
    }
    return;
  }
  if (!state.window) return;
  const query = new URLSearchParams({ window: state.window });
  if (state.filter.symbol) query.set("symbol", state.filter.symbol);
  try {
    const series = await getJson(`/api/v1/series?${query}`);
    if (series.window !== state.window || series.symbol !== state.filter.symbol) return;
    showSeries(series);
  } catch {
    // Next tick.
  }
}

function showSeries(series) {
  chart.show(series, state.lang);
  const sum = (rows) => rows.reduce((total, row) => total + row.reduce((a, b) => a + b, 0), 0);
  const values = { bucket: bucketName(series.bucket_s), window: series.window, asset: series.symbol };
  byId("chart-title").textContent = t(state.lang, series.symbol ? "chartTitleAsset" : "chartTitle", values);
  byId("chart-totals").textContent = t(state.lang, "chartTotals", {
    long: usd(sum(series.long_usd)),
    short: usd(sum(series.short_usd)),
  });
}

// --- the stream -------------------------------------------------------------------------

function onHello(hello, resumed) {
  state.windows = hello.windows;
  if (!state.windows.includes(state.window)) {
    state.window = state.windows.includes("1h") ? "1h" : state.windows[state.windows.length - 1];
  }
  writeAddress();
  if (!resumed) loadTape();
  refreshChart();
  refreshAsset();
}

function onTape(message) {
  if (message.reset) {
    loadTape();
    return;
  }
  const fresh = tape.add(message.events);
  if (sound.on && fresh.some((e) => e.notional_usd >= sound.min)) beep(fresh);
}

function onSnapshot(snapshot) {
  state.snapshot = snapshot;
  byId("as-of").textContent = t(state.lang, "asOf", { time: time(snapshot.as_of_ms) });
  renderFeeds(byId("feeds"), state.lang, snapshot.health, snapshot.as_of_ms);
  renderCardsNow();
  renderBoards();
  renderLargest(byId("largest"), state.lang, snapshot.largest, showAsset);
}

function onState(connected) {
  const live = byId("live");
  live.classList.toggle("on", connected);
  live.classList.toggle("off", !connected);
  byId("live-text").textContent = t(state.lang, connected ? "live" : "reconnecting");
}

// --- rendering --------------------------------------------------------------------------

function renderCardsNow() {
  const windows = state.filter.symbol ? state.assetWindows : state.snapshot && state.snapshot.windows;
  if (windows) renderCards(byId("cards"), state.lang, windows, state.window, selectWindow);
}

function renderBoards() {
  const board = state.snapshot && state.snapshot.top[state.window];
  byId("top-long-title").textContent = t(state.lang, "topLong", { window: state.window || "" });
  byId("top-short-title").textContent = t(state.lang, "topShort", { window: state.window || "" });
  if (!board) return;
  renderBoard(byId("top-long"), state.lang, board.long, "long", showAsset);
  renderBoard(byId("top-short"), state.lang, board.short, "short", showAsset);
}

function renderAsset() {
  const symbol = state.filter.symbol;
  byId("asset-bar").hidden = !symbol;
  byId("asset-name").textContent = symbol || "";
  renderCardsNow();
}

function selectWindow(name) {
  state.window = name;
  writeAddress();
  renderCardsNow();
  renderBoards();
  refreshChart();
}

function applyTexts() {
  const lang = state.lang;
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t(lang, "title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(lang, el.dataset.t);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", button.dataset.lang === lang ? "true" : "false");
  }
  byId("sound-min").title = t(lang, "soundTitle");
  byId("export").title = t(lang, "exportTitle", { window: state.window || "24h" });
  byId("zone").textContent = zoneLabel();
  tape.lang = lang;
  tape.render();
  onState(stream.ws !== null && stream.ws.readyState === WebSocket.OPEN);
  renderBoards();
  if (state.snapshot) onSnapshot(state.snapshot);
  refreshChart();
}

for (const button of document.querySelectorAll("[data-lang]")) {
  button.addEventListener("click", () => {
    state.lang = button.dataset.lang;
    params.set("lang", state.lang);
    writeAddress();
    applyTexts();
  });
}

// --- sound (off by default) -------------------------------------------------------------

function beep(events) {
  if (!sound.context) return;
  const long = events.some((e) => e.side === "long" && e.notional_usd >= sound.min);
  const context = sound.context;
  const tone = context.createOscillator();
  const gain = context.createGain();
  tone.frequency.value = long ? 440 : 660;
  gain.gain.setValueAtTime(0.12, context.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.0001, context.currentTime + 0.35);
  tone.connect(gain).connect(context.destination);
  tone.start();
  tone.stop(context.currentTime + 0.36);
}

byId("chart-range").value = state.rangeDays ? String(state.rangeDays) : "";
byId("chart-range").addEventListener("change", (event) => {
  state.rangeDays = Number.parseInt(event.target.value || "0", 10) || 0;
  refreshChart();
});

byId("sound").addEventListener("change", (event) => {
  sound.on = event.target.checked;
  if (sound.on && !sound.context) sound.context = new AudioContext(); // needs this click
});
byId("sound-min").addEventListener("input", (event) => {
  const value = Number.parseFloat(event.target.value.replace(/[,_\s]/g, ""));
  sound.min = Number.isFinite(value) && value >= 0 ? value : 1e6;
});

// --- export link: the selected window and asset -----------------------------------------

byId("export").addEventListener("click", (event) => {
  const seconds = { s: 1, m: 60, h: 3600 }[(state.window || "24h").slice(-1)] || 3600;
  const span = Number.parseInt(state.window || "24", 10) * seconds * 1000;
  const query = new URLSearchParams({ since: String(Date.now() - span) });
  if (state.filter.symbol) query.set("symbol", state.filter.symbol);
  event.currentTarget.href = `/api/v1/export.csv?${query}`;
});

// --- start ------------------------------------------------------------------------------

tape.filter = state.filter;
writeForm();
applyTexts();
renderAsset();
stream.setFilter(state.filter);
stream.open();
setInterval(refreshChart, CHART_REFRESH_MS);
setInterval(refreshAsset, ASSET_REFRESH_MS);
