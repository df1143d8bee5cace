"""Measure normalization throughput per feed beside the floor of a bare orjson decode.

Frames are built from the recorded fixtures (tests/fixtures) with varied symbols, sizes, prices
and times, so caches see a realistic spread. Each figure is the best of several timed passes
over the same frames, on one core (this process, one thread); a feed's decode, parse and process
passes take turns, so its ratios compare passes made under the same load.

    python bench/bench_normalize.py            # 200,000 frames per feed
    python bench/bench_normalize.py --quick    # a smoke run (CI)
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.venue_frames_a import (  # noqa: E402
    bitget_frames,
    gate_contracts,
    gate_frames,
    htx_contracts,
    htx_frames,
)
from collectors.exchanges.binance import BinanceCoinmFeed, BinanceUsdmFeed  # noqa: E402
from collectors.exchanges.bitfinex import BitfinexFeed  # noqa: E402
from collectors.exchanges.bitget.feed import BitgetFeed  # noqa: E402
from collectors.exchanges.bitmex import BitmexFeed  # noqa: E402
from collectors.exchanges.bybit.feed import BybitFeed  # noqa: E402
from collectors.exchanges.deribit import DeribitFeed  # noqa: E402
from collectors.exchanges.gate.feed import GateFeed  # noqa: E402
from collectors.exchanges.htx.feed import HtxFeed  # noqa: E402
from collectors.exchanges.kraken import KrakenFuturesFeed  # noqa: E402
from collectors.exchanges.okx.feed import OkxFeed  # noqa: E402
from collectors.feed import Feed  # noqa: E402
from collectors.processor import FrameProcessor  # noqa: E402
from collectors.record import FeedStateChange, Liquidation  # noqa: E402
from collectors.session import inflate  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
RECV_MS = 1_800_000_000_000


def _lines(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


def binance_frames(count: int, rng: random.Random, *, coinm: bool, combined: bool) -> list[bytes]:
    """Forced-order frames over 300 symbols, bare or in the combined-stream envelope."""
    templates = [
        line.get("data", line) for line in _lines("binance_usdm_forceorder.jsonl")
    ]  # bare events
    if coinm:
        symbols = [f"C{i}USD_PERP" for i in range(300)]
    else:
        symbols = [f"C{i}USDT" for i in range(290)] + [f"1000C{i}USDT" for i in range(10)]
    frames = []
    for n in range(count):
        event = json.loads(json.dumps(rng.choice(templates)))
        order = event["o"]
        order["s"] = rng.choice(symbols)
        order["S"] = rng.choice(("BUY", "SELL"))
        order["ap"] = f"{rng.uniform(0.001, 90000):.4f}"
        order["z"] = order["q"] = f"{rng.randint(1, 50000) / 100:.2f}"
        order["T"] = event["E"] = RECV_MS + n
        frame = {"stream": "!forceOrder@arr", "data": event} if combined else event
        frames.append(json.dumps(frame, separators=(",", ":")).encode())
    return frames


def coinm_exchange_info() -> str:
    """An exchangeInfo body for the synthetic COIN-M symbols."""
    symbols = [
        {"symbol": f"C{i}USD_PERP", "baseAsset": f"C{i}", "quoteAsset": "USD", "contractSize": 10}
        for i in range(300)
    ]
    return json.dumps({"symbols": symbols})


def okx_instruments() -> str:
    """An instruments body for the synthetic OKX swaps (linear and inverse)."""
    rows = []
    for i in range(300):
        inverse = i % 5 == 0
        rows.append(
            {
                "instId": f"C{i}-USD-SWAP" if inverse else f"C{i}-USDT-SWAP",
                "instType": "SWAP",
                "ctType": "inverse" if inverse else "linear",
                "ctVal": "10" if inverse else "0.01",
                "ctMult": "1",
                "ctValCcy": "USD" if inverse else f"C{i}",
            }
        )
    return json.dumps({"code": "0", "msg": "", "data": rows})


def okx_frames(count: int, rng: random.Random) -> list[bytes]:
    """liquidation-orders pushes with one entry and one detail, as OKX usually sends."""
    template = _lines("okx_liquidation_orders.jsonl")[5]
    frames = []
    for n in range(count):
        push = json.loads(json.dumps(template))
        entry = push["data"][0]
        i = rng.randrange(300)
        entry["instId"] = f"C{i}-USD-SWAP" if i % 5 == 0 else f"C{i}-USDT-SWAP"
        detail = entry["details"][0]
        detail["posSide"], detail["side"] = rng.choice((("long", "sell"), ("short", "buy")))
        detail["bkPx"] = f"{rng.uniform(0.001, 90000):.4f}"
        detail["sz"] = f"{rng.randint(1, 5000) / 100:.2f}"
        detail["ts"] = str(RECV_MS + n)
        frames.append(json.dumps(push, separators=(",", ":")).encode())
    return frames


def bybit_instruments() -> str:
    """An instruments-info document (one page) for the synthetic Bybit linear symbols."""
    rows = [
        {
            "symbol": f"C{i}USDT" if i >= 10 else f"1000C{i}USDT",
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": f"C{i}" if i >= 10 else f"1000C{i}",
            "quoteCoin": "USDT",
        }
        for i in range(300)
    ]
    page = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": rows}}
    return json.dumps([page])


def bybit_frames(count: int, rng: random.Random) -> tuple[list[bytes], int]:
    """allLiquidation pushes with one entry, or two (a 500 ms batch) one time in three."""
    template = _lines("bybit_all_liquidation.jsonl")[4]  # the recorded two-entry BTCUSDT push
    frames = []
    events = 0
    for n in range(count):
        i = rng.randrange(300)
        symbol = f"C{i}USDT" if i >= 10 else f"1000C{i}USDT"
        push = json.loads(json.dumps(template))
        push["topic"] = f"allLiquidation.{symbol}"
        push["ts"] = RECV_MS + n
        entries = push["data"][: 2 if rng.random() < 1 / 3 else 1]
        for entry in entries:
            entry["s"] = symbol
            entry["S"] = rng.choice(("Buy", "Sell"))
            entry["p"] = f"{rng.uniform(0.001, 90000):.4f}"
            entry["v"] = f"{rng.randint(1, 50000) / 1000:.3f}"
            entry["T"] = RECV_MS + n
        push["data"] = entries
        events += len(entries)
        frames.append(json.dumps(push, separators=(",", ":")).encode())
    return frames, events


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def deribit_feed() -> DeribitFeed:
    """A Deribit feed knowing 300 synthetic futures, one in five inverse."""
    rows = [
        {
            "instrument_name": f"C{i}-PERPETUAL" if i % 5 == 0 else f"C{i}_USDC-PERPETUAL",
            "kind": "future",
            "instrument_type": "reversed" if i % 5 == 0 else "linear",
            "base_currency": f"C{i}",
        }
        for i in range(300)
    ]
    feed = DeribitFeed("ws://unused", "http://unused")
    feed.apply_instruments(json.dumps({"jsonrpc": "2.0", "result": rows}))
    return feed


def deribit_frames(count: int, rng: random.Random) -> tuple[list[bytes], int]:
    """trades pushes of one liquidation trade; one in ten is MT (two events)."""
    template = _lines("deribit_trades.jsonl")[0]
    frames, events = [], 0
    for n in range(count):
        push = json.loads(json.dumps(template))
        trade = push["params"]["data"][0]
        i = rng.randrange(300)
        trade["instrument_name"] = f"C{i}-PERPETUAL" if i % 5 == 0 else f"C{i}_USDC-PERPETUAL"
        trade["trade_id"] = f"T-{n}"
        trade["direction"] = rng.choice(("buy", "sell"))
        trade["liquidation"] = "MT" if n % 10 == 0 else rng.choice(("M", "T"))
        trade["price"] = round(rng.uniform(0.01, 90000), 2)
        trade["amount"] = float(rng.randint(1, 5000))
        trade["timestamp"] = RECV_MS + n
        push["params"]["data"] = [trade]
        events += 2 if n % 10 == 0 else 1
        frames.append(_compact(push))
    return frames, events


def bitmex_feed() -> BitmexFeed:
    """A BitMEX feed with 300 synthetic contracts: inverse, linear and quanto, and an XBT price."""
    rows: list[dict[str, object]] = [
        {"symbol": "XBTUSD", "underlying": "XBT", "isInverse": True, "markPrice": 82000.0}
    ]
    for i in range(300):
        kind = i % 3
        rows.append(
            {
                "symbol": f"C{i}USD",
                "underlying": f"C{i}",
                "isInverse": kind == 0,
                "isQuanto": kind == 2,
                "multiplier": 100,
                "underlyingToPositionMultiplier": 1000 if kind == 1 else None,
            }
        )
    feed = BitmexFeed("ws://unused", "http://unused")
    feed.apply_instruments(json.dumps(rows))
    return feed


def bitmex_frames(count: int, rng: random.Random) -> list[bytes]:
    """`insert`s of one new liquidation order each."""
    template = _lines("bitmex_liquidation.jsonl")[0]
    frames = []
    for n in range(count):
        push = json.loads(json.dumps(template))
        row = push["data"][0]
        row["orderID"] = f"{n:08x}-6a3b-51c4-14bd-e076919e9e30"
        row["symbol"] = f"C{rng.randrange(300)}USD"
        row["side"] = rng.choice(("Buy", "Sell"))
        row["price"] = round(rng.uniform(0.01, 90000), 1)
        row["leavesQty"] = rng.randint(1, 500000)
        frames.append(_compact(push))
    return frames


def bitfinex_frames(count: int, rng: random.Random) -> list[bytes]:
    """`liq:global` updates of one USDT-perpetual position each."""
    template = _lines("bitfinex_liq_global.jsonl")[4]
    frames = []
    for n in range(count):
        push = json.loads(json.dumps(template))
        row = push[1][0]
        row[1] = 145_000_000 + n
        row[2] = RECV_MS + n
        row[4] = f"tC{rng.randrange(300)}F0:USTF0"
        row[5] = round(rng.uniform(-50, 50), 4) or 1.0
        row[6] = round(rng.uniform(0.01, 90000), 2)
        row[11] = round(rng.uniform(0.01, 90000), 2)
        frames.append(_compact(push))
    return frames


def kraken_frames(count: int, rng: random.Random) -> list[bytes]:
    """`trade` messages of type liquidation, PF_ (base) and PI_ (USD contracts)."""
    template = _lines("kraken_futures_trade.jsonl")[3]
    frames = []
    for n in range(count):
        trade = json.loads(json.dumps(template))
        i = rng.randrange(300)
        trade["product_id"] = f"PI_C{i}USD" if i % 5 == 0 else f"PF_C{i}USD"
        trade["uid"] = f"u{n}"
        trade["seq"] = n
        trade["side"] = rng.choice(("buy", "sell"))
        trade["time"] = RECV_MS + n
        trade["qty"] = rng.randint(1, 50000) / 100
        trade["price"] = round(rng.uniform(0.01, 90000), 2)
        frames.append(_compact(trade))
    return frames


def best_rates(
    runs: dict[str, Callable[[], int]], frames: int, repeat: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Return each run's frames per second over its fastest pass, and what its last pass returned.

    The runs take turns, pass by pass (a, b, c, a, b, c, ...), so that a ratio between two of them
    compares passes made under the same load: timed one after the other, a machine that slows
    down for a second (another process, a noisy neighbour) skews it by tens of percent.
    """
    best = dict.fromkeys(runs, float("inf"))
    produced = dict.fromkeys(runs, 0)
    for _ in range(repeat):
        for name, run in runs.items():
            gc.collect()
            started = time.perf_counter()
            produced[name] = run()
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: frames / seconds for name, seconds in best.items()}, produced


