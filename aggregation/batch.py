"""The events added to the window store since its last fold, column by column."""

from __future__ import annotations

from array import array

import numpy as np

from aggregation.keys import FloatArray, IntArray


class Batch:
    """The events added since the last fold, column by column."""

    __slots__ = ("inst", "key", "live", "price", "qty", "recv", "seq", "side", "ts", "usd")

    def __init__(self) -> None:
        self.ts = array("q")
        self.key = array("q")
        self.usd = array("d")
        self.inst = array("i")
        self.side = array("b")
        self.qty = array("d")
        self.price = array("d")
        self.recv = array("q")
        self.seq = array("q")
        self.live = array("b")  # 0: known to the database already (verified there)

    def __len__(self) -> int:
        return len(self.ts)


def empty_future() -> tuple[IntArray, IntArray, FloatArray]:
    """Return empty (second, key, usd) columns: no events waiting for their second."""
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
