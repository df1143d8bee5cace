"""Fuzz every feed's parser on the live path (FrameProcessor): nothing raises, no bad record.

Where each frame lands, per feed:
- undecodable (not JSON, wrong shape or types, nested too deep, an error reply): `bad_frames`;
- an entry with an invalid side, price or size (NaN, inf, zero, negative, or a product that
  overflows): `rejected_events` per entry and `bad_frames` once for the frame, beside the
  `events` of its valid entries;
- a push without events: `bad_frames`;
- an entry of an instrument without metadata: `unknown_instrument_events`, not bad;
- an ack, pong or notice: `control_frames`;
- every record: `events`, or `duplicates` when the same event came before.
So a frame that yields no record and is neither control nor an unknown-instrument skip is bad.

HYPOTHESIS_PROFILE=long (tests/conftest.py) runs thousands of fresh random examples per test; add
--timeout=0, since one such test runs longer than the 60 s limit of a normal test.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.feed import Feed
from collectors.processor import FrameProcessor
from collectors.record import Side
from collectors.stats import FeedStats
from tests.support.feeds import (
    CONTROL_FRAMES,
    ERROR_FRAMES,
    FEED_IDS,
    UNKNOWN_INSTRUMENT_FRAMES,
    VALID_FRAMES,
    build_feed,
)
from tests.support.sinks import CollectingSink

_LONG = settings.get_current_profile_name() == "long"
# The default run is small and the same every time (CI); the long profile explores afresh.
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
FUZZ = (
    settings(deadline=None, suppress_health_check=_HEALTH)
    if _LONG
    else settings(
        deadline=None,
        suppress_health_check=_HEALTH,
        max_examples=25,
        derandomize=True,
        database=None,
    )
)

_RECV_MS = 1_700_000_000_000
# A bad-frame warning shows the reason and the raw frame, each cut at about 300 characters.
_MAX_LOG_CHARS = 1_000


@functools.cache
def _feed(feed_id: str) -> Feed:
    return build_feed(feed_id)


# --- the checks ---------------------------------------------------------------------------


class Counters(NamedTuple):
    """The processor's counters that a frame moves."""

    frames: int = 0
    control_frames: int = 0
    events: int = 0
    duplicates: int = 0
    bad_frames: int = 0
    rejected_events: int = 0
    unknown_instrument_events: int = 0

    @classmethod
    def of(cls, stats: FeedStats) -> Counters:
        return cls(*(getattr(stats, name) for name in cls._fields))

    def minus(self, other: Counters) -> Counters:
        return Counters(*(a - b for a, b in zip(self, other, strict=True)))


@dataclass
class Tally:
    """Where the frames landed, from what the parser returned (each frame in exactly one)."""

    bad: int = 0
    control: int = 0
    with_records: int = 0
    unknown_only: int = 0
    landed: list[str] = field(default_factory=list)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _warnings() -> Iterator[list[logging.LogRecord]]:
    """Collect the collectors' warnings and errors (a hypothesis test cannot use caplog)."""
    handler = _Collect()
    logger = logging.getLogger("collectors")
    level = logger.level
    logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def run_frames(feed_id: str, frames: list[str | bytes]) -> tuple[FrameProcessor, Tally]:
    """Feed frames through a fresh processor as the live runner does; check each one."""
    sink = CollectingSink()
    processor = FrameProcessor(_feed(feed_id), sink, throttle_logs=False)
    tally = Tally()
    with _warnings() as logged:
        for frame in frames:
            _check_frame(processor, sink, frame, tally, logged)
    stats = processor.stats
    assert stats.frames == len(frames)
    assert (stats.bad_frames, stats.control_frames) == (tally.bad, tally.control)
    assert stats.frames == tally.bad + tally.control + tally.with_records + tally.unknown_only
    assert stats.events == len(sink.records)
    return processor, tally


