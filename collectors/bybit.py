"""Decode Bybit v5 `allLiquidation.{symbol}` frames and instrument lists into liquidation records.

Wire format (see the exchanges notes, section 4): one topic per symbol, no all-symbols form, on
the linear and the inverse public sockets. A push batches every liquidation of its symbol since
the previous one (`data` is an array). `S` is the POSITION side: `Buy` means a LONG was
liquidated, the opposite letter from Binance's order side. `p` is the bankruptcy price. Linear
`v` is in base coin; inverse `v` counts contracts of 1 USD each. The deprecated
`liquidation.{symbol}` topic (one event per second, `data` an object) is never subscribed.

The symbol list comes from `GET /v5/market/instruments-info` (paginated by cursor, status
`Trading`). Topics are subscribed in chunks, spread over as many connections as the documented
per-connection limit on the args length requires; a rejected chunk is retried without the
topics the error names (or split in two), and new listings are subscribed on the live sockets.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from collectors.assets import USD_QUOTES, split_multiplier_affix
from collectors.feed import ConnectionPolicy, Feed, Outbox
from collectors.metadata import MetadataDocument
from collectors.parsing import (
    UNDECODABLE,
    FrameError,
    Parsed,
    Rejection,
    is_positive_finite,
    out_of_range,
    truncate,
)
from collectors.record import Coverage, Liquidation, Side

log = logging.getLogger(__name__)

EXCHANGE = "bybit"
TOPIC_PREFIX = "allLiquidation."
CAPTURE_SOURCE = "bybit-instruments"

# `S` is the position side; Bybit: "When you receive a Buy update, this means that a long position
# has been liquidated".
_POSITION_SIDES = {"Buy": Side.LONG, "Sell": Side.SHORT}

_CONTRACT_TYPES = {
    "linear": ("LinearPerpetual", "LinearFutures"),
    "inverse": ("InversePerpetual", "InverseFutures"),
}
# instruments-info has no contract size. An inverse contract is 1 USD (Bybit's contract pages for
# BTCUSD and the quarterlies, as cited by the crypto-contract-value crate; aggr divides `v` by the
# price); a linear contract is 1 base coin.
_INVERSE_CONTRACT_USD = 1.0

# Bybit: "for one public connection, you cannot have length of 'args' array over 21,000
# characters". Fill a connection to about three quarters of that, leaving room for listings.
ARGS_CHARS_PER_CONNECTION = 16_000
# 200 topics per frame worked live for 805 symbols; another client sends 50. Stay between.
TOPICS_PER_FRAME = 100


class BybitInstrument(msgspec.Struct, frozen=True, gc=False):
    """What it takes to value one Bybit contract: its asset and how `v` converts."""

    symbol: str
    base: str  # unified asset name
    multiplier: float  # coins per unit of the listed coin (1000 for "1000PEPE" and "SHIB1000")
    inverse: bool  # True: `v` counts 1-USD contracts; False: `v` is in the listed coin


class _Entry(msgspec.Struct, gc=False):
    ts_ms: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    side: str = msgspec.field(name="S")
    size: float = msgspec.field(name="v")
    price: float = msgspec.field(name="p")


class _ObjectData(msgspec.Struct, gc=False):
    """A `data` object instead of an array: the deprecated `liquidation.{symbol}` shape."""


class BybitFrame(msgspec.Struct, gc=False):
    """One decoded frame: a push (`topic`, `data`) or a reply to a request (`op`)."""

    topic: str | None = None
    data: list[_Entry] | _ObjectData | None = None
    op: str | None = None
    success: bool | None = None
    ret_msg: str = ""
    req_id: str = ""


# strict=False: Bybit sends `v` and `p` as JSON strings ("0.006"); lax mode reads them as floats.
_DECODER = msgspec.json.Decoder(BybitFrame, strict=False)


def decode_frame(frame: str | bytes) -> BybitFrame:
    """Decode one text frame; raise FrameError if it is not JSON of the expected shape."""
    try:
        return _DECODER.decode(frame)
    except UNDECODABLE as exc:
        raise FrameError(str(exc)) from exc


def _reply(frame: BybitFrame) -> Parsed:
    op = frame.op
    if op == "pong":  # the shape of other Bybit channels' pong: {"op":"pong","args":[...]}
        return Parsed([], control="pong")
    if op not in ("subscribe", "unsubscribe", "ping"):
        raise FrameError(f"unexpected op {op!r}")
    if frame.success is None:
        raise FrameError(f"{op} reply without `success`")
    if not frame.success:
        raise FrameError(f"{op} {frame.req_id or '(no req_id)'} failed: {frame.ret_msg}")
    if op == "ping":
        return Parsed([], control="pong")
    return Parsed([], control=f"{op} {frame.req_id}".strip())


def frame_records(
    frame: BybitFrame, recv_ms: int, instruments: dict[str, BybitInstrument]
) -> Parsed:
    """Turn a decoded frame into records (or a control description); raise FrameError if bad."""
    if frame.op is not None:
        return _reply(frame)
    topic = frame.topic
    if topic is None:
        raise FrameError("neither a push nor a reply")
    if not topic.startswith(TOPIC_PREFIX):
        if topic.startswith("liquidation."):
            raise FrameError(f"deprecated topic {topic!r}: not subscribed, not parsed")
        raise FrameError(f"unexpected topic {topic!r}")
    data = frame.data
    if not isinstance(data, list):
        raise FrameError(f"{topic}: `data` is not an array")
    records: list[Liquidation] = []
    rejected: list[Rejection] | None = None
    for entry in data:
        problem: str | None = None
        unknown = False
        instrument = instruments.get(entry.symbol)
        side = _POSITION_SIDES.get(entry.side)
        if instrument is None:
            problem, unknown = "no instrument metadata", True
        elif side is None:
            problem = f"unknown position side {entry.side!r}"
        elif not is_positive_finite(entry.size):
            problem = f"size {entry.size!r} is not a positive finite number"
        elif not is_positive_finite(entry.price):
            problem = f"price {entry.price!r} is not a positive finite number"
        else:
            multiplier = instrument.multiplier
            if instrument.inverse:
                notional = entry.size * _INVERSE_CONTRACT_USD
                qty = notional / entry.price
            else:
                qty = entry.size
                notional = entry.size * entry.price
            record = Liquidation(
                exchange=EXCHANGE,
                market="inverse" if instrument.inverse else "linear",
                symbol=entry.symbol,
                base=instrument.base,
                side=side,
                price=entry.price / multiplier,
                qty_base=qty * multiplier,
                notional_usd=notional,
                ts_ms=entry.ts_ms,
                recv_ms=recv_ms,
            )
            problem = out_of_range(record)
            if problem is None:
                records.append(record)
        if problem is not None:
            rejected = rejected or []
            rejected.append(Rejection(problem, entry.symbol, unknown_instrument=unknown))
    return Parsed(records, rejected)


def parse_liquidations(
    frame: str | bytes, recv_ms: int, instruments: dict[str, BybitInstrument]
) -> Parsed:
    """Parse one frame of either socket; a failed reply or a foreign topic raises FrameError."""
    return frame_records(decode_frame(frame), recv_ms, instruments)


# --- instruments-info ---------------------------------------------------------------------------


class _InstrumentRow(msgspec.Struct, gc=False):
    symbol: str
    contract_type: str = msgspec.field(name="contractType", default="")
    status: str = ""
    base_coin: str = msgspec.field(name="baseCoin", default="")
    quote_coin: str = msgspec.field(name="quoteCoin", default="")


class _InstrumentsResult(msgspec.Struct, gc=False):
    category: str = ""
    rows: list[_InstrumentRow] = msgspec.field(name="list", default_factory=list)
    next_page_cursor: str = msgspec.field(name="nextPageCursor", default="")


class _InstrumentsPage(msgspec.Struct, gc=False):
    ret_code: int = msgspec.field(name="retCode")
    ret_msg: str = msgspec.field(name="retMsg", default="")
    result: _InstrumentsResult | None = None


_PAGE_DECODER = msgspec.json.Decoder(_InstrumentsPage)
_PAGES_DECODER = msgspec.json.Decoder(list[_InstrumentsPage])


def _checked(page: _InstrumentsPage) -> _InstrumentsResult:
    if page.ret_code != 0:
        raise FrameError(f"instruments-info: error {page.ret_code}: {page.ret_msg}")
    if page.result is None:
        raise FrameError("instruments-info: no `result`")
    return page.result


def next_page_params(body: str) -> dict[str, str] | None:
    """Return the query parameters of the page after this one, or None after the last page."""
    try:
        result = _checked(_PAGE_DECODER.decode(body))
    except msgspec.DecodeError as exc:
        raise FrameError(f"instruments-info: {exc}") from exc
    if not result.next_page_cursor or not result.rows:
        return None
    return {"cursor": result.next_page_cursor}


def _instrument(row: _InstrumentRow, category: str) -> BybitInstrument | None:
    if row.status != "Trading" or row.contract_type not in _CONTRACT_TYPES[category]:
        return None
    if not row.base_coin:
        return None
    inverse = category == "inverse"
    if inverse and row.quote_coin != "USD":
        return None  # a contract we cannot value in USD: never guess its size
    if not inverse and row.quote_coin not in USD_QUOTES:
        return None
    base, multiplier = split_multiplier_affix(row.base_coin)
    return BybitInstrument(row.symbol, base, multiplier, inverse)


def parse_instruments(body: str | bytes, category: str) -> tuple[dict[str, BybitInstrument], int]:
    """Read the pages of `instruments-info` (a JSON array of page bodies) for one category.

    Return (symbol -> instrument, rows skipped): rows not `Trading`, of another contract type or
    not quoted in USD are skipped. Raise FrameError for an error page, a page of another
    category, or a listing without a single usable instrument.
    """
    try:
        pages = _PAGES_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise FrameError(f"instruments-info pages: {exc}") from exc
    instruments: dict[str, BybitInstrument] = {}
    skipped = 0
    for page in pages:
        result = _checked(page)
        if result.category not in ("", category):
            raise FrameError(f"instruments-info for {result.category!r}, not {category!r}")
        for row in result.rows:
            instrument = _instrument(row, category)
            if instrument is None:
                skipped += 1
            else:
                instruments[instrument.symbol] = instrument
    if not instruments:
        raise FrameError(f"instruments-info lists no trading {category} contract valued in USD")
    return instruments, skipped


# --- subscriptions ------------------------------------------------------------------------------


def topic_of(symbol: str) -> str:
    """Return the `allLiquidation` topic of a symbol."""
    return TOPIC_PREFIX + symbol


def _args_chars(topic: str) -> int:
    return len(topic) + 3  # its quotes and a comma in the JSON `args` array


_EMPTY_ARGS_CHARS = 2  # the brackets of the array


_TOKENS = re.compile(r"[A-Za-z0-9_.\-]+")


def _named(ret_msg: str, topics: Iterable[str]) -> set[str]:
    """Return the topics an error message names, by topic or by bare symbol."""
    tokens = set(_TOKENS.findall(ret_msg))
    return {t for t in topics if t in tokens or t.removeprefix(TOPIC_PREFIX) in tokens}


@dataclass(frozen=True, slots=True)
class _Chunk:
    connection: int
    topics: tuple[str, ...]
    attempt: int


class TopicSubscriptions:
    """Spread per-symbol topics over connections and subscribe them in acknowledged chunks.

    Topics stay on the connection they were given (moving one would need an unsubscribe). A new
    topic goes to the first connection with room under `args_chars_per_connection`, else to a
    new connection. Each subscribe frame carries a `req_id`; a rejected one is retried after a
    growing delay, without the topics its error names, or split in two when it names none; a
    single topic is given up after `max_attempts` until the next connect.
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        name: str,
        topics_per_frame: int = TOPICS_PER_FRAME,
        args_chars_per_connection: int = ARGS_CHARS_PER_CONNECTION,
        retry_s: float = 1.0,
        max_retry_s: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self._outbox = outbox
        self._name = name
        self._topics_per_frame = topics_per_frame
        self._budget = args_chars_per_connection
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._max_attempts = max_attempts
        self._topics: list[list[str]] = []  # per connection, in subscription order
        self._chars: list[int] = []  # args characters per connection
        self._where: dict[str, int] = {}
        self._pending: dict[str, _Chunk] = {}  # req_id -> chunk awaiting its reply
        self._ids = itertools.count(1)
        self.given_up = 0  # topics dropped after rejections (until the next connect)

    @property
    def connections(self) -> int:
        """Return how many connections the topics need (at least one)."""
        return max(1, len(self._topics))

    def topics(self, connection: int) -> list[str]:
        """Return the topics of one connection."""
        return list(self._topics[connection]) if connection < len(self._topics) else []

    def update(self, topics: Iterable[str]) -> int:
        """Make these the wanted topics; queue the new ones for live sockets; return their count.

        Topics no longer wanted are forgotten: not unsubscribed now, not resubscribed after the
        next connect.
        """
        wanted = dict.fromkeys(topics)
        gone = [topic for topic in self._where if topic not in wanted]
        for topic in gone:
            del self._where[topic]
        if gone:
            for connection, listed in enumerate(self._topics):
                self._topics[connection] = [t for t in listed if t in self._where]
                chars = sum(_args_chars(t) for t in self._topics[connection])
                self._chars[connection] = _EMPTY_ARGS_CHARS + chars
        added: dict[int, list[str]] = {}
        for topic in wanted:
            if topic in self._where:
                continue
            connection = self._place(topic)
            added.setdefault(connection, []).append(topic)
        for connection, new in added.items():
            self._outbox.put(connection, self._frames(connection, new, attempt=0))
        self._outbox.want_connections(self.connections)
        return sum(len(new) for new in added.values())

    def _place(self, topic: str) -> int:
        size = _args_chars(topic)
        roomy = (c for c, used in enumerate(self._chars) if used + size <= self._budget)
        connection = next(roomy, None)
        if connection is None:
            connection = len(self._topics)
            self._topics.append([])
            self._chars.append(_EMPTY_ARGS_CHARS)
        self._topics[connection].append(topic)
        self._chars[connection] += size
        self._where[topic] = connection
        return connection

    def subscribe_messages(self, connection: int) -> list[str]:
        """Return the chunked subscribe frames for every topic of a connection that just opened."""
        for req_id in [r for r, chunk in self._pending.items() if chunk.connection == connection]:
            del self._pending[req_id]  # replies to the previous socket will not come
        return self._frames(connection, self.topics(connection), attempt=0)

    def _frames(self, connection: int, topics: list[str], *, attempt: int) -> list[str]:
        frames = []
        step = self._topics_per_frame
        for start in range(0, len(topics), step):
            chunk = tuple(topics[start : start + step])
            req_id = f"{connection}.{next(self._ids)}"
            self._pending[req_id] = _Chunk(connection, chunk, attempt)
            frames.append(
                msgspec.json.encode({"req_id": req_id, "op": "subscribe", "args": chunk}).decode()
            )
        return frames

    def on_reply(self, req_id: str, success: bool, ret_msg: str) -> None:
        """Take the reply to a subscribe frame; queue what to retry after a rejection."""
        chunk = self._pending.pop(req_id, None)
        if chunk is None or success:
            return  # ours and accepted, or a reply to an earlier socket
        topics = [t for t in chunk.topics if self._where.get(t) == chunk.connection]
        named = _named(ret_msg, topics)
        rest = [t for t in topics if t not in named]
        retry: list[list[str]]
        if named:
            retry = [rest] if rest else []
        elif len(rest) > 1:
            half = len(rest) // 2
            retry = [rest[:half], rest[half:]]
        elif rest and chunk.attempt + 1 < self._max_attempts:
            retry = [rest]
        else:
            named = set(rest)
            retry = []
        self.given_up += len(named)
        delay = min(self._max_retry_s, self._retry_s * 2**chunk.attempt)
        log.warning(
            "%s: subscribe %s (%d topics, connection %d) rejected: %s; giving up %s, "
            "retrying %d topics in %d frame(s) in %.0fs",
            self._name,
            req_id,
            len(chunk.topics),
            chunk.connection,
            truncate(ret_msg),  # Bybit's text: keep the warning one short line
            sorted(named) or "none",
            sum(len(part) for part in retry),
            len(retry),
            delay,
        )
        for part in retry:
            frames = self._frames(chunk.connection, part, attempt=chunk.attempt + 1)
            self._outbox.put(chunk.connection, frames, delay_s=delay)


