"""Keep the newest liquidations (by event time, then arrival), bounded: overall and per asset."""

from __future__ import annotations

import heapq

from collectors.record import Liquidation, Side

NEWEST_KEPT = 1_000
NEWEST_PER_ASSET = 50  # the most /latest SYMBOL shows


class Newest:
    """The newest `overall` events, and the newest `per_asset` of each asset.

    Each is a min-heap on (event time, arrival number): a late event lands where its time
    puts it, and the oldest kept one leaves when the heap is full.
    """

    def __init__(self, overall: int = NEWEST_KEPT, per_asset: int = NEWEST_PER_ASSET) -> None:
        self._overall_size = overall
        self._per_asset_size = per_asset
        self._overall: list[tuple[int, int, Liquidation]] = []
        self._assets: dict[str, list[tuple[int, int, Liquidation]]] = {}

    def add(self, record: Liquidation, seq: int) -> None:
        """Keep an event if it is among the newest."""
        item = (record.ts_ms, seq, record)
        _push(self._overall, item, self._overall_size)
        heap = self._assets.get(record.base)
        if heap is None:
            heap = self._assets[record.base] = []
        _push(heap, item, self._per_asset_size)

    def newest(
        self,
        n: int,
        asset: str | None,
        min_usd: float,
        since_ms: int,
        *,
        side: Side | None = None,
        exchange: str | None = None,
    ) -> list[Liquidation]:
        """Return the newest n kept events with ts >= since_ms and at least min_usd (of one
        side or exchange if given: among the kept events only)."""
        heap = self._overall if asset is None else self._assets.get(asset, [])
        found: list[Liquidation] = []
        for ts, _, record in sorted(heap, reverse=True):
            if ts < since_ms or len(found) >= n:
                break
            if (
                record.notional_usd >= min_usd
                and (side is None or record.side is side)
                and (exchange is None or record.exchange == exchange)
            ):
                found.append(record)
        return found

    def forget_before(self, since_ms: int) -> None:
        """Drop the assets whose newest kept event is older than since_ms."""
        for asset in [a for a, heap in self._assets.items() if max(heap)[0] < since_ms]:
            del self._assets[asset]


def _push(
    heap: list[tuple[int, int, Liquidation]], item: tuple[int, int, Liquidation], size: int
) -> None:
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)