def _check_frame(
    processor: FrameProcessor,
    sink: CollectingSink,
    frame: str | bytes,
    tally: Tally,
    logged: list[logging.LogRecord],
) -> None:
    before, records_before, logged_before = (
        Counters.of(processor.stats),
        len(sink.records),
        len(logged),
    )
    parsed = processor.process(frame, _RECV_MS)  # must not raise
    rejected = parsed.rejected or [] if parsed is not None else []
    unknown = [r for r in rejected if r.unknown_instrument]
    invalid = [r for r in rejected if not r.unknown_instrument]
    processor.skip_unknown(unknown)  # what the runner does when no metadata manager can help
    moved = Counters.of(processor.stats).minus(before)
    new = sink.records[records_before:]

    for record in new:
        for value in (record.price, record.qty_base, record.notional_usd):
            assert math.isfinite(value), record
            assert value > 0, record
        assert isinstance(record.base, str), record
        assert record.base, record
        assert isinstance(record.side, Side), record
        assert record.recv_ms == _RECV_MS

    if parsed is None:  # undecodable, or a push without events
        assert moved == Counters(frames=1, bad_frames=1)
        landed = "bad"
    elif parsed.control is not None:
        assert (parsed.records, rejected) == ([], [])
        assert moved == Counters(frames=1, control_frames=1)
        landed = "control"
    else:
        assert parsed.records or rejected
        assert moved == Counters(
            frames=1,
            events=len(new),
            duplicates=len(parsed.records) - len(new),
            bad_frames=1 if invalid else 0,
            rejected_events=len(invalid),
            unknown_instrument_events=len(unknown),
        )
        if invalid:
            landed = "bad"
        elif parsed.records:
            landed = "records"
        else:
            landed = "unknown"
    tally.landed.append(landed)
    tally.bad += landed == "bad"
    tally.control += landed == "control"
    tally.with_records += landed == "records"
    tally.unknown_only += landed == "unknown"

    # One warning per bad frame and per unknown-instrument skip, each one bounded line; no
    # "parser failed" error: every bad input is recognised as such.
    mine = [r for r in logged[logged_before:] if r.name == "collectors.processor"]
    assert len(mine) == (landed == "bad") + bool(unknown)
    for entry in logged[logged_before:]:
        assert entry.levelno == logging.WARNING, entry.getMessage()[:500]
        message = entry.getMessage()
        assert len(message.splitlines()) == 1, message[:500]
        assert len(message) <= _MAX_LOG_CHARS, message[:500]


# --- arbitrary input ----------------------------------------------------------------------

# Keys and values of the three wire formats, so random structures reach the parsers' branches.
_KEYS = [
    "e",
    "E",
    "o",
    "s",
    "S",
    "p",
    "ap",
    "z",
    "q",
    "T",
    "l",
    "X",
    "stream",
    "data",
    "id",
    "error",
    "code",
    "msg",
    "result",
    "event",
    "arg",
    "channel",
    "instType",
    "instId",
    "details",
    "bkPx",
    "sz",
    "ts",
    "posSide",
    "side",
    "topic",
    "type",
    "op",
    "success",
    "ret_msg",
    "req_id",
    "v",
    "conn_id",
    "contract",
    "size",
    "price",
    "time_ms",
    "time",
    "contract_code",
    "direction",
    "volume",
    "amount",
    "trade_turnover",
    "created_at",
]
_WORDS = [
    "forceOrder",
    "SELL",
    "BUY",
    "Buy",
    "Sell",
    "long",
    "short",
    "net",
    "buy",
    "sell",
    "BTCUSDT",
    "1000PEPEUSDT",
    "BTCUSD_PERP",
    "BTCUSD_200925",
    "BTC-USDT-SWAP",
    "BTC-USD-SWAP",
    "BTCUSD",
    "liquidation-orders",
    "allLiquidation.BTCUSDT",
    "allLiquidation.BTCUSD",
    "liquidation.BTCUSDT",
    "futures.public_liquidates",
    "update",
    "notify",
    "BTC_USDT",
    "BTC_USD",
    "BTC-USD",
    "ETH-USDT",
    "subscribe",
    "error",
    "notice",
    "pong",
    "ping",
    "SWAP",
    "0.1",
    "1",
    "100",
]
# Numbers as exchanges write them (strings) and as they should never be.
_NUMBER_TEXTS = [
    "NaN", "nan", "-NaN", "Infinity", "-Infinity", "inf", "-inf", "-0", "0", "0.0", "-1",
    "-1e-9", "1e400", "-1e400", "1e-400", "1e308", "5e-324", "1e-320", "99999999999999999999999",
    "0x1A", "1_000", " 1", "1 ", "", "١٢٣", "1,5", "1e", ".", "+1",
]  # fmt: skip
_NUMBERS: list[Any] = [0, -0.0, -1, 1e308, -1e308, 5e-324, 10**30, -(10**30), 2**63, 2**64]
_ODD_TEXT = [
    "BTC\nUSDT", "\x00", "\u2028", "БТКUSDT", "🚀USDT", "SELL\r", "sell\t", "Buy\x1b[31m",
    "ＢＴＣＵＳＤＴ", "BTCUSDT\u200b", "\ufeffSELL", "s\u0307", "\\", '"', "USDT",
]  # fmt: skip

