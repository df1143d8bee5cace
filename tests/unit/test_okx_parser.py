"""Exact-value tests of the OKX parser on every recorded frame (tests/fixtures)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from collectors.exchanges.okx.feed import OkxFeed
from collectors.exchanges.okx.parsing import OkxInstrument, parse_instruments, parse_liquidations
from collectors.parsing import FrameError
from collectors.record import Side
from tests.support.fixtures import lines, text

RECV = 1_800_000_000_000
INSTRUMENTS, SKIPPED = parse_instruments(text("okx_instruments_swap.json"))


def approx(value: str) -> object:
    return pytest.approx(float(Decimal(value)), rel=1e-12, abs=0)


# One row per line of okx_liquidation_orders.jsonl, valued with the 2022 instruments fixture:
# (instId, base, side, bkPx, qty = sz * ctVal * ctMult, notional = qty * bkPx, ts); None = the
# instrument is not in that fixture.
OKX_EXPECTED = [
    ("IOST-USDT-SWAP", "IOST", Side.SHORT, "0.007831", "13000", "101.803", 1692266434010),
    ("BTC-USDT-SWAP", "BTC", Side.SHORT, "23523.9", "0.0001", "2.35239", 1672738134824),
    ("BTC-USDT-SWAP", "BTC", Side.LONG, "57102.9", "100", "5710290", 1723038122631),  # demo
    None,  # CNPY-USDT-SWAP was listed after 2022
    ("MINA-USDT-SWAP", "MINA", Side.SHORT, "0.09859", "10975", "1082.02525", 1789678209470),
    ("BTC-USDT-SWAP", "BTC", Side.LONG, "82655.7", "0.0855", "7067.06235", 1791565600771),
    ("CELO-USDT-SWAP", "CELO", Side.SHORT, "0.09583", "19979", "1914.58757", 1791565462608),
]


def test_instruments_fixture() -> None:
    assert len(INSTRUMENTS) == 166
    assert SKIPPED == 0
    assert INSTRUMENTS["BTC-USDT-SWAP"] == OkxInstrument(
        "BTC-USDT-SWAP", "SWAP", "BTC", 1.0, False, 0.01
    )
    assert INSTRUMENTS["BTC-USD-SWAP"] == OkxInstrument(
        "BTC-USD-SWAP", "SWAP", "BTC", 1.0, True, 100.0
    )
    assert INSTRUMENTS["SHIB-USDT-SWAP"].contract_value == 1_000_000.0
    assert INSTRUMENTS["ETH-USD-SWAP"].contract_value == 10.0


def test_trimmed_2026_rows_are_used_or_skipped_never_guessed() -> None:
    instruments, skipped = parse_instruments(text("okx_instruments_swap_2026_trimmed.json"))
    # SPOT is not ours; the trimmed FUTURES row has no ctType/ctValCcy, so it is not valued.
    assert list(instruments) == ["BTC-USDT-SWAP"]
    assert instruments["BTC-USDT-SWAP"].contract_value == 0.01
    assert skipped == 2


def test_instruments_error_body() -> None:
    with pytest.raises(FrameError, match="error 50011"):
        parse_instruments('{"code":"50011","msg":"Too Many Requests","data":[]}')
    with pytest.raises(FrameError, match="instruments"):
        parse_instruments("<html>502</html>")


@pytest.mark.parametrize(
    ("frame", "expected"),
    list(zip(lines("okx_liquidation_orders.jsonl"), OKX_EXPECTED, strict=True)),
)
def test_every_recorded_frame(frame: str, expected: tuple[object, ...] | None) -> None:
    parsed = parse_liquidations(frame, RECV, INSTRUMENTS)
    if expected is None:
        assert parsed.records == []
        assert parsed.rejected is not None
        assert [(r.instrument, r.unknown_instrument) for r in parsed.rejected] == [
            ("CNPY-USDT-SWAP", True)
        ]
        return
    inst_id, base, side, price, qty, notional, ts = expected
    assert parsed.rejected is None
    [record] = parsed.records
    assert (record.exchange, record.market, record.symbol, record.base) == (
        "okx",
        "swap",
        inst_id,
        base,
    )
    assert record.side is side
    assert record.price == approx(str(price))
    assert record.qty_base == approx(str(qty))
    assert record.notional_usd == approx(str(notional))
    assert record.ts_ms == ts
    assert record.recv_ms == RECV


def _push(*entries: tuple[str, list[dict[str, str]]], inst_type: str = "SWAP") -> str:
    return json.dumps(
        {
            "arg": {"channel": "liquidation-orders", "instType": inst_type},
            "data": [
                {"details": details, "instId": inst_id, "instType": inst_type}
                for inst_id, details in entries
            ],
        }
    )


def _detail(
    sz: str, px: str, pos_side: str, side: str, ts: str = "1791565600771"
) -> dict[str, str]:
    return {"bkLoss": "0", "bkPx": px, "posSide": pos_side, "side": side, "sz": sz, "ts": ts}


def test_inverse_contracts_are_usd_face_value() -> None:
    # Synthetic push: 10 BTC-USD-SWAP contracts of 100 USD each at 82,655.7.
    frame = _push(("BTC-USD-SWAP", [_detail("10", "82655.7", "long", "sell")]))
    [record] = parse_liquidations(frame, RECV, INSTRUMENTS).records
    assert record.notional_usd == 1000.0  # never price x contracts
    assert record.qty_base == approx(str(Decimal(1000) / Decimal("82655.7")))
    assert record.price == 82655.7


def test_every_data_entry_and_every_detail_is_read() -> None:
    frame = _push(
        (
            "BTC-USDT-SWAP",
            [_detail("1", "80000", "long", "sell"), _detail("2", "80100", "net", "buy")],
        ),
        ("ETH-USD-SWAP", [_detail("3", "2500", "net", "sell")]),
    )
    records = parse_liquidations(frame, RECV, INSTRUMENTS).records
    assert [(r.symbol, r.side, r.notional_usd) for r in records] == [
        ("BTC-USDT-SWAP", Side.LONG, 800.0),
        ("BTC-USDT-SWAP", Side.SHORT, 1602.0),
        ("ETH-USD-SWAP", Side.LONG, 30.0),
    ]


def test_futures_market_and_dated_instrument() -> None:
    body = json.dumps(
        {
            "code": "0",
            "msg": "",
            "data": [
                {
                    "instId": "BTC-USD-261225",
                    "instType": "FUTURES",
                    "ctType": "inverse",
                    "ctVal": "100",
                    "ctMult": "1",
                    "ctValCcy": "USD",
                }
            ],
        }
    )
    feed = OkxFeed("ws://unused", "http://unused")
    assert feed.apply_instruments(body) == "1 instruments (FUTURES), 0 rows skipped"
    frame = _push(("BTC-USD-261225", [_detail("2", "90000", "short", "buy")]), inst_type="FUTURES")
    [record] = feed.parse(frame, RECV).records
    assert (record.market, record.base, record.side, record.notional_usd) == (
        "futures",
        "BTC",
        Side.SHORT,
        200.0,
    )


def test_bad_detail_is_rejected_and_good_ones_kept() -> None:
    frame = _push(
        (
            "BTC-USDT-SWAP",
            [
                _detail("0", "80000", "long", "sell"),
                _detail("1", "80000", "sideways", "hold"),
                _detail("1", "NaN", "long", "sell"),
                _detail("2", "80000", "short", "buy"),
            ],
        )
    )
    parsed = parse_liquidations(frame, RECV, INSTRUMENTS)
    assert [r.notional_usd for r in parsed.records] == [1600.0]
    assert parsed.rejected is not None
    assert [r.reason for r in parsed.rejected] == [
        "size 0.0 is not a positive finite number",
        "unknown side posSide='sideways' side='hold'",
        "price nan is not a positive finite number",
    ]


@pytest.mark.parametrize(
    ("frame", "control", "reconnect"),
    [
        (lines("okx_ws_control.jsonl")[0], "subscribe SWAP", False),
        (
            lines("okx_ws_control.jsonl")[1],
            "notice 64008: The connection will soon be closed for a service upgrade. "
            "Please reconnect.",
            True,
        ),
    ],
)
def test_control_frames(frame: str, control: str, reconnect: bool) -> None:
    parsed = parse_liquidations(frame, RECV, INSTRUMENTS)
    assert (parsed.records, parsed.control, parsed.reconnect) == ([], control, reconnect)


def test_error_event_is_a_bad_frame() -> None:
    with pytest.raises(FrameError, match="error event 60018: Wrong URL or channel"):
        parse_liquidations(lines("okx_ws_control.jsonl")[2], RECV, INSTRUMENTS)


def test_pong_and_subscribe_message() -> None:
    feed = OkxFeed("ws://unused", "http://unused")
    assert feed.parse("pong", RECV).control == "pong"
    assert json.loads(feed.subscribe_messages()[0]) == {
        "op": "subscribe",
        "args": [
            {"channel": "liquidation-orders", "instType": "SWAP"},
            {"channel": "liquidation-orders", "instType": "FUTURES"},
        ],
    }


def test_a_rejected_subscribe_is_asked_again_no_sooner_than_1_2_4_s_and_at_most_60_s() -> None:
    feed = OkxFeed("ws://unused", "http://unused")
    outbox = feed.outbox
    assert outbox is not None
    error = lines("okx_ws_control.jsonl")[2]
    for rejections in [*range(8), 0]:
        if rejections == 0:
            feed.parse(lines("okx_ws_control.jsonl")[0], RECV)  # an accepted subscribe resets
        before = time.monotonic()
        with pytest.raises(FrameError):
            feed.parse(error, RECV)
        after = time.monotonic()
        _, due = outbox.take_due(0)
        outbox.clear(0)
        assert due is not None
        # Jittered in [c/2, c] under the ceiling c = min(60, 2 * 2**n): never sooner than 2**n.
        ceiling = min(60.0, 2.0 * 2**rejections)
        assert ceiling / 2 <= due - before
        assert due - after <= ceiling
