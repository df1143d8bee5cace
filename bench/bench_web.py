"""Measure the dashboard's stream with 1,000 WebSocket clients at the one-second push.

    python bench/bench_web.py            # 1,000 clients, 20 s per phase
    python bench/bench_web.py --quick    # 50 clients, 3 s per phase (CI smoke)

The dashboard runs in this process exactly as in the bot: a real Aggregation over a SQLite file
holding a day of events (200,000; 2,000 assets), a snapshot built and encoded once a second,
the live tape. New liquidations arrive at 20 a second through the ingest path, stamped with
the wall clock when "received". The clients run in a child process (so their CPU is not
counted) and measure, per tape event, the time from its arrival in the bot to its parse at the
client. Every client asks for binance events only; the flood below is bybit's.

Phases: 1. no client (the bot's own cost); 2. all clients; 3. all clients plus one that reads
nothing, first backed up by a flood of bybit events that only it asked for, so its socket is
full and the server holds unsent bytes for it. Figures: CPU of this process (all threads) as a
share of one core, the extra per 100 clients, RSS, client latency p50/p99, snapshots received.
Goals: 1,000 clients within 15% of one core; p99 within 250 ms; phase 3 no worse than phase 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import msgspec  # noqa: E402

from aggregation.coverage import FeedInfo  # noqa: E402
from aggregation.pipeline import Aggregation  # noqa: E402
from aggregation.store import LiquidationStore  # noqa: E402
from aggregation.windows import Outcome, WindowStore  # noqa: E402
from bot.web import Dashboard, FeedHealth, WebConfig  # noqa: E402
from collectors.clock import now_ms  # noqa: E402
from collectors.record import Coverage, FeedStateChange, Liquidation, Side  # noqa: E402

DAY_MS = 86_400_000
RATE_PER_S = 20
CPU_GOAL = 15.0  # percent of one core for 1,000 clients
P99_GOAL_MS = 250.0
FEEDS = [
    FeedInfo("binance-usdm", "binance", Coverage.THROTTLED),
    FeedInfo("okx", "okx", Coverage.PARTIAL),
    FeedInfo("bybit-linear", "bybit", Coverage.COMPLETE),
]
MEASURED_FILTER = "exchange=binance"


def event(rng: random.Random, ts: int, exchange: str, assets: int) -> Liquidation:
    asset = f"A{min(int(rng.paretovariate(1.1)) - 1, assets - 1)}"
    usd = min(rng.paretovariate(1.3) * 1_000, 5_000_000)
    side = Side.LONG if rng.random() < 0.55 else Side.SHORT
    price = 10.0 + rng.random()
    symbol = f"{asset}USDT"
    return Liquidation(exchange, "usdm", symbol, asset, side, price, usd / price, usd, ts, ts)


@dataclass
class Server:
    aggregation: Aggregation
    dashboard: Dashboard


@contextlib.asynccontextmanager
async def server(folder: Path, history: int, clients: int) -> AsyncIterator[Server]:
    store = await LiquidationStore(folder / "bench.db").open()
    aggregation = Aggregation(store, WindowStore(), FEEDS)
    rng = random.Random(3)
    start = now_ms() - DAY_MS
    for i in range(history):
        ts = start + i * DAY_MS // history
        # Stored as well as counted, as live events are: a window edge that reaches one of
        # these minutes checks memory against the database (memory alone warned six times).
        aggregation.ingest(event(rng, ts, ("binance", "okx", "bybit")[i % 3], 2_000))
    for feed in FEEDS:
        aggregation.on_feed_state(FeedStateChange(feed.feed_id, True, start, "connected"))
    health = [
        FeedHealth(f.feed_id, f.exchange, str(f.coverage), True, None, None, 60.0) for f in FEEDS
    ]
    config = WebConfig(port=0, max_clients=clients + 10, send_timeout_s=120.0)
    dashboard = Dashboard(
        config, queries=aggregation.queries, health=lambda: health, database_path=store.path
    )
    await dashboard.start()
    writer = asyncio.create_task(aggregation.run())
    try:
        yield Server(aggregation, dashboard)
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await dashboard.stop()
        await store.close()


async def feed(srv: Server, exchange: str, rate: float, stop: asyncio.Event) -> None:
    """Ingest `rate` events a second, stamped now, until stopped."""
    rng = random.Random(5 if exchange == "binance" else 6)
    interval = 1 / rate
    while not stop.is_set():
        ts = now_ms()
        record = event(rng, ts, exchange, 200)
        if srv.aggregation.ingest(record) is not Outcome.DUPLICATE:
            srv.dashboard.on_liquidation(record)
        await asyncio.sleep(interval)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Phase:
    name: str
    cpu_percent: float
    rss_mib: float
    latencies_ms: list[float]
    snapshots: int


async def measure(name: str, seconds: float, srv: Server, child: Child | None) -> Phase:
    stop = asyncio.Event()
    feeder = asyncio.create_task(feed(srv, "binance", RATE_PER_S, stop))
    await asyncio.sleep(1.0)  # warm up
    if child is not None:
        await child.command("start")
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    result: dict[str, list[float] | int] = {"latencies": [], "snapshots": 0}
    if child is not None:
        result = await child.command("stop")
    stop.set()
    await feeder
    latencies = result["latencies"]
    snapshots = result["snapshots"]
    assert isinstance(latencies, list)
    assert isinstance(snapshots, int)
    return Phase(name, 100 * cpu / wall, rss_mib(), latencies, snapshots)


class Child:
    """The client process: connects, then measures between "start" and "stop"."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def spawn(cls, url: str, clients: int) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--clients-of", url, "--clients", str(clients),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1 << 28,  # the latencies come back as one JSON line of a few MB
        )  # fmt: skip
        child = cls(process)
        await child.read()  # "ready"
        return child

    async def read(self) -> dict[str, list[float] | int]:
        assert self.process.stdout is not None
        async with asyncio.timeout(120):  # a hung client process fails the bench, never hangs it
            line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError("the client process ended early")
        decoded: dict[str, list[float] | int] = json.loads(line)
        return decoded

    async def command(self, word: str) -> dict[str, list[float] | int]:
        assert self.process.stdin is not None
        self.process.stdin.write(word.encode() + b"\n")
        await self.process.stdin.drain()
        return await self.read()

    async def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def stalled_client(port: int) -> asyncio.StreamWriter:
    """Open a stream without a filter and never read from it."""
    import socket  # noqa: PLC0415

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(
        b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    return writer


async def back_up(srv: Server, before: Collection[object]) -> int:
    """Flood bybit events (only the stalled client wants them) until its socket is full."""
    hub = srv.dashboard.hub
    for _ in range(3_000):  # until the stalled client is served
        if len(hub.clients) > len(before):
            break
        await asyncio.sleep(0.01)
    [stalled] = [c for c in hub.clients if c not in before]
    rng = random.Random(9)
    sent = 0
    assert stalled.transport is not None
    while stalled.transport.get_write_buffer_size() == 0 and sent < 400_000:
        for _ in range(2_000):
            record = event(rng, now_ms(), "bybit", 200)
            srv.aggregation.ingest(record)
            srv.dashboard.on_liquidation(record)
        sent += 2_000
        await asyncio.sleep(0.05)
    return sent


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(phase: Phase, base: Phase | None, clients: int, seconds: float) -> None:
    extra = ""
    if base is not None and clients:
        per_100 = (phase.cpu_percent - base.cpu_percent) * 100 / clients
        extra = f" ({per_100:.2f}% of a core per 100 clients)"
    lat = phase.latencies_ms
    cpu, rss = phase.cpu_percent, phase.rss_mib
    print(f"{phase.name}: CPU {cpu:.1f}% of one core{extra}, RSS {rss:.0f} MiB")
    if clients:
        print(
            f"  tape latency at the clients: p50 {percentile(lat, 0.5):.1f} ms, "
            f"p99 {percentile(lat, 0.99):.1f} ms, max {max(lat, default=float('nan')):.1f} ms "
            f"({len(lat):,} deliveries); snapshots {phase.snapshots / clients / seconds:.2f} "
            "per client per second"
        )


async def run(clients: int, seconds: float, history: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with server(Path(folder), history, clients) as srv:
            times = []
            for _ in range(2):  # the first also loads the day's largest and folds the windows
                started = time.perf_counter()
                size = len(msgspec.json.encode(srv.dashboard.views.snapshot()))
                times.append((time.perf_counter() - started) * 1000)
            print(
                f"{clients:,} clients; {history:,} events in memory; snapshot {size / 1024:.1f} KB "
                f"built and encoded once a second for every client in {times[1]:.1f} ms "
                f"(the first in {times[0]:.1f} ms)"
            )
            base = await measure("1. no client", seconds, srv, None)
            report(base, None, 0, seconds)
            url = f"http://127.0.0.1:{srv.dashboard.port}/api/v1/stream?{MEASURED_FILTER}"
            child = await Child.spawn(url, clients)
            try:
                full = await measure(f"2. {clients:,} clients", seconds, srv, child)
                report(full, base, clients, seconds)
                before = set(srv.dashboard.hub.clients)
                stalled = await stalled_client(srv.dashboard.port or 0)
                flood = await back_up(srv, before)
                slow = await measure("3. plus one stalled client", seconds, srv, child)
                report(slow, base, clients, seconds)
                stalled_left = len(srv.dashboard.hub.clients) == clients
                print(
                    f"  the stalled client was backed up by a {flood:,}-event flood; "
                    f"{'dropped by the server' if stalled_left else 'still connected, held'}"
                )
                stalled.close()
            finally:
                await child.close()
            verdict(full, slow, clients)


def verdict(full: Phase, slow: Phase, clients: int) -> None:
    p99, p99_slow = percentile(full.latencies_ms, 0.99), percentile(slow.latencies_ms, 0.99)
    scope = "" if clients >= 1_000 else " (the goals are for 1,000 clients: run without --quick)"
    print(
        f"goals{scope}: CPU with {clients:,} clients {full.cpu_percent:.1f}% of one core "
        f"(goal <= {CPU_GOAL:.0f}% for 1,000), p99 {p99:.0f} ms (goal <= {P99_GOAL_MS:.0f} ms), "
        f"with a stalled client p99 {p99_slow:.0f} ms (goal: no worse)"
    )


# --- the client process ---------------------------------------------------------------------


async def clients_main(url: str, count: int) -> None:
    measuring = False
    latencies: list[float] = []
    snapshots = 0
    decoder = msgspec.json.Decoder()

    async def one(http: aiohttp.ClientSession) -> None:
        nonlocal snapshots
        async with http.ws_connect(url, max_msg_size=0) as ws:
            async for message in ws:
                data = message.data
                if data.startswith('{"type":"snapshot"'):
                    snapshots += measuring
                    continue
                if data.startswith('{"type":"tape"') and measuring:
                    now = time.time_ns() / 1e6
                    latencies.extend(now - e["ts_ms"] for e in decoder.decode(data)["events"])

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = []
        for start in range(0, count, 50):
            batch = [asyncio.create_task(one(http)) for _ in range(min(50, count - start))]
            tasks += batch
            await asyncio.sleep(0.05)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await asyncio.sleep(1.0)
        print(json.dumps({"ready": sum(not t.done() for t in tasks)}), flush=True)
        while line := (await reader.readline()).strip():
            if line == b"start":
                latencies.clear()
                snapshots = 0
                measuring = True
                print("{}", flush=True)
            elif line == b"stop":
                measuring = False
                rounded = [round(value, 1) for value in latencies]
                print(json.dumps({"latencies": rounded, "snapshots": snapshots}), flush=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 clients, 3 s phases (CI smoke)")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--clients-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients_of:
        asyncio.run(clients_main(args.clients_of, args.clients))
        return
    clients = args.clients or (50 if args.quick else 1_000)
    seconds = 3.0 if args.quick else 20.0
    history = 20_000 if args.quick else 200_000
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    asyncio.run(run(clients, seconds, history))


if __name__ == "__main__":
    main()
