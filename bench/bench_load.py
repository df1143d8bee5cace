"""Replay a crash day through the whole bot; print memory, queues, database and alert latency.

    python bench/bench_load.py                 # 600 s: 2,000 events/s, 20,000/s bursts, 1,000 chats
    python bench/bench_load.py --quick         # 20 s, one burst, 100 chats (CI smoke, < 60 s)
    python bench/bench_load.py --duration 120 --chats 300

The bot runs in this process as in production: `run_telegram` with the real python-telegram-bot
Application, the real websockets client and a real SQLite file in a temporary folder. Its two
peers each run in a CHILD process - in this one they would compete for the event loop being
measured, and a real exchange and Telegram are other machines. Telegram is the local fake Bot API
(tests/support/bot_api.py), which enforces Telegram's flood limits (30 messages/s overall) and
answers 429 beyond them; its call log comes back over a pipe, stamped with the arrival time in the
child (CLOCK_MONOTONIC, the same clock in both processes). The exchange is a local WebSocket server
(tests/support/ws_server.py) streaming Binance USDⓈ-M
`!forceOrder@arr` frames, one event per frame as Binance sends them, paced to a schedule: a base
rate (2,000/s) with bursts (20,000/s for 1 s every 60 s, the first 30 s in; in --quick one burst
10 s in). Market: 300 symbols (20 real majors, 280 synthetic alts, Zipf popularity), 65% longs
liquidated, log-normal sizes (median $1,000, sigma 1.4): most events are small, few match a rule.

Chats: every private chat sends a real `/subscribe` command through the fake API (the replies go
out at Telegram's 30 messages/s, so 1,000 chats take ~35 s before the load starts); the rule mix
gives about 3 alerts/s at the base rate and 30/s in bursts, Telegram's overall limit, so alerts
are also merged into digests. --quick subscribes 100 chats with thresholds 2.5x lower, to keep a
similar flow of alerts.

Latency is measured from the frame's receive time (`Liquidation.recv_ms`) to the arrival, at the
fake Bot API, of the sendMessage that carried the alert. To know which message carried which
alert, the bench wraps the dispatcher's public `enqueue_alert` on the running instance (it records,
then calls the original; no production code changes) and reads each message's alert count from
its text (one alert, or a digest's "N liquidation alerts"): a chat's messages carry its alerts in
order. An alert counts as sent WITHOUT a rate-limit wait when all hold: it went alone (a digest
means it waited for its chat's pace); it was queued at least the chat's pace (1 s) + 0.25 s after
the chat's previous message arrived (so the dispatcher's per-chat pacing did not hold it); no 429
was answered to its chat before it, nor to anyone within the 429's retry_after before it (PTB's
limiter then pauses every request); and PTB's rate limiter held no request at any moment from
when the alert was queued to when it arrived (the bench wraps the limiter's public
`process_request`: a request is held from its entry until the limiter lets it through; while one
is held, the 30/s overall limit is what every send waits for, in the limiter or for a dispatcher
worker that waits there). Phases: an alert belongs to
a burst when the generator built its frame during a burst window; after a burst, base-load alerts
still queue behind the burst's backlog.

Figures: events sent (and the achieved send rate, per phase and its worst second), events
received by the feed, rows in the SQLite file after a flush, ingest lag (frame built -> received),
resident memory every 5 s (after warm-up: min/max/last and the slope, next to the growth the
window store's designed 24 h retention explains), the deepest every queue got against its bound,
every drop counter, alert counts, latency p50/p90/p99/max (and the part of it spent on the alert
journal's durable mark before each send: the bench times the journal's public `on_wire` the same
way), the unthrottled latency split into its parts (frame received -> queued for the chat; queued
-> the journal mark began, i.e. waiting for a worker; the mark; the mark -> the request at the fake
API) and per burst, and CPU time per 1,000 events.
The fake Bot API's call log is sent over as the run goes and emptied, so memory and CPU are the
bot's (before 2026-12-06 the fake ran in this process: its work shared the measured event loop and
was in the CPU figure).

Exit status 1 if a row is missing from the database, a drop counter is not zero (an event or an
alert lost anywhere: bad frame, duplicate, full buffer or queue, undelivered alert) or a queue hit
its bound. Error counters that lose nothing (alert journal writes, reconnects) are warnings, and the
latency goal (p99 < 250 ms without rate-limit waits) is reported, not enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import dataclasses
import gc
import inspect
import itertools
import logging
import math
import multiprocessing
import random
import re
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram.ext import BaseRateLimiter  # noqa: E402

from aggregation.store import LiquidationStore  # noqa: E402
from bot.app.application import TelegramTuning  # noqa: E402
from bot.app.telegram import RunningBot, run_telegram  # noqa: E402
from bot.delivery.dispatcher import AlertDispatcher  # noqa: E402
from bot.delivery.journal import AlertJournal  # noqa: E402
from bot.settings import Settings  # noqa: E402
from collectors.record import Liquidation  # noqa: E402
from tests.support.bot_api import FakeBotApi  # noqa: E402
from tests.support.bot_api_objects import Call  # noqa: E402
from tests.support.flood import SENDING_METHODS, FloodLimits  # noqa: E402
from tests.support.frames import binance_force_order  # noqa: E402
from tests.support.ws_server import Peer, ScriptedServer  # noqa: E402

FIRST_CHAT = 10_001
LATENCY_GOAL_MS = 250.0
# A request that took this long from the rate limiter's entry to its HTTP call was held by the
# limit (letting one through without a wait runs no await: some microseconds).
HELD_S = 0.005
PACING_MARGIN_S = 0.25  # an alert queued this soon after its chat's pace allows may have waited

# (symbol, asset, price): the majors, by popularity; synthetic alts follow.
MAJORS = [
    ("BTCUSDT", "BTC", 80_000.0), ("ETHUSDT", "ETH", 3_000.0), ("SOLUSDT", "SOL", 150.0),
    ("XRPUSDT", "XRP", 2.2), ("DOGEUSDT", "DOGE", 0.2), ("BNBUSDT", "BNB", 600.0),
    ("ADAUSDT", "ADA", 0.7), ("SUIUSDT", "SUI", 3.5), ("LINKUSDT", "LINK", 15.0),
    ("AVAXUSDT", "AVAX", 25.0), ("1000PEPEUSDT", "PEPE", 0.012), ("LTCUSDT", "LTC", 90.0),
    ("DOTUSDT", "DOT", 5.0), ("TRXUSDT", "TRX", 0.25), ("WIFUSDT", "WIF", 1.0),
    ("1000SHIBUSDT", "SHIB", 0.015), ("NEARUSDT", "NEAR", 3.0), ("APTUSDT", "APT", 6.0),
    ("ARBUSDT", "ARB", 0.5), ("OPUSDT", "OP", 1.2),
]  # fmt: skip
SYMBOLS = 300
MEDIAN_USD = 1_000.0
SIGMA = 1.4
LONG_SHARE = 0.65  # a crash liquidates mostly longs


@dataclass(frozen=True)
class Market:
    """The instruments of the replay and how often each trades."""

    symbols: list[tuple[str, str, float]]
    cumulative: list[float]  # Zipf weights, summed (for bisect)
    shares: dict[str, float]  # asset -> share of events


def market(seed: int = 11) -> Market:
    """Return the 300 instruments: the majors first, then synthetic alts at random prices."""
    rng = random.Random(seed)
    symbols = list(MAJORS)
    for i in range(SYMBOLS - len(MAJORS)):
        price = float(f"{10 ** rng.uniform(-3, 1.7):.4g}")
        symbols.append((f"ALT{i:03d}USDT", f"ALT{i:03d}", price))
    weights = [1 / rank for rank in range(1, len(symbols) + 1)]
    total = sum(weights)
    return Market(
        symbols,
        list(itertools.accumulate(w / total for w in weights)),
        {asset: w / total for (_, asset, _), w in zip(symbols, weights, strict=True)},
    )


@dataclass(frozen=True)
class ChatRule:
    """What one chat subscribes to, as a command and as numbers (for the expected rate)."""

    command: str
    assets: tuple[str, ...]  # empty: every asset
    min_usd: float
    short_only: bool = False


def _size(usd: float) -> str:
    return f"{usd / 1e6:g}m" if usd >= 1e6 else f"{usd / 1e3:g}k"


def chat_rules(chats: int, threshold_scale: float, seed: int = 5) -> list[ChatRule]:
    """One rule per chat: a major above $200K-1M, a few alts above $75-150K, or every asset."""
    rng = random.Random(seed)
    alts = [asset for _, asset, _ in market().symbols[10:]]
    majors = [asset for _, asset, _ in MAJORS[:10]]
    rules = []
    for _ in range(chats):
        draw = rng.random()
        short_only = False
        if draw < 0.45:
            assets: tuple[str, ...] = (rng.choice(majors),)
            usd = rng.choice((200e3, 500e3, 1e6)) * threshold_scale
        elif draw < 0.75:
            assets = tuple(rng.sample(alts, rng.choice((2, 3))))
            usd = rng.choice((75e3, 150e3)) * threshold_scale
        elif draw < 0.90:
            assets, usd = (), 2e6 * threshold_scale
        else:
            assets, usd, short_only = (), 500e3 * threshold_scale, True
        words = [
            "/subscribe",
            *(assets or ("all",)),
            _size(usd),
            *(["short"] if short_only else []),
        ]
        rules.append(ChatRule(" ".join(words), assets, usd, short_only))
    return rules


def expected_alerts_per_event(rules: Sequence[ChatRule]) -> float:
    """Return how many alerts one random event queues on average (before digests)."""
    shares = market().shares

    def at_least(usd: float) -> float:
        return 0.5 * math.erfc(math.log(usd / MEDIAN_USD) / SIGMA / math.sqrt(2))

    total = 0.0
    for rule in rules:
        share = sum(shares[a] for a in rule.assets) if rule.assets else 1.0
        side = (1 - LONG_SHARE) if rule.short_only else 1.0
        total += share * side * at_least(rule.min_usd)
    return total


# --- the exchange: a child process ---------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The send schedule: a base rate, and bursts at a higher rate."""

    duration_s: float
    base_rate: float
    burst_rate: float
    burst_s: float
    burst_every_s: float
    first_burst_s: float
    seed: int = 42

    def bursts(self) -> list[tuple[float, float]]:
        """Return the burst windows (start, end) in seconds from the start."""
        windows = []
        start = self.first_burst_s
        while start < self.duration_s:
            windows.append((start, min(start + self.burst_s, self.duration_s)))
            start += self.burst_every_s
        return windows

    def due(self, t: float) -> float:
        """Return how many events the schedule has sent by `t` seconds."""
        t = min(t, self.duration_s)
        extra = sum(max(0.0, min(t, end) - start) for start, end in self.bursts())
        return self.base_rate * t + (self.burst_rate - self.base_rate) * extra

    def total(self) -> int:
        """Return how many events the whole schedule sends."""
        return int(self.due(self.duration_s))


