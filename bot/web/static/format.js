// Numbers and times for people, in the browser's own time zone.

export function usd(value) {
  const m = Math.abs(value);
  let text;
  // Each bound is where the smaller unit would round up to 1,000 (999,999 is $1.00M).
  if (m < 999.5) text = m.toFixed(0);
  else if (m < 999995) text = (m / 1e3).toFixed(2) + "K";
  else if (m < 999995000) text = (m / 1e6).toFixed(2) + "M";
  else text = (m / 1e9).toFixed(2) + "B";
  return (value < 0 ? "-$" : "$") + text;
}

export function price(value) {
  if (!Number.isFinite(value) || value <= 0) return String(value);
  if (value >= 1000) {
    return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  const decimals = Math.max(2, 3 - Math.floor(Math.log10(value)));
  return value.toFixed(Math.min(decimals, 12));
}

const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const minuteClock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

export function time(ms) {
  return clock.format(new Date(ms));
}

export function minuteTime(ms) {
  return minuteClock.format(new Date(ms));
}

// "01-16 14:00" in local time: short enough for a phone.
export function dayTime(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${minuteTime(ms)}`;
}

export function zoneLabel() {
  const offset = -new Date().getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const h = Math.floor(Math.abs(offset) / 60);
  const m = Math.abs(offset) % 60;
  return offset === 0 ? "UTC" : `UTC${sign}${h}${m ? ":" + String(m).padStart(2, "0") : ""}`;
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function bucketName(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

const EXCHANGES = { binance: "Binance", okx: "OKX", bybit: "Bybit" };
const FEEDS = {
  "binance-usdm": "Binance USD-M",
  "binance-coinm": "Binance COIN-M",
  okx: "OKX",
  "bybit-linear": "Bybit linear",
  "bybit-inverse": "Bybit inverse",
};

export function exchangeName(id) {
  return EXCHANGES[id] || id;
}

export function feedName(id) {
  return FEEDS[id] || id;
}

// Size tiers of the tape, loudest first: $1M, $100K, $10K, $1K.
export function tier(value) {
  if (value >= 1e6) return "t5";
  if (value >= 1e5) return "t4";
  if (value >= 1e4) return "t3";
  if (value >= 1e3) return "t2";
  return "t1";
}