_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities come out as the bare tokens NaN, Infinity (not JSON)
    | st.text(max_size=30)
    | st.sampled_from(_WORDS + _NUMBER_TEXTS + _ODD_TEXT + _NUMBERS)
)
json_values = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)


@st.composite
def json_frames(draw: st.DrawFn) -> str | bytes:
    """Any JSON value (and Python's NaN/Infinity tokens) as a text or a binary frame."""
    value = draw(json_values)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), allow_nan=True)
    return text.encode() if draw(st.booleans()) else text


_raw_frames = (
    st.text()
    | st.binary()
    | st.sampled_from(["pong", "ping", "null", "true", "1", '""', "{}", "[]", "[{}]", "[[]]"])
)


@pytest.mark.parametrize("feed_id", FEED_IDS)
@FUZZ
@given(frames=st.lists(json_frames(), min_size=1, max_size=5))
def test_arbitrary_json_is_counted_and_never_raises(
    feed_id: str, frames: list[str | bytes]
) -> None:
    run_frames(feed_id, frames)


@pytest.mark.parametrize("feed_id", FEED_IDS)
@FUZZ
@given(frames=st.lists(_raw_frames, min_size=1, max_size=5))
def test_arbitrary_text_and_bytes_are_counted_and_never_raise(
    feed_id: str, frames: list[str | bytes]
) -> None:
    run_frames(feed_id, frames)


# --- recorded frames, mutated -------------------------------------------------------------

_Path = tuple[str | int, ...]


def _paths(node: Any, prefix: _Path = ()) -> Iterator[_Path]:
    """Yield the path of every value in a JSON tree, the root first."""
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


def _get(node: Any, path: _Path) -> Any:
    for step in path:
        node = node[step]
    return node


def _set(tree: Any, path: _Path, value: Any) -> Any:
    """Put value at path; return the (possibly new) root."""
    if not path:
        return value
    _get(tree, path[:-1])[path[-1]] = value
    return tree


class Nested(NamedTuple):
    """A placeholder for a value to be written nested `depth` levels deep (json cannot)."""

    placeholder: str
    value: Any
    depth: int
    shape: str


_MUTATIONS = ("delete", "json", "number", "text", "swapcase", "nest", "repeat", "empty")


def _mutate(draw: st.DrawFn, tree: Any, nested: list[Nested]) -> Any:
    path = draw(st.sampled_from(list(_paths(tree))))
    value = _get(tree, path)
    kind = draw(st.sampled_from(_MUTATIONS))
    if kind == "delete" and path:
        parent = _get(tree, path[:-1])
        del parent[path[-1]]
        return tree
    if kind == "number":
        number = draw(st.sampled_from(_NUMBER_TEXTS + _NUMBERS) | st.floats() | st.integers())
        return _set(tree, path, number)
    if kind == "text":
        return _set(tree, path, draw(st.sampled_from(_ODD_TEXT) | st.text(max_size=20)))
    if kind == "swapcase" and isinstance(value, str):
        return _set(tree, path, value.swapcase())
    if kind == "nest":
        placeholder = f"@@nested{len(nested)}@@"
        depth = draw(st.sampled_from([2, 50, 1_000]))
        nested.append(Nested(placeholder, value, depth, draw(st.sampled_from(["array", "object"]))))
        return _set(tree, path, placeholder)
    if kind == "repeat" and isinstance(value, list) and value:
        return _set(tree, path, value * draw(st.integers(2, 4)))
    if kind == "empty":
        return _set(tree, path, draw(st.sampled_from([[], {}, "", None])))
    return _set(tree, path, draw(json_values))  # "json", or a kind that does not apply here