# --- feeds --------------------------------------------------------------------------------------


def bybit_policy() -> ConnectionPolicy:
    """Return Bybit's connection timings."""
    # Bybit: send {"op":"ping"} every 20 s; without ping-pong or data it cuts after 10 minutes.
    # Reconnect when neither data nor a pong came for two intervals and a bit. No data-silence
    # watchdog: a quiet market sends no liquidation for minutes. Subscribe frames are paced
    # because a burst can get the connection dropped.
    return ConnectionPolicy(
        app_ping='{"req_id":"ping","op":"ping"}',
        app_ping_every_s=20.0,
        idle_timeout_s=45.0,
        send_interval_s=0.2,
    )


class BybitFeed(Feed):
    """`allLiquidation.{symbol}` for every trading contract of one category.

    `linear`: USDT and USDC perpetuals and futures, `v` in base coin. `inverse`: inverse
    perpetuals and futures, `v` in 1-USD contracts. Feed ids `bybit-linear`, `bybit-inverse`.
    """

    exchange = EXCHANGE
    # Bybit: "push all liquidations that occur on Bybit".
    coverage = Coverage.COMPLETE
    capture_source = CAPTURE_SOURCE

    def __init__(
        self,
        category: str,
        url: str,
        rest_url: str,
        policy: ConnectionPolicy | None = None,
        *,
        topics_per_frame: int = TOPICS_PER_FRAME,
        args_chars_per_connection: int = ARGS_CHARS_PER_CONNECTION,
        retry_s: float = 1.0,
    ) -> None:
        if category not in _CONTRACT_TYPES:
            raise ValueError(f"unknown Bybit category {category!r}")
        self.category = category
        self.feed_id = f"bybit-{category}"
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.policy = policy or bybit_policy()
        self.outbox = outbox = Outbox()
        self.subscriptions = TopicSubscriptions(
            outbox,
            name=self.feed_id,
            topics_per_frame=topics_per_frame,
            args_chars_per_connection=args_chars_per_connection,
            retry_s=retry_s,
        )
        self.instruments: dict[str, BybitInstrument] = {}

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the chunked subscribe frames for the topics of this connection."""
        return self.subscriptions.subscribe_messages(connection)

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the paginated instruments-info document of this category."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=f"{self.capture_source}/{self.category}",
                url=f"{self.rest_url}/v5/market/instruments-info",
                params={"category": self.category, "limit": "1000"},
                apply=self.apply_instruments,
                next_page=next_page_params,
            )
        ]

    def apply_instruments(self, body: str) -> str:
        """Install instruments-info pages, subscribe new listings; raise FrameError if unusable."""
        instruments, skipped = parse_instruments(body, self.category)
        self.instruments = instruments
        new = self.subscriptions.update(topic_of(symbol) for symbol in instruments)
        return (
            f"{len(instruments)} instruments, {skipped} rows skipped, {new} new topics, "
            f"{self.subscriptions.connections} connection(s)"
        )

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame; a subscribe reply also settles its chunk (a rejection is retried)."""
        decoded = decode_frame(frame)
        if decoded.op == "subscribe" and decoded.success is not None:
            self.subscriptions.on_reply(decoded.req_id, decoded.success, decoded.ret_msg)
        return frame_records(decoded, recv_ms, self.instruments)