def orjson_pass(frames: Sequence[str | bytes]) -> Callable[[], int]:
    """Return a pass of orjson's decode over the frames: the reference of every ratio."""

    def run() -> int:
        loads = orjson.loads
        for frame in frames:
            loads(frame)
        return len(frames)

    return run


def parse_pass(feed: Callable[[], Feed], frames: list[bytes]) -> Callable[[], int]:
    """Return a pass of `feed().parse` over the frames, returning the records it made.

    A feed that counts each order or trade id once is made anew for every pass.
    """

    def run() -> int:
        parse_frame = feed().parse
        events = 0
        for frame in frames:
            events += len(parse_frame(frame, RECV_MS).records)
        return events

    return run


class _NullSink:
    def on_liquidation(self, record: Liquidation) -> None:
        pass

    def on_feed_state(self, change: FeedStateChange) -> None:
        pass


def measure(
    name: str,
    feed: Feed | Callable[[], Feed],
    frames: list[bytes],
    repeat: int,
    events: int | None = None,
) -> dict[str, float]:
    """Time bare decoding, parsing, and the full processor path over the same frames.

    Rates are events per second (`events`: how many the frames hold; one per frame by default);
    the ratios compare the time per frame with a bare orjson decode of the same frame.
    """
    expected = len(frames) if events is None else events
    # A feed that counts each order or trade id once gets a fresh instance for every pass.
    fresh = feed if callable(feed) else (lambda: feed)

    def process() -> int:
        processor = FrameProcessor(fresh(), _NullSink())
        for frame in frames:
            processor.process(frame, RECV_MS)
        return processor.stats.events

    runs = {"decode": orjson_pass(frames), "parse": parse_pass(fresh, frames), "process": process}
    rates, produced = best_rates(runs, len(frames), repeat)
    assert produced["parse"] == expected, f"{name}: {produced['parse']} events from {len(frames)}"
    decode_rate, parse_rate, process_rate = rates["decode"], rates["parse"], rates["process"]
    per_frame = expected / len(frames)
    return {
        "decode": decode_rate,
        "parse": parse_rate * per_frame,
        "process": process_rate * per_frame,
        "ratio": decode_rate / parse_rate,
        "process_ratio": decode_rate / process_rate,
    }