def _mutated(feed_id: str) -> st.SearchStrategy[str | bytes]:
    recorded = [
        *VALID_FRAMES[feed_id],
        *(f for f in CONTROL_FRAMES[feed_id] if f != "pong"),
        *ERROR_FRAMES[feed_id],
        *([UNKNOWN_INSTRUMENT_FRAMES[feed_id]] if feed_id in UNKNOWN_INSTRUMENT_FRAMES else []),
    ]

    @st.composite
    def mutated(draw: st.DrawFn) -> str | bytes:
        tree = json.loads(draw(st.sampled_from(recorded)))
        nested: list[Nested] = []
        for _ in range(draw(st.integers(1, 3))):
            tree = _mutate(draw, tree, nested)
        text = json.dumps(tree, ensure_ascii=draw(st.booleans()), allow_nan=True)
        for item in reversed(nested):  # the later placeholder may sit inside an earlier value
            inner = json.dumps(item.value, allow_nan=True)
            if item.shape == "array":
                deep = "[" * item.depth + inner + "]" * item.depth
            else:
                deep = '{"k":' * item.depth + inner + "}" * item.depth
            text = text.replace(f'"{item.placeholder}"', deep, 1)
        return text.encode() if draw(st.booleans()) else text

    return mutated()


@pytest.mark.parametrize("feed_id", FEED_IDS)
@FUZZ
@given(data=st.data())
def test_mutated_recorded_frames_are_counted_and_never_raise(
    feed_id: str, data: st.DataObject
) -> None:
    frames = data.draw(st.lists(_mutated(feed_id), min_size=1, max_size=4), label="frames")
    run_frames(feed_id, frames)


def test_the_recorded_frames_themselves_are_delivered_counted_or_skipped() -> None:
    """Check the base of the mutations: each recorded frame lands where it should."""
    for feed_id in FEED_IDS:
        valid, control, errors = (
            VALID_FRAMES[feed_id],
            CONTROL_FRAMES[feed_id],
            ERROR_FRAMES[feed_id],
        )
        unknown = (
            [UNKNOWN_INSTRUMENT_FRAMES[feed_id]] if feed_id in UNKNOWN_INSTRUMENT_FRAMES else []
        )
        _, tally = run_frames(feed_id, [*valid, *control, *errors, *unknown])
        expected = [
            *["records"] * len(valid),
            *["control"] * len(control),
            *["bad"] * len(errors),
            *["unknown"] * len(unknown),
        ]
        assert tally.landed == expected, feed_id


# --- extreme frames, exactly --------------------------------------------------------------


class Fields(NamedTuple):
    """Where the first recorded frame of a feed keeps its values."""

    size: _Path
    price: _Path
    symbol: _Path
    side: _Path
    events: _Path | None  # the array of events; None: the frame is one event (Binance)


# Gate has no side field: the sign of `size` is the side.
_GATE_FIELDS = Fields(
    ("result", 0, "size"),
    ("result", 0, "price"),
    ("result", 0, "contract"),
    ("result", 0, "size"),
    ("result",),
)


def _htx_fields(size: str) -> Fields:
    return Fields(
        ("data", 0, size),
        ("data", 0, "price"),
        ("data", 0, "contract_code"),
        ("data", 0, "direction"),
        ("data",),
    )


