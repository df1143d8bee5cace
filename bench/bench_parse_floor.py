"""What parsing a BitMEX or Bitfinex frame costs at the least, beside what the feed's parser costs.

    python bench/bench_parse_floor.py            # 200,000 frames per feed
    python bench/bench_parse_floor.py --quick    # a smoke run (CI)

Issue 15's goal is a parse within 2.5x of orjson's decode of the same frame. These two feeds'
frames are small (one row in 100 to 200 bytes: orjson decodes one in 0.5 to 0.8 us here), so a
parser's fixed costs per event weigh more than on the other feeds. This bench adds those costs
one at a time, each step timed over frames built as `bench_normalize.py` builds them, in turns
with the others (best of several passes):

1. decode: the feed's own typed msgspec decoder, and a loop over the rows;
2. + result: the `Parsed` and one `Liquidation` per row, constant values but the symbol: what
   every parser hands on, with no check and no conversion;
3. + lookup: the symbol's contract (BitMEX) or asset (Bitfinex), a dict lookup as in the parser;
4. + id memory: each row's order or position id through `FirstSight.first`, as the venue
   requires (each orderID / POS_ID once), at the feeds' capacity;
5. parse: the feed's `parse`: the above, plus the checks and the conversions of the rules.

The steps share one loop (a few ns per row of step tests, which the feed's parse does not pay).

Printed: nanoseconds per frame and the ratio to orjson's decode of the same frames.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_normalize import (  # noqa: E402
    RECV_MS,
    best_rates,
    bitfinex_frames,
    bitmex_feed,
    bitmex_frames,
    orjson_pass,
    parse_pass,
)
from collectors.exchanges import bitfinex, bitmex  # noqa: E402
from collectors.exchanges.bitfinex import BitfinexFeed, perpetual_asset  # noqa: E402
from collectors.feed import Feed  # noqa: E402
from collectors.parsing import FirstSight, Parsed  # noqa: E402
from collectors.record import Liquidation, Side  # noqa: E402

# The steps, each adding to the one before; the feed's own parse is timed after them.
STEPS = ("decode", "+ result", "+ lookup", "+ id memory")
RESULT, LOOKUP, MEMORY = 1, 2, 3
StepPass = Callable[[list[bytes], int], Callable[[], int]]  # (frames, step) -> a timed pass


def bitmex_pass(frames: list[bytes], step: int) -> Callable[[], int]:
    """Return a pass over BitMEX `insert` frames up to `step` (rows: `data`, id: `orderID`)."""
    decode = bitmex._DECODER.decode  # the parser's own decoder
    instruments = bitmex_feed().instruments
    long = Side.LONG

    def run() -> int:
        first = FirstSight().first
        for frame in frames:
            rows = decode(frame).data or ()
            records: list[Liquidation] = []
            if step >= RESULT:
                Parsed(records)
            for row in rows:
                if step >= RESULT:
                    symbol = row.symbol
                    base = instruments[symbol].base if step >= LOOKUP else "X"
                    if step >= MEMORY:
                        first(row.orderID)
                    records.append(
                        Liquidation("x", "x", symbol, base, long, 1.0, 1.0, 1.0, RECV_MS, RECV_MS)
                    )
        return len(frames)

    return run


def bitfinex_pass(frames: list[bytes], step: int) -> Callable[[], int]:
    """Return a pass over Bitfinex `liq:global` frames up to `step` (rows: `body`, id: `pos_id`)."""
    # The parser's own decoder for the usual frame; every frame here is one (typed Any for mypy).
    decode: Callable[[bytes], Any] = bitfinex._FAST_DECODER.decode
    symbols = {row.symbol for frame in frames for row in decode(frame).body}
    assets = {symbol: perpetual_asset(symbol) or "" for symbol in symbols}  # the parser caches them
    long = Side.LONG

    def run() -> int:
        first = FirstSight().first
        for frame in frames:
            rows = decode(frame).body
            records: list[Liquidation] = []
            if step >= RESULT:
                Parsed(records)
            for row in rows:
                if step >= RESULT:
                    symbol = row.symbol
                    asset = assets[symbol] if step >= LOOKUP else "X"
                    if step >= MEMORY:
                        first(row.pos_id)
                    records.append(
                        Liquidation("x", "x", symbol, asset, long, 1.0, 1.0, 1.0, RECV_MS, RECV_MS)
                    )
        return len(frames)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10,000 frames, 2 passes")
    args = parser.parse_args()
    count, repeat = (10_000, 2) if args.quick else (args.frames, args.repeat)
    rng = random.Random(42)
    print(f"python {sys.version.split()[0]}; {count:,} frames per feed, best of {repeat}")
    print(f"{'feed':<10}{'step':<14}{'ns/frame':>10}{'x orjson':>10}")
    feeds: list[tuple[str, list[bytes], StepPass, Callable[[], Feed]]] = [
        ("bitmex", bitmex_frames(count, rng), bitmex_pass, bitmex_feed),
        ("bitfinex", bitfinex_frames(count, rng), bitfinex_pass, lambda: BitfinexFeed("ws://x")),
    ]
    for name, frames, step_pass, feed in feeds:
        runs = {"orjson": orjson_pass(frames)}
        runs.update({label: step_pass(frames, step) for step, label in enumerate(STEPS)})
        runs["parse"] = parse_pass(feed, frames)
        rates, _ = best_rates(runs, len(frames), repeat)
        for step, rate in rates.items():
            print(f"{name:<10}{step:<14}{1e9 / rate:>10,.0f}{rates['orjson'] / rate:>10.2f}")
    print("each step adds to the one above; parse = the feed's Feed.parse (goal: <= 2.5x orjson)")


if __name__ == "__main__":
    main()
