"""Name the instruments, assets and exchanges seen, and number the totals keys they fall into.

A totals key is one (asset, exchange, side): `pair * 2 + side`, where a pair is an (asset,
exchange) numbered in the order first seen. Nothing caps the number of exchanges or assets; the
per-key arrays grow as pairs appear.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from collectors.record import Liquidation, Side

SIDES = (Side.LONG, Side.SHORT)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument as the store knows it."""

    exchange: str
    market: str
    symbol: str
    base: str


Grouping = tuple[IntArray, IntArray]  # (key order, start of each group in that order)


def grouping(values: IntArray) -> Grouping:
    """Return the order that groups keys by value, and where each group starts."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(values) else order
    return order, starts


def sum_by(groups: Grouping, columns: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Sum per-key columns, shaped (rows, keys), into (rows, groups)."""
    order, starts = groups
    if len(starts) == 0:
        return np.zeros((len(columns), 0), dtype=columns.dtype)
    return np.add.reduceat(columns[:, order], starts, axis=1)


@dataclass(frozen=True, slots=True)
class KeyArrays:
    """Per key: its asset, exchange and side indices (and the combined ones), as arrays."""

    asset: IntArray
    exchange: IntArray
    side: IntArray
    asset_side: IntArray  # asset * 2 + side
    exchange_side: IntArray  # exchange * 2 + side
    by_asset_side: Grouping  # the keys grouped by asset_side, every group present
    by_exchange_side: Grouping


class Names:
    """The instruments, assets, exchanges and (asset, exchange) pairs seen, in first-seen order."""

    def __init__(self) -> None:
        self.instruments: list[Instrument] = []
        self.asset_names: list[str] = []
        self.exchange_names: list[str] = []
        self.inst_key: list[int] = []  # instrument -> the key of its long side (short: +1)
        self._inst: dict[tuple[str, str, str], int] = {}
        self._assets: dict[str, int] = {}
        self._exchanges: dict[str, int] = {}
        self._pairs: dict[tuple[int, int], int] = {}
        self._key_asset = array("q")
        self._key_exchange = array("q")
        self._arrays: KeyArrays | None = None

    @property
    def n_keys(self) -> int:
        """Return how many keys exist (two per pair)."""
        return len(self._key_asset)

    def asset_index(self, asset: str) -> int | None:
        """Return the index of an asset name, or None if it was never seen."""
        return self._assets.get(asset)

    def exchange_index(self, exchange: str) -> int | None:
        """Return the index of an exchange name, or None if it was never seen."""
        return self._exchanges.get(exchange)

    def lookup(self, exchange: str, market: str, symbol: str) -> int | None:
        """Return an instrument's index, or None if it was never seen."""
        return self._inst.get((exchange, market, symbol))

    def instrument(self, exchange: str, market: str, symbol: str, base: str) -> int:
        """Return an instrument's index, numbering it (and its asset, exchange, pair) if new."""
        index = self._inst.get((exchange, market, symbol))
        if index is not None:
            return index
        exchange_index = self._exchanges.get(exchange)
        if exchange_index is None:
            exchange_index = self._exchanges[exchange] = len(self.exchange_names)
            self.exchange_names.append(exchange)
        asset_index = self._assets.get(base)
        if asset_index is None:
            asset_index = self._assets[base] = len(self.asset_names)
            self.asset_names.append(base)
        pair = self._pairs.get((asset_index, exchange_index))
        if pair is None:
            pair = self._pairs[(asset_index, exchange_index)] = len(self._pairs)
            for _ in SIDES:
                self._key_asset.append(asset_index)
                self._key_exchange.append(exchange_index)
            self._arrays = None
        index = self._inst[(exchange, market, symbol)] = len(self.instruments)
        self.instruments.append(Instrument(exchange, market, symbol, base))
        self.inst_key.append(pair * 2)
        return index

    def keys(self) -> KeyArrays:
        """Return the per-key index arrays (cached until a pair is added)."""
        arrays = self._arrays
        if arrays is None:
            asset = np.frombuffer(self._key_asset, dtype=np.int64).copy()
            exchange = np.frombuffer(self._key_exchange, dtype=np.int64).copy()
            side = np.arange(len(asset), dtype=np.int64) % 2
            asset_side, exchange_side = asset * 2 + side, exchange * 2 + side
            arrays = self._arrays = KeyArrays(
                asset, exchange, side, asset_side, exchange_side,
                grouping(asset_side), grouping(exchange_side),
            )  # fmt: skip
        return arrays

    def asset_keys(self, asset: int) -> IntArray:
        """Return the keys of one asset, ascending."""
        return np.flatnonzero(self.keys().asset == asset).astype(np.int64)

    def record(
        self, inst: int, ts: int, side: int, qty: float, price: float, usd: float, recv: int
    ) -> Liquidation:
        """Build the record of an event from its columns."""
        instrument = self.instruments[inst]
        return Liquidation(
            exchange=instrument.exchange,
            market=instrument.market,
            symbol=instrument.symbol,
            base=instrument.base,
            side=SIDES[side],
            price=price,
            qty_base=qty,
            notional_usd=usd,
            ts_ms=ts,
            recv_ms=recv,
        )