FIELDS = {
    "binance-usdm": Fields(("o", "z"), ("o", "ap"), ("o", "s"), ("o", "S"), None),
    "binance-coinm": Fields(("o", "z"), ("o", "ap"), ("o", "s"), ("o", "S"), None),
    "okx": Fields(
        ("data", 0, "details", 0, "sz"),
        ("data", 0, "details", 0, "bkPx"),
        ("data", 0, "instId"),
        ("data", 0, "details", 0, "posSide"),
        ("data", 0, "details"),
    ),
    "bybit-linear": Fields(
        ("data", 0, "v"), ("data", 0, "p"), ("data", 0, "s"), ("data", 0, "S"), ("data",)
    ),
    "bybit-inverse": Fields(
        ("data", 0, "v"), ("data", 0, "p"), ("data", 0, "s"), ("data", 0, "S"), ("data",)
    ),
    "gate-usdt": _GATE_FIELDS,
    "gate-btc": _GATE_FIELDS,
    "htx-linear": _htx_fields("amount"),
    "htx-swap": _htx_fields("volume"),
    "htx-futures": _htx_fields("volume"),
    "bitget": Fields(
        ("data", 0, "amount"),
        ("data", 0, "price"),
        ("data", 0, "symbol"),
        ("data", 0, "side"),
        ("data",),
    ),
}
_PLACEHOLDER = "@@raw@@"


def with_raw(feed_id: str, path: _Path, token: str) -> str:
    """Return the feed's first recorded frame with the JSON text `token` at `path`."""
    tree = _set(json.loads(VALID_FRAMES[feed_id][0]), path, _PLACEHOLDER)
    return json.dumps(tree).replace(f'"{_PLACEHOLDER}"', token, 1)


def with_extra(feed_id: str, token: str) -> str:
    """Return the feed's first recorded frame with an unknown key holding the JSON text `token`."""
    frame = VALID_FRAMES[feed_id][0]
    return f'{frame[:-1]},"extra":{token}}}'


def land(feed_id: str, frame: str | bytes) -> tuple[str, Counters]:
    """Run one frame; return where it landed and the counters it moved."""
    processor, tally = run_frames(feed_id, [frame])
    return tally.landed[0], Counters.of(processor.stats)


_TEN_MB = 10_000_000


@functools.cache
def _huge_text() -> str:
    return json.dumps("x" * _TEN_MB)