def _add_venues_a(
    cases: list[tuple[str, Feed | Callable[[], Feed], list[bytes], int | None]],
    count: int,
    rng: random.Random,
) -> list[tuple[str, list[bytes]]]:
    """Add the Gate, HTX and Bitget rows; return HTX's gzip frames for the inflate line."""
    gzipped = []
    for settle in ("usdt", "btc"):
        gate = GateFeed(settle, "ws://unused", "http://unused")
        gate.apply_contracts(gate_contracts(settle))
        cases.append((f"gate-{settle}", gate, gate_frames(count, rng, settle), None))
    for market in ("linear", "swap", "futures"):
        htx = HtxFeed(market, "ws://unused", "http://unused")
        htx.apply_contract_info(htx_contracts(market))
        texts, wire = htx_frames(count, rng, market)
        cases.append((f"htx-{market} (gunzipped)", htx, texts, None))
        gzipped.append((f"htx-{market}", wire))
    cases.append(("bitget", BitgetFeed("ws://unused"), bitget_frames(count, rng), None))
    return gzipped


def _inflate_line(name: str, wire: list[bytes], repeat: int) -> str:
    """Time the connection loop's gunzip of HTX frames beside orjson's decode of the result."""
    texts = [inflate(frame, 1 << 20) for frame in wire]

    def gunzip() -> int:
        for frame in wire:
            inflate(frame, 1 << 20)
        return len(wire)

    rates, _ = best_rates({"gunzip": gunzip, "decode": orjson_pass(texts)}, len(wire), repeat)
    gunzip_rate, decode_rate = rates["gunzip"], rates["decode"]
    return (
        f"{name} gunzip before parse: {gunzip_rate:,.0f} frames/s "
        f"({decode_rate / gunzip_rate:.2f}x orjson decode time per frame)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10,000 frames, 2 passes")
    args = parser.parse_args()
    count, repeat = (10_000, 2) if args.quick else (args.frames, args.repeat)
    rng = random.Random(42)

    usdm = BinanceUsdmFeed("ws://unused")
    coinm = BinanceCoinmFeed("ws://unused", "http://unused")
    coinm.apply_exchange_info(coinm_exchange_info())
    okx = OkxFeed("ws://unused", "http://unused")
    okx.apply_instruments(okx_instruments())
    usdm_bare = binance_frames(count, rng, coinm=False, combined=False)
    usdm_combined = binance_frames(count, rng, coinm=False, combined=True)
    coinm_bare = binance_frames(count, rng, coinm=True, combined=False)
    okx_pushes = okx_frames(count, rng)
    bybit = BybitFeed("linear", "ws://unused", "http://unused")
    bybit.apply_instruments(bybit_instruments())
    pushes, bybit_events = bybit_frames(count, rng)
    deribit_pushes, deribit_events = deribit_frames(count, rng)
    kraken = KrakenFuturesFeed("ws://unused", "http://unused")
    cases: list[tuple[str, Feed | Callable[[], Feed], list[bytes], int | None]] = [
        ("binance-usdm (bare)", usdm, usdm_bare, None),
        ("binance-usdm (combined)", usdm, usdm_combined, None),
        ("binance-coinm (bare)", coinm, coinm_bare, None),
        ("okx", okx, okx_pushes, None),
        (f"bybit-linear ({bybit_events / count:.2f} ev/fr)", bybit, pushes, bybit_events),
        (
            f"deribit ({deribit_events / count:.2f} ev/fr)",
            deribit_feed,
            deribit_pushes,
            deribit_events,
        ),
        ("bitmex", bitmex_feed, bitmex_frames(count, rng), None),
        ("bitfinex", lambda: BitfinexFeed("ws://unused"), bitfinex_frames(count, rng), None),
        ("kraken-futures", kraken, kraken_frames(count, rng), None),
    ]
    gzipped = _add_venues_a(cases, count, rng)
    print(
        f"python {sys.version.split()[0]}, orjson {orjson.__version__}; "
        f"{count:,} frames per feed, best of {repeat}"
    )
    print(
        f"{'feed':<25}{'orjson decode/s':>16}{'parse ev/s':>13}{'ratio':>7}"
        f"{'process ev/s':>14}{'ratio':>7}"
    )
    for name, feed, frames, events in cases:
        r = measure(name, feed, frames, repeat, events)
        print(
            f"{name:<25}{r['decode']:>16,.0f}{r['parse']:>13,.0f}{r['ratio']:>7.2f}"
            f"{r['process']:>14,.0f}{r['process_ratio']:>7.2f}"
        )
    for name, wire in gzipped:
        print(_inflate_line(name, wire, repeat))
    print(
        "parse = Feed.parse (decode + validate + normalize into records); process = parse plus "
        "duplicate check and sink hand-off;\nratio = time per frame relative to orjson.loads of "
        "the same frame (goal: parse ratio <= 2.5, binance parse >= 300,000 ev/s);\n"
        "ev/fr = liquidations per frame (Bybit batches a symbol's liquidations every 500 ms)"
    )


if __name__ == "__main__":
    main()