@dataclass
class SendReport:
    """What the generator did, sent back to the bench."""

    sent: int = 0
    start_wall_ms: int = 0
    elapsed_s: float = 0.0  # from the first frame to the last
    per_second: list[int] = field(default_factory=list)  # frames sent in each second
    most_behind: int = 0  # the most frames the sender was behind its schedule
    connections: int = 0
    cpu_s: float = 0.0


_TS = "9999999999999"  # stands for the send time in a pre-built frame (13 digits, as ms are)
POOL = 25_000  # frames built ahead: a burst second's worth, with room


class _Frames:
    """Unique forceOrder frames (random instrument, side, log-normal size), built ahead.

    Building a frame costs ~17 us and sending it ~23 us (permessage-deflate, which Binance
    negotiates too): one process cannot do both at 20,000/s. So frames are built while the base
    rate leaves time, and `take` only stamps the send time into one.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._market = market()
        self._pool: deque[tuple[tuple[str, str, str, str], str]] = deque()
        self._ms = 0
        self._seen: set[tuple[str, str, str, str]] = set()

    def fill(self, until: float) -> None:
        """Build frames until the pool is full or time.monotonic() reaches `until`."""
        pool, build = self._pool, self._build
        while len(pool) < POOL:
            for _ in range(100):
                pool.append(build())
            if time.monotonic() >= until:
                return

    def _build(self) -> tuple[tuple[str, str, str, str], str]:
        rng = self._rng
        position = bisect.bisect_left(self._market.cumulative, rng.random())
        symbol, _, price = self._market.symbols[min(position, SYMBOLS - 1)]
        side = "SELL" if rng.random() < LONG_SHARE else "BUY"  # SELL closes a long
        quote = price * (1 + rng.gauss(0, 0.002))
        qty = rng.lognormvariate(math.log(MEDIAN_USD), SIGMA) / quote
        places = max(0, 5 - math.floor(math.log10(qty)))  # six significant digits
        qty_text = f"{qty:.{places}f}"
        price_text = f"{quote:.{max(0, 5 - math.floor(math.log10(quote)))}f}"
        key = (symbol, side, qty_text, price_text)
        return key, binance_force_order(symbol, side, qty_text, price_text, int(_TS))

    def take(self) -> str:
        """Return the next frame, stamped with the current time."""
        ts = time.time_ns() // 1_000_000
        if ts != self._ms:
            self._ms, self._seen = ts, set()
        key, frame = self._pool.popleft() if self._pool else self._build()
        # The store keys events by (time, instrument, side, qty, price): keep them distinct, as
        # real liquidations are, so every event sent must become a row.
        while key in self._seen:
            key, frame = self._build()
        self._seen.add(key)
        return frame.replace(_TS, str(ts))


async def _stream(peer: Peer, plan: Plan, frames: _Frames, report: SendReport) -> None:
    """Send frames on schedule; when behind (backpressure), send as fast as the socket takes."""
    total = plan.total()
    per_second = [0] * (int(plan.duration_s) + 1)
    started = time.monotonic()
    report.start_wall_ms = time.time_ns() // 1_000_000
    sent = 0
    while sent < total:
        elapsed = time.monotonic() - started
        target = min(total, int(plan.due(elapsed)))
        report.most_behind = max(report.most_behind, target - sent)
        while sent < target:
            await peer.send(frames.take())
            sent += 1
            second = int(time.monotonic() - started)
            if second >= len(per_second):
                per_second.append(0)
            per_second[second] += 1
        frames.fill(until=time.monotonic() + 0.001)
        await asyncio.sleep(0.001)
    report.sent = sent
    report.elapsed_s = time.monotonic() - started
    report.per_second = per_second


async def _exchange(conn: Connection, plan: Plan) -> None:
    loop = asyncio.get_running_loop()
    go, stop = asyncio.Event(), asyncio.Event()
    report = SendReport()
    frames = _Frames(plan.seed)
    frames.fill(until=math.inf)

    def on_message() -> None:
        try:
            message = conn.recv()
        except EOFError:  # the bench went away
            loop.remove_reader(conn.fileno())
            stop.set()
            return
        (go if message == "go" else stop).set()

    loop.add_reader(conn.fileno(), on_message)

    async def script(peer: Peer) -> None:
        report.connections += 1
        if report.connections > 1:  # a reconnect: the bench reports it; nothing more is sent
            await peer.hold()
            return
        conn.send(("connected", None))
        await go.wait()
        await _stream(peer, plan, frames, report)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        report.cpu_s = usage.ru_utime + usage.ru_stime
        conn.send(("done", report))
        await peer.hold()

    async with ScriptedServer(script) as server:
        conn.send(("port", server.port))
        await stop.wait()


def exchange_process(conn: Connection, plan: Plan) -> None:
    """Serve the paced stream (the child process's entry point)."""
    asyncio.run(_exchange(conn, plan))


# --- Telegram: a child process -------------------------------------------------------------

CALLS_EVERY_S = 0.05  # how often the child sends its call log over


def _slim(call: Call) -> Call:
    """Keep what the bench reads of a call: the text, the chat, the status, a 429's parameters."""
    response = {} if call.ok else {"parameters": call.response.get("parameters", {})}
    return dataclasses.replace(call, files={}, response=response)


async def _telegram(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    async with FakeBotApi(flood=FloodLimits()) as api:

        def send_calls() -> None:
            batch = [_slim(c) for c in api.calls if c.method in SENDING_METHODS]
            api.calls.clear()
            api.messages.clear()  # the fake's copies of sent messages; nothing edits them
            if batch:
                conn.send(("calls", batch))

        def on_message() -> None:
            try:
                kind, payload = conn.recv()
            except EOFError:  # the bench went away
                loop.remove_reader(conn.fileno())
                stop.set()
                return
            if kind == "subscribe":
                for chat_id, command in payload:
                    api.add_private_chat(chat_id)
                    api.push_text(chat_id, chat_id, command)
            elif kind == "flush":
                send_calls()
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send(("flushed", (len(api.internal_errors), usage.ru_utime + usage.ru_stime)))
            else:
                stop.set()

        loop.add_reader(conn.fileno(), on_message)
        conn.send(("api", (api.base_url, api.token)))
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CALLS_EVERY_S)
            send_calls()


def telegram_process(conn: Connection) -> None:
    """Serve the fake Bot API (the child process's entry point)."""
    asyncio.run(_telegram(conn))


def spawn(target: Callable[..., None], *args: Any) -> tuple[Connection, BaseProcess]:
    """Start `target(pipe, *args)` in a spawned child; return this end of the pipe and the child."""
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    child = context.Process(target=target, args=(child_conn, *args), daemon=True)
    child.start()
    child_conn.close()  # the child's end: once the child exits, a read here ends at once
    return conn, child


async def reap(child: BaseProcess) -> None:
    """Wait for a child told to stop; end it if it does not within 10 s."""
    await asyncio.to_thread(child.join, 10)
    if child.is_alive():
        child.terminate()


class TelegramPeer:
    """The bench's end of the fake Bot API's process: the call log as it arrives, commands."""

    def __init__(self, conn: Connection, child: BaseProcess, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.internal_errors = 0
        self.cpu_s = 0.0
        self._conn = conn
        self._child = child
        self._calls: list[Call] = []
        self._flushed = asyncio.Event()
        asyncio.get_running_loop().add_reader(conn.fileno(), self._on_message)

    @classmethod
    async def start(cls) -> TelegramPeer:
        """Start the fake Bot API in a child process and connect to it."""
        conn, child = spawn(telegram_process)
        try:
            base_url, token = await _receive(conn, "api", 30)
        except BaseException:
            conn.close()
            await reap(child)
            raise
        return cls(conn, child, base_url, token)

    def _on_message(self) -> None:
        try:
            kind, payload = self._conn.recv()
        except EOFError:  # the child died: its traceback is on stderr
            asyncio.get_running_loop().remove_reader(self._conn.fileno())
            self.internal_errors += 1
            self._flushed.set()
            return
        if kind == "calls":
            self._calls.extend(payload)
        elif kind == "flushed":
            self.internal_errors, self.cpu_s = payload
            self._flushed.set()

    def take(self) -> list[Call]:
        """Return the sending calls answered since the last take, in arrival order."""
        calls, self._calls = self._calls, []
        return calls

    def push_commands(self, commands: Sequence[tuple[int, str]]) -> None:
        """Have each private chat send its command to the bot."""
        self._conn.send(("subscribe", list(commands)))

    async def flush(self, within_s: float = 10.0) -> None:
        """Wait until every call answered so far has arrived here (and the child's counters)."""
        self._flushed.clear()
        self._conn.send(("flush", None))
        await asyncio.wait_for(self._flushed.wait(), within_s)

    async def stop(self) -> None:
        """Stop the child (after the bot stopped: its last long poll is answered)."""
        asyncio.get_running_loop().remove_reader(self._conn.fileno())
        with contextlib.suppress(OSError):
            self._conn.send(("stop", None))
        self._conn.close()  # and should the child miss the stop, it reads the pipe's end
        await reap(self._child)


# --- observing the bot ---------------------------------------------------------------------


def rss_mb() -> float:
    """Return this process's resident set size (VmRSS) in MB."""
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def cpu_s() -> float:
    """Return this process's CPU time (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_DIGEST = re.compile(r"<b>([\d,]+) liquidation alerts?</b>")


@dataclass
class Latency:
    """One delivered alert."""

    ts_ms: int  # when the generator built the frame (its phase)
    ms: float  # frame received -> the message carrying it reached the fake Bot API
    unthrottled: bool
    # Its parts: frame received -> queued for its chat (collector, windows, router); queued ->
    # its journal mark began (waiting for the chat's turn and a worker); the mark; mark done ->
    # the request arrived at the fake Bot API (rendering, PTB's limiter, HTTP).
    parts: tuple[float, float, float, float] | None = None


class AlertTracker:
    """Follow every alert from `enqueue_alert` to the sendMessage that carried it."""

    def __init__(self, dispatcher: AlertDispatcher, tuning: TelegramTuning) -> None:
        self._dispatcher = dispatcher
        self._interval_s = tuning.private_interval_s
        self.pending: dict[int, deque[tuple[int, int, float]]] = {}  # (recv_ms, ts_ms, queued)
        self.outstanding = 0
        self.most_outstanding = 0  # over all chats: queued or on the wire
        self.most_per_chat = 0
        self.samples: list[Latency] = []
        self.messages = 0
        self.digests = 0
        self.unmatched = 0  # bookkeeping errors: a message carried alerts nobody queued
        self.flood_429 = 0
        self.journal_ms: list[float] = []  # each durable "on the wire" mark before a send
        self._marks: dict[int, deque[tuple[float, float]]] = {}  # chat -> (started, ended)
        # Requests PTB's rate limiter held (its 30/s overall, 20/min per group) for at least
        # HELD_S: (entry, let through), in the order they were let through; and those it holds.
        self._holds: list[tuple[float, float]] = []
        self._hold_ends: list[float] = []
        self._open_holds: dict[int, float] = {}  # request number -> entry
        self._requests = itertools.count()
        self._last_sent: dict[int, float] = {}
        self._flooded: set[int] = set()
        self._paused_until = -math.inf
        # recv_ms is wall-clock time, Call.at is event-loop (monotonic) time.
        self._wall_minus_loop = time.time() - time.monotonic()

    def install(self, journal: AlertJournal, limiter: BaseRateLimiter[Any]) -> None:
        """Record each alert as the router queues it, time the journal's mark before each send
        and note when PTB's rate limiter holds a request; then do as before."""
        self._watch(limiter)
        original = self._dispatcher.enqueue_alert
        pending = self.pending
        on_wire = journal.on_wire

        async def timed_on_wire(chat_id: int, keys: list[str]) -> None:
            started = time.monotonic()
            try:
                await on_wire(chat_id, keys)
            finally:
                ended = time.monotonic()
                self.journal_ms.append((ended - started) * 1000)
                self._marks.setdefault(chat_id, deque()).append((started, ended))

        journal.on_wire = timed_on_wire  # type: ignore[method-assign]

        def enqueue_alert(chat_id: int, record: Liquidation, topic: int | None = None) -> None:
            queue = pending.get(chat_id)
            if queue is None:
                queue = pending[chat_id] = deque()
            queue.append((record.recv_ms, record.ts_ms, time.monotonic()))
            self.outstanding += 1
            self.most_outstanding = max(self.most_outstanding, self.outstanding)
            self.most_per_chat = max(self.most_per_chat, len(queue))
            original(chat_id, record, topic)

        self._dispatcher.enqueue_alert = enqueue_alert  # type: ignore[method-assign]

    def _watch(self, limiter: BaseRateLimiter[Any]) -> None:
        """Wrap the limiter's public process_request (on its class: its instances have slots;
        this process runs one bot): a request is held from its entry until the limiter calls the
        request itself (a RetryAfter retry is a 429, classified apart)."""
        kind = type(limiter)
        process_request = kind.process_request

        def let_go(number: int) -> None:
            entry = self._open_holds.pop(number)
            now = time.monotonic()
            if now - entry >= HELD_S:
                self._holds.append((entry, now))
                self._hold_ends.append(now)

        async def watched(
            this: Any,
            callback: Callable[..., Any],
            args: Any,
            kwargs: dict[str, Any],
            endpoint: str,
            data: dict[str, Any],
            rate_limit_args: Any,
        ) -> Any:
            number = next(self._requests)
            self._open_holds[number] = time.monotonic()

            async def let_through(*a: Any, **k: Any) -> Any:
                if number in self._open_holds:
                    let_go(number)
                return await callback(*a, **k)

            try:
                return await process_request(
                    this, let_through, args, kwargs, endpoint, data, rate_limit_args
                )
            finally:
                if number in self._open_holds:
                    let_go(number)

        kind.process_request = watched  # type: ignore[method-assign,assignment]

    def _limiter_held(self, start: float, end: float) -> bool:
        """Return True if the rate limiter held some request (for HELD_S or more) at any time
        in [start, end]."""
        now = time.monotonic()
        if any(entry <= end and now - entry >= HELD_S for entry in self._open_holds.values()):
            return True
        holds = self._holds
        first = bisect.bisect_left(self._hold_ends, start)  # holds let through since `start`
        return any(holds[i][0] <= end for i in range(first, len(holds)))

    def consume(self, calls: Sequence[Call]) -> None:
        """Account for the calls the fake Bot API answered (in arrival order)."""
        for call in sorted(calls, key=lambda c: c.at):
            if call.method not in SENDING_METHODS:
                continue
            chat_id = call.chat_id
            if call.status == 429:
                self.flood_429 += 1
                retry = float(call.response.get("parameters", {}).get("retry_after", 1))
                self._paused_until = max(self._paused_until, call.at + retry + PACING_MARGIN_S)
                if chat_id is not None:
                    self._flooded.add(chat_id)
                continue
            if call.status != 200 or chat_id is None or chat_id not in self.pending:
                continue
            self._delivered(call, chat_id)

    def _delivered(self, call: Call, chat_id: int) -> None:
        match = _DIGEST.search(str(call.params.get("text", "")))
        carried = int(match.group(1).replace(",", "")) if match else 1
        self.messages += 1
        self.digests += int(match is not None)
        queue = self.pending[chat_id]
        previous = self._last_sent.get(chat_id, -math.inf)
        clean = carried == 1 and chat_id not in self._flooded and call.at > self._paused_until
        arrived_wall_ms = (call.at + self._wall_minus_loop) * 1000
        # This message's mark: the chat's latest one begun before it arrived (one message of a
        # chat is in flight at a time; a 429 retried inside PTB's limiter has no mark of its own).
        marks = self._marks.get(chat_id)
        mark = None
        while marks and marks[0][0] <= call.at:
            mark = marks.popleft()
        for _ in range(carried):
            if not queue:
                self.unmatched += 1
                continue
            recv_ms, ts_ms, queued = queue.popleft()
            self.outstanding -= 1
            paced = queued < previous + self._interval_s + PACING_MARGIN_S
            held = self._limiter_held(queued, call.at)
            parts = None
            if mark is not None:
                queued_ms = (queued + self._wall_minus_loop) * 1000 - recv_ms
                started, ended = mark
                parts = (
                    queued_ms,
                    (started - queued) * 1000,
                    (ended - started) * 1000,
                    (call.at - ended) * 1000,
                )
            self.samples.append(
                Latency(ts_ms, arrived_wall_ms - recv_ms, clean and not paced and not held, parts)
            )
        self._last_sent[chat_id] = call.at
        self._flooded.discard(chat_id)


@dataclass
class Gauge:
    """The largest value seen of something sampled."""

    name: str
    bound: int | None
    read: Callable[[], int]
    most: int = 0

    def sample(self) -> None:
        self.most = max(self.most, self.read())


@dataclass
class Samples:
    """What the samplers saw during the load."""

    rss: list[tuple[float, float, float]] = field(default_factory=list)  # (s, MB, state MB)
    received: list[tuple[float, int]] = field(default_factory=list)  # (s, events), every second
    loop_lag_ms: list[float] = field(default_factory=list)
    worst_lag_at_s: float = 0.0  # when the event loop stalled longest


class GcPauses:
    """Time each collection of the garbage collector (gc.callbacks): generation and ms."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)

    def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], (time.perf_counter() - self._started) * 1000))

    def report(self) -> str:
        """Return one line per generation: collections, total and longest pause."""
        lines = []
        for generation in (0, 1, 2):
            ms = [pause for gen, pause in self.pauses if gen == generation]
            lines.append(
                f"gen {generation}: {len(ms):,} collections, {sum(ms):,.0f} ms in all, "
                f"longest {max(ms, default=0.0):,.1f} ms"
            )
        return "; ".join(lines)


def percentiles(values: Sequence[float]) -> str:
    """Return 'n=…  p50 …  p90 …  p99 …  max …' in ms."""
    if not values:
        return "n=0"
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return (
        f"n={len(values):,}  p50 {p50:,.0f}  p90 {p90:,.0f}  p99 {p99:,.0f}  "
        f"max {max(values):,.0f} ms"
    )


def slope_per_min(points: Sequence[tuple[float, float]]) -> float:
    """Return the least-squares slope of (seconds, value) in value per minute."""
    if len(points) < 2:
        return 0.0
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    return float(np.polyfit(xs, ys, 1)[0] * 60)


# --- the run -------------------------------------------------------------------------------


async def _receive(conn: Connection, kind: str, within_s: float) -> Any:
    """Wait for a child's `kind` message."""
    ready = await asyncio.to_thread(conn.poll, within_s)
    if not ready:
        raise TimeoutError(f"the child process sent no {kind!r} within {within_s:.0f}s")
    got, payload = conn.recv()
    if got != kind:
        raise RuntimeError(f"expected {kind!r} from the child process, got {got!r}")
    return payload


async def _wait(condition: Callable[[], bool], within_s: float, step: float = 0.05) -> bool:
    """Poll until `condition()`; return False if it still fails after `within_s`."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


async def subscribe(api: TelegramPeer, bot: RunningBot, rules: Sequence[ChatRule]) -> float:
    """Send every chat's /subscribe through the fake API; return the seconds it took."""
    started = time.monotonic()
    chats = {FIRST_CHAT + i for i in range(len(rules))}
    api.push_commands(
        [(chat_id, rule.command) for chat_id, rule in zip(sorted(chats), rules, strict=True)]
    )
    services = bot.services
    answered: set[int] = set()

    def replied() -> int:
        answered.update(
            c.chat_id for c in api.take() if c.method == "sendMessage" and c.ok and c.chat_id
        )
        return len(answered & chats)

    done = await _wait(
        lambda: len(services.rules.chats()) == len(rules) and replied() == len(rules),
        within_s=len(rules) / 20 + 30,
    )
    if not done:
        raise RuntimeError(
            f"only {len(services.rules.chats())} of {len(rules)} chats subscribed "
            f"({replied()} replies)"
        )
    return time.monotonic() - started


async def run(args: argparse.Namespace) -> int:
    plan = Plan(
        duration_s=args.duration,
        base_rate=args.rate,
        burst_rate=args.burst_rate,
        burst_s=1.0,
        burst_every_s=60.0,
        first_burst_s=10.0 if args.quick else 30.0,
    )
    warmup_s = args.warmup if args.warmup is not None else (5.0 if args.quick else 60.0)
    rules = chat_rules(args.chats, 0.4 if args.quick else 1.0)
    per_event = expected_alerts_per_event(rules)
    bursts = plan.bursts()
    print(
        f"python {sys.version.split()[0]}; {plan.duration_s:.0f} s at {plan.base_rate:,.0f} "
        f"events/s with {len(bursts)} burst(s) of {plan.burst_rate:,.0f}/s for "
        f"{plan.burst_s:.0f} s (every {plan.burst_every_s:.0f} s from {plan.first_burst_s:.0f} s)"
        f": {plan.total():,} events, {SYMBOLS} symbols; {len(rules):,} chats; expected "
        f"{per_event * plan.base_rate:.1f} alerts/s at base, {per_event * plan.burst_rate:.0f}/s "
        f"in bursts (before digests); "
        f"{args.workers or TelegramTuning().dispatch_workers} dispatcher workers"
    )
    conn, exchange = spawn(exchange_process, plan)
    try:
        api = await TelegramPeer.start()
        try:
            port = await _receive(conn, "port", 30)
            with tempfile.TemporaryDirectory() as folder:
                return await _run_bot(args, plan, rules, warmup_s, conn, api, port, Path(folder))
        finally:
            await api.stop()
    finally:
        with contextlib.suppress(OSError):
            conn.send("stop")
        await reap(exchange)


async def _run_bot(
    args: argparse.Namespace,
    plan: Plan,
    rules: Sequence[ChatRule],
    warmup_s: float,
    conn: Connection,
    api: TelegramPeer,
    port: int,
    folder: Path,
) -> int:
    database = folder / "bot.db"
    tuning = TelegramTuning()  # Telegram's real limits and pacing
    if args.workers is not None:
        tuning = dataclasses.replace(tuning, dispatch_workers=args.workers)
    values: dict[str, object] = {
        "database_path": database,
        "exchanges": ("binance-usdm",),
        "binance_usdm_ws_url": f"ws://127.0.0.1:{port}/market/ws/!forceOrder@arr",
        "telegram_bot_token": api.token,
        "telegram_base_url": api.base_url,
        "web_port": 0,  # the dashboard runs too, on a free port
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    stop = asyncio.Event()
    ready: list[RunningBot] = []
    task = asyncio.create_task(run_telegram(settings, stop, tuning, ready.append))
    try:
        await _wait(lambda: bool(ready) or task.done(), 30)
        if task.done():
            task.result()  # raises what stopped it
        if not ready:
            raise RuntimeError("the bot did not start within 30 s")
        bot = ready[0]
        await _receive(conn, "connected", 15)
        setup_s = await subscribe(api, bot, rules)
        print(
            f"setup: {len(rules):,} chats subscribed by real /subscribe commands in {setup_s:.1f} s"
        )
        return await _measure(args, plan, warmup_s, conn, api, bot, tuning, database)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def _measure(
    args: argparse.Namespace,
    plan: Plan,
    warmup_s: float,
    conn: Connection,
    api: TelegramPeer,
    bot: RunningBot,
    tuning: TelegramTuning,
    database: Path,
) -> int:
    services, runtime = bot.services, bot.runtime
    store = runtime.aggregation.store
    windows = runtime.aggregation.windows
    dispatcher = services.dispatcher
    [feed] = runtime.feed_stats()
    tracker = AlertTracker(dispatcher, tuning)
    limiter = bot.application.bot.rate_limiter
    assert limiter is not None, "the bot is built with PTB's AIORateLimiter"
    tracker.install(services.journal, limiter)
    api.take()
    store_bound = int(inspect.signature(LiquidationStore).parameters["max_pending"].default)
    chat_bound = int(inspect.signature(AlertDispatcher).parameters["max_alerts_per_chat"].default)
    gauges = [
        Gauge("database write buffer (store.pending)", store_bound, store.pending),
        Gauge("alerts queued, all chats (dispatcher.pending_alerts)", None,
              dispatcher.pending_alerts),
        Gauge("chats with something queued (dispatcher.pending_chats)", None,
              dispatcher.pending_chats),
        Gauge("alerts outstanding in one chat (queued or on the wire)", chat_bound,
              lambda: tracker.most_per_chat),
    ]  # fmt: skip
    samples = Samples()
    events_before = feed.events
    cpu_before = cpu_s()
    started = time.monotonic()
    conn.send("go")
    done = asyncio.create_task(_receive(conn, "done", plan.duration_s + 600))

    async def sample() -> None:
        next_rss = next_second = 0.0
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.1)
            now = time.monotonic()
            lag_ms = (now - before - 0.1) * 1000
            if lag_ms > max(samples.loop_lag_ms, default=0.0):
                samples.worst_lag_at_s = before - started
            samples.loop_lag_ms.append(lag_ms)
            for gauge in gauges:
                gauge.sample()
            tracker.consume(api.take())
            elapsed = now - started
            if elapsed >= next_second:
                samples.received.append((elapsed, feed.events - events_before))
                next_second += 1.0
            heap_due = args.heap_after is not None and elapsed >= args.heap_after
            if heap_due and not tracemalloc.is_tracing():
                tracemalloc.start(args.heap_frames)
            if elapsed >= next_rss:
                # The tracer's own tables are not the bot's memory: left out of the RSS.
                tracer_mb = tracemalloc.get_tracemalloc_memory() / 2**20
                samples.rss.append((elapsed, rss_mb() - tracer_mb, windows.nbytes / 2**20))
                next_rss += 5.0

    sampler = asyncio.create_task(sample())
    heap: tracemalloc.Snapshot | None = None
    pauses = GcPauses()
    pauses.start()
    try:
        report: SendReport = await done
        if tracemalloc.is_tracing():
            heap = tracemalloc.take_snapshot()
            tracemalloc.stop()
        sent_at = time.monotonic()
        caught_up = await _wait(
            lambda: feed.events - events_before >= report.sent, 30 if args.quick else 300
        )
        catch_up_s = time.monotonic() - sent_at
        load_s = time.monotonic() - started
        cpu_load = cpu_s() - cpu_before
        drained = await _wait(lambda: tracker.outstanding <= 0, 120 if not args.quick else 30)
        await store.flush()
    finally:
        pauses.stop()
        sampler.cancel()
        done.cancel()  # only if the run failed before the report came
        await asyncio.gather(sampler, done, return_exceptions=True)
    await api.flush()
    tracker.consume(api.take())
    rows, lags = await asyncio.to_thread(_read_rows, database)

    received = feed.events - events_before
    failures: list[str] = []
    print()
    _print_send(plan, report, received, catch_up_s, caught_up, load_s, lags, failures)
    _print_database(report, received, rows, store, failures)
    _print_memory(samples, warmup_s, args.heap_after)
    if heap is not None:
        _print_heap(heap, args.heap_after)
    _print_queues(gauges, samples, bot, tracker, failures)
    _print_alerts(plan, report, bot, tracker, drained, api, failures)
    print(
        f"CPU: {cpu_load:.1f} s in this process over {load_s:.0f} s of load = "
        f"{cpu_load / max(received, 1) * 1e6:.1f} ms per 1,000 events "
        f"({cpu_load / load_s * 100:.0f}% of one core); the exchange process used "
        f"{report.cpu_s:.1f} s, the fake Bot API's {api.cpu_s:.1f} s (the subscriptions included)"
    )
    print(f"garbage collector (during the load): {pauses.report()}")
    print()
    if failures:
        for failure in failures:
            print(f"FAIL: {failure}")
        return 1
    print("OK: every event stored, nothing dropped, every queue within its bound")
    return 0


def _read_rows(database: Path) -> tuple[int, npt.NDArray[np.float64]]:
    """Return the row count and every row's ingest lag (recv - frame time, ms)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        [(rows,)] = db.execute("SELECT COUNT(*) FROM liquidations").fetchall()
        lags = np.fromiter(
            (lag for (lag,) in db.execute("SELECT recv_ms - ts_ms FROM liquidations")),
            dtype=np.float64,
        )
    return int(rows), lags


def _print_send(
    plan: Plan,
    report: SendReport,
    received: int,
    catch_up_s: float,
    caught_up: bool,
    load_s: float,
    lags: npt.NDArray[np.float64],
    failures: list[str],
) -> None:
    in_burst: set[int] = set()
    for start, end in plan.bursts():
        in_burst.update(range(int(start), math.ceil(end)))
    seconds = range(int(plan.duration_s))
    base = [report.per_second[s] for s in seconds if s not in in_burst]
    burst = [report.per_second[s] for s in sorted(in_burst) if s < len(report.per_second)]
    base_rate = sum(base) / max(len(base), 1)
    print(
        f"sent: {report.sent:,} events in {report.elapsed_s:.1f} s (schedule "
        f"{plan.duration_s:.0f} s) = {report.sent / report.elapsed_s:,.0f}/s; base seconds "
        f"{base_rate:,.0f}/s on average, worst second {min(base, default=0):,}; burst seconds "
        f"{', '.join(f'{n:,}' for n in burst)}; at most {report.most_behind:,} events behind "
        f"schedule"
    )
    kept_base = base_rate >= 0.99 * plan.base_rate and min(base, default=0) >= 0.9 * plan.base_rate
    kept_burst = all(n >= 0.9 * plan.burst_rate for n in burst)
    print(
        f"pacing: base rate {'SUSTAINED' if kept_base else 'NOT SUSTAINED'}, bursts "
        f"{'SUSTAINED' if kept_burst else 'NOT SUSTAINED (the sender was held back)'}"
        + ("" if report.connections == 1 else f"; the bot connected {report.connections} times")
    )
    lag = np.percentile(lags, [50, 99, 100]) if len(lags) else [0.0, 0.0, 0.0]
    print(
        f"received by the feed: {received:,} events; ingest {received / load_s:,.0f}/s over "
        f"{load_s:.1f} s; behind by {catch_up_s:.1f} s when the last frame was sent"
        + ("" if caught_up else " (NEVER CAUGHT UP)")
        + f"; ingest lag (frame built -> received) p50 {lag[0]:,.0f} ms, p99 {lag[1]:,.0f} ms, "
        f"max {lag[2]:,.0f} ms"
    )
    if not (kept_base and kept_burst):
        print(
            "  -> this machine did NOT sustain the requested rates end to end: the exchange "
            "process was held back by TCP backpressure (the bot read too slowly) or could not "
            "build frames fast enough; the figures below are for the rates achieved"
        )
    if received != report.sent:
        failures.append(f"the feed received {received:,} of {report.sent:,} events")


def _print_database(
    report: SendReport, received: int, rows: int, store: LiquidationStore, failures: list[str]
) -> None:
    stats = store.stats
    print(
        f"database: {rows:,} rows after a flush for {report.sent:,} events sent "
        f"({'all stored' if rows == report.sent else f'{report.sent - rows:,} MISSING'}); "
        f"writer: {stats.written:,} written in {stats.batches:,} batches, "
        f"{stats.duplicates:,} duplicates, {stats.dropped:,} dropped; "
        f"{store.db_bytes() / 1e6:,.0f} MB"
    )
    if rows != report.sent:
        failures.append(f"{report.sent - rows:,} events sent are not in the database")
    if stats.dropped:
        failures.append(f"the database writer dropped {stats.dropped:,} events")


def _print_memory(samples: Samples, warmup_s: float, until_s: float | None = None) -> None:
    """Print the RSS curve and its slope after the warm-up (and before tracing began, if)."""
    end = math.inf if until_s is None else until_s
    after = [(t, mb, kept) for t, mb, kept in samples.rss if warmup_s <= t < end]
    if len(after) < 2:
        print(f"memory: too few samples after the {warmup_s:.0f} s warm-up")
        return

    def slopes(points: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
        """Return the RSS slope and the window state's slope (MB/min)."""
        rss = slope_per_min([(t, mb) for t, mb, _ in points])
        return rss, slope_per_min([(t, state) for t, _, state in points])

    mbs = [mb for _, mb, _ in after]
    rss, designed = slopes(after)
    print(
        f"memory (VmRSS every 5 s, after {warmup_s:.0f} s of warm-up"
        f"{'' if until_s is None else f' until tracing began at {until_s:.0f} s'}, "
        f"{len(after)} samples): "
        f"min {min(mbs):,.1f} MB, max {max(mbs):,.1f} MB, last {mbs[-1]:,.1f} MB; slope "
        f"{rss:+.2f} MB/min, of which the window state's arrays (buckets, per-second sums, "
        f"largest; {after[-1][2]:,.1f} MB at the end) explain {designed:+.2f} MB/min; "
        f"unexplained {rss - designed:+.2f} MB/min"
    )
    late = after[len(after) // 2 :]
    if len(late) >= 2:
        rss, designed = slopes(late)
        print(
            f"  second half ({late[0][0]:.0f}-{late[-1][0]:.0f} s): slope {rss:+.2f} MB/min, "
            f"unexplained {rss - designed:+.2f} MB/min"
        )
    step = max(1, len(samples.rss) // 12)
    print("  RSS MB: " + ", ".join(f"{t:.0f}s {mb:,.0f}" for t, mb, _ in samples.rss[::step]))


def _print_heap(heap: tracemalloc.Snapshot, since_s: float) -> None:
    """Print where the memory allocated since `since_s` and still held at the end lives."""
    ignore = (tracemalloc.Filter(False, tracemalloc.__file__),)
    stats = heap.filter_traces(ignore).statistics("lineno")
    total = sum(stat.size for stat in stats)
    print(
        f"heap (tracemalloc): {total / 2**20:,.1f} MB allocated after {since_s:.0f} s and still "
        "held at the end; the largest sites:"
    )
    for stat in stats[:12]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        print(f"  {stat.size / 2**20:8.2f} MB in {stat.count:>9,} blocks  {where}")


def _print_queues(
    gauges: Sequence[Gauge],
    samples: Samples,
    bot: RunningBot,
    tracker: AlertTracker,
    failures: list[str],
) -> None:
    print("queues (deepest seen, sampled every 0.1 s; per chat: every enqueue):")
    for gauge in gauges:
        bound = "no bound of its own" if gauge.bound is None else f"bound {gauge.bound:,}"
        hit = gauge.bound is not None and gauge.most >= gauge.bound
        print(f"  {gauge.name}: {gauge.most:,} ({bound}){'  BOUND HIT' if hit else ''}")
        if hit:
            failures.append(f"{gauge.name} reached its bound {gauge.bound:,}")
    lag = np.percentile(samples.loop_lag_ms, [99]) if samples.loop_lag_ms else [0.0]
    print(
        f"  event loop: p99 lag {lag[0]:,.0f} ms, max {max(samples.loop_lag_ms, default=0):,.0f}"
        f" ms at {samples.worst_lag_at_s:.0f} s into the load (a 0.1 s sleep's overshoot)"
    )
    runtime, services = bot.runtime, bot.services
    [feed] = runtime.feed_stats()
    counters = runtime.aggregation.windows.counters
    dispatch = services.dispatcher.stats
    # Each of these is an event or an alert that did not get where it should.
    lost = {
        "feed bad frames": feed.bad_frames,
        "feed rejected events": feed.rejected_events,
        "feed duplicates": feed.duplicates,
        "window duplicates": counters.duplicates,
        "aggregation errors": runtime.aggregation.errors,
        "database dropped": runtime.aggregation.store.stats.dropped,
        "alerts dropped": dispatch.alerts_dropped,
        "alerts failed": dispatch.alerts_failed,
        "alerts uncertain": dispatch.alerts_uncertain,
        "alerts undeliverable": dispatch.alerts_undeliverable,
        "alerts too old to send": services.router.too_old,
    }
    print("  drop counters: " + ", ".join(f"{name} {value:,}" for name, value in lost.items()))
    for name, value in lost.items():
        if value:
            failures.append(f"{name}: {value:,}")
    # Not losses (a failed journal mark costs crash-recovery precision; a reconnect shows in the
    # row count), but worth a warning.
    errors = {
        "alert journal write errors": services.journal.write_errors,
        "feed reconnects": feed.reconnects,
    }
    print("  errors: " + ", ".join(f"{name} {value:,}" for name, value in errors.items()))
    for name, value in errors.items():
        if value:
            print(f"  WARNING: {name}: {value:,} (see the log above)")
    if tracker.unmatched:
        failures.append(f"{tracker.unmatched:,} alerts in messages matched no queued alert")


def _print_alerts(
    plan: Plan,
    report: SendReport,
    bot: RunningBot,
    tracker: AlertTracker,
    drained: bool,
    api: TelegramPeer,
    failures: list[str],
) -> None:
    dispatch = bot.services.dispatcher.stats
    print(
        f"alerts: {dispatch.alerts_queued:,} queued, {dispatch.alerts_delivered:,} delivered in "
        f"{dispatch.messages_sent:,} messages ({dispatch.digests_sent:,} digests), "
        f"{dispatch.rate_limited:,} 429s reached the dispatcher, {tracker.flood_429:,} answered "
        f"429 by the fake; {tracker.outstanding:,} still outstanding at the end"
        + ("" if drained else " (NOT DRAINED)")
    )
    if not drained or dispatch.alerts_delivered != dispatch.alerts_queued:
        failures.append(
            f"{dispatch.alerts_queued - dispatch.alerts_delivered:,} alerts were never delivered"
        )
    if api.internal_errors:
        failures.append(f"the fake Bot API failed {api.internal_errors} time(s)")
    windows = [
        (report.start_wall_ms + start * 1000, report.start_wall_ms + end * 1000)
        for start, end in plan.bursts()
    ]

    def in_burst(ts_ms: int) -> bool:
        return any(start <= ts_ms < end for start, end in windows)

    print(
        "latency, frame received -> sendMessage at the fake Bot API "
        "(unthrottled: sent alone, no pacing, no 429, the rate limiter holding nothing meanwhile):"
    )
    verdicts = []
    for phase, chosen in (
        ("base", [s for s in tracker.samples if not in_burst(s.ts_ms)]),
        ("burst", [s for s in tracker.samples if in_burst(s.ts_ms)]),
    ):
        clean = [s.ms for s in chosen if s.unthrottled]
        print(f"  {phase:5} unthrottled: {percentiles(clean)}")
        print(f"  {phase:5} all:         {percentiles([s.ms for s in chosen])}")
        parts = [s.parts for s in chosen if s.unthrottled and s.parts is not None]
        names = ("received -> queued", "queued -> mark", "mark", "mark -> API")
        for index, name in enumerate(names):
            print(f"    {name:>18}: {percentiles([p[index] for p in parts])}")
        if clean:
            p99 = float(np.percentile(clean, 99))
            verdicts.append(f"{phase} {'PASS' if p99 < LATENCY_GOAL_MS else 'MISS'} ({p99:,.0f})")
    for number, (start, end) in enumerate(windows, 1):
        clean = [s.ms for s in tracker.samples if s.unthrottled and start <= s.ts_ms < end]
        print(f"  burst {number:>2} unthrottled: {percentiles(clean)}")
    print(
        "  part of it: the alert journal's durable mark before each send (a write to the bot's "
        f"own SQLite file, BOT_DATABASE_PATH): {percentiles(tracker.journal_ms)}"
    )
    print(
        f"latency goal, p99 < {LATENCY_GOAL_MS:.0f} ms without rate-limit waits: "
        + ("; ".join(verdicts) or "no unthrottled alerts")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 s, one burst, 100 chats")
    parser.add_argument("--duration", type=float, help="seconds of load (default 600; quick 20)")
    parser.add_argument("--chats", type=int, help="subscribed chats (default 1,000; quick 100)")
    parser.add_argument("--rate", type=float, default=2_000.0, help="base events/s")
    parser.add_argument("--burst-rate", type=float, default=20_000.0, help="burst events/s")
    parser.add_argument(
        "--warmup", type=float, help="seconds before the RSS slope is measured (60; quick 5)"
    )
    parser.add_argument(
        "--heap-after",
        type=float,
        metavar="SECONDS",
        help="trace allocations (tracemalloc) from then on and print where the memory still "
        "held at the end was allocated; RSS figures leave the tracer's own memory out",
    )
    parser.add_argument("--heap-frames", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument(
        "--workers",
        type=int,
        help=f"the dispatcher's concurrent senders (default {TelegramTuning().dispatch_workers})",
    )
    args = parser.parse_args()
    args.duration = args.duration or (20.0 if args.quick else 600.0)
    args.chats = args.chats or (100 if args.quick else 1_000)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