@functools.cache
def _huge_array() -> str:
    return "[" + ",".join(["1.5"] * (_TEN_MB // 4)) + "]"


def _many_events(feed_id: str) -> tuple[str, int]:
    """Return a 10 MB frame repeating the first event, and how many times it holds it."""
    frame = VALID_FRAMES[feed_id][0]
    path = FIELDS[feed_id].events
    if path is None:  # Binance also sends an array of bare events
        count = _TEN_MB // len(frame)
        return "[" + ",".join([frame] * count) + "]", count
    event = json.dumps(_get(json.loads(frame), path)[0])
    count = _TEN_MB // len(event)
    return with_raw(feed_id, path, "[" + ",".join([event] * count) + "]"), count


_COINM_LIKE = ("binance-coinm", "okx", "bybit-linear", "bybit-inverse")  # instruments from metadata
# New venues, by where a huge instrument id lands: waiting for metadata (Gate, HTX coin-M swaps),
# or valued anyway (HTX linear needs no contract size; HTX futures fall back to the symbol's).
_SYMBOL_LANDING = {
    "gate-usdt": "unknown",
    "gate-btc": "unknown",
    "htx-swap": "unknown",
    "htx-linear": "records",
    "htx-futures": "records",
}


@pytest.mark.parametrize("feed_id", FEED_IDS)
def test_ten_megabyte_frames(feed_id: str) -> None:
    fields = FIELDS[feed_id]
    landed = {
        "symbol": land(feed_id, with_raw(feed_id, fields.symbol, _huge_text()))[0],
        "side": land(feed_id, with_raw(feed_id, fields.side, _huge_text()))[0],
        "ignored string": land(feed_id, with_extra(feed_id, _huge_text()))[0],
        "ignored array": land(feed_id, with_extra(feed_id, _huge_array()))[0],
        "as bytes": land(feed_id, with_extra(feed_id, _huge_text()).encode())[0],
    }
    assert landed == {
        # A huge symbol is an instrument without metadata, or (USDⓈ-M) not a USD pair.
        "symbol": _SYMBOL_LANDING.get(feed_id, "unknown" if feed_id in _COINM_LIKE else "bad"),
        "side": "bad",
        "ignored string": "records",
        "ignored array": "records",
        "as bytes": "records",
    }
    frame, count = _many_events(feed_id)
    assert len(frame) >= _TEN_MB - 1_000
    where, counters = land(feed_id, frame)
    assert where == "records"
    assert (counters.events, counters.duplicates, counters.bad_frames) == (1, count - 1, 0)


@pytest.mark.parametrize("feed_id", FEED_IDS)
@pytest.mark.parametrize("shape", ["array", "object"])
def test_a_value_nested_a_thousand_levels_deep(feed_id: str, shape: str) -> None:
    deep = "[" * 1_000 + "1" + "]" * 1_000
    if shape == "object":
        deep = '{"k":' * 1_000 + "1" + "}" * 1_000
    # In place of the price: the wrong type, whatever the depth.
    landed, counters = land(feed_id, with_raw(feed_id, FIELDS[feed_id].price, deep))
    assert (landed, counters.rejected_events) == ("bad", 0)
    # Under an ignored key: skipped if the interpreter's recursion limit allows that depth, else
    # a bad frame (CPython 3.11 stops near 1,000); either way counted, never raised.
    landed, _ = land(feed_id, with_extra(feed_id, deep))
    assert landed in ("bad", "records")


# JSON texts put in place of a size or a price, by where they land:
# not a number at all, or out of float range: the frame is undecodable (bad, nothing rejected);
_NOT_NUMBERS = ['"abc"', '""', '"0x10"', '"1,5"', "true", "[]", "{}", '"1e400"', "1e400", "-1e400", "NaN", "Infinity"]  # fmt: skip
# zero (also after underflow): the entry is rejected, unless a Binance average price falls back;
_ZEROS = ['"0"', "0", '"-0"', "-0.0", '"1e-400"', "1e-400"]
# a number, but not positive and finite: the entry is rejected (bad frame, one rejected event).
_INVALID = ['"NaN"', '"Infinity"', '"-Infinity"', '"-1"', "-1", '"-0.5"', "-1e308", *_ZEROS]


# Feeds whose fields may be absent (an ack shares the row's shape): null is a rejected entry.
_OPTIONAL_FIELDS = ("gate-usdt", "gate-btc", "htx-linear", "htx-swap", "htx-futures", "bitget")
# Gate's size is signed (negative: a long); these negatives are usable sizes.
_GATE_NEGATIVE_SIZES = ('"-1"', "-1", '"-0.5"', "-1e308")


def _expected_landing(feed_id: str, field: str, token: str) -> str:
    binance = feed_id.startswith("binance")
    if feed_id.startswith("gate-") and field == "size" and token in _GATE_NEGATIVE_SIZES:
        return "records"
    if token == "null" and feed_id in _OPTIONAL_FIELDS:
        return "rejected"
    if token == "null":
        # Binance: no `z` means the order quantity `q`, no `ap` the order price `p`.
        return "records" if binance else "undecodable"
    if binance and field == "price" and token in _ZEROS:
        return "records"  # `ap` of 0 means no fill price yet: the order price `p` is used
    if token in _NOT_NUMBERS:
        return "undecodable"
    return "rejected"


@pytest.mark.parametrize("feed_id", FEED_IDS)
@pytest.mark.parametrize("field", ["size", "price"])
def test_invalid_numbers_land_exactly_where_stated(feed_id: str, field: str) -> None:
    path = FIELDS[feed_id].size if field == "size" else FIELDS[feed_id].price
    tokens = [*_NOT_NUMBERS, *_INVALID, "null"]
    landed = {}
    for token in tokens:
        where, counters = land(feed_id, with_raw(feed_id, path, token))
        if where == "bad":
            where = "rejected" if counters.rejected_events == 1 else "undecodable"
        landed[token] = where
    assert landed == {token: _expected_landing(feed_id, field, token) for token in tokens}
