"""Fetch OKX's recent liquidation history for a gap, per instrument family, within its limits.

`GET /api/v5/public/liquidation-orders` must be asked per family (`instFamily`, e.g. BTC-USDT)
and instrument type; it answers up to 100 details per page, newest first, and pages backwards
with `after=<ts>`. The details have the same shape as the WebSocket push, so the same parser
values them. OKX keeps only recent history (about a day); what it no longer holds stays a gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Protocol

import httpx
import msgspec

from collectors.clock import now_ms
from collectors.exchanges.okx.parsing import OkxInstrument, parse_liquidations
from collectors.parsing import FrameError, truncate
from collectors.record import HistoryBatch

log = logging.getLogger(__name__)

PAGE_SIZE = 100
HISTORY_MS = 24 * 3600 * 1000


class _Envelope(msgspec.Struct, gc=False):
    code: str | int = "0"
    msg: str = ""


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def family_of(inst_id: str) -> tuple[str, str] | None:
    """Return (instType, instFamily) of a swap or future: BTC-USDT-SWAP -> (SWAP, BTC-USDT)."""
    parts = inst_id.split("-")
    if len(parts) != 3:
        return None
    inst_type = "SWAP" if parts[2] == "SWAP" else "FUTURES"
    return inst_type, f"{parts[0]}-{parts[1]}"


class _FeedTables(Protocol):
    """What the history needs of the feed: its REST base URL and its current instrument table."""

    rest_url: str
    instruments: dict[str, OkxInstrument]


class OkxHistory:
    """Fetch the history of a gap for the instrument families that were active (a HistorySource)."""

    def __init__(
        self,
        feed: _FeedTables,
        http: httpx.AsyncClient,
        *,
        requests_per_second: float = 5.0,
        max_pages: int = 20,
    ) -> None:
        self._feed = feed
        self._http = http
        self._interval_s = 1.0 / requests_per_second
        self._max_pages = max_pages
        self._last_request = 0.0

    async def fetch(self, start_ms: int, end_ms: int, symbols: Iterable[str]) -> HistoryBatch:
        """Return the filled liquidations with start_ms <= ts <= end_ms for these instruments."""
        earliest = now_ms() - HISTORY_MS
        result = HistoryBatch(covered_from_ms=max(start_ms, earliest))
        families = sorted({f for f in map(family_of, symbols) if f is not None})
        for inst_type, family in families:
            reached = await self._family(inst_type, family, result, end_ms)
            if reached is not None and reached > result.covered_from_ms:
                result.covered_from_ms = reached  # this family's history stopped short
        # Every fetched event of the gap is real and kept; only [covered_from_ms, end_ms] is
        # known complete (as complete as OKX's feed ever is) and may be marked backfilled.
        result.records = [r for r in result.records if start_ms <= r.ts_ms <= end_ms]
        return result

    async def _family(
        self, inst_type: str, family: str, result: HistoryBatch, end_ms: int
    ) -> int | None:
        """Page back through one family; return the oldest time reached if it stopped short."""
        after: int | None = None
        for _ in range(self._max_pages):
            params = {
                "instType": inst_type,
                "instFamily": family,
                "state": "filled",
                "limit": str(PAGE_SIZE),
            }
            if after is not None:
                params["after"] = str(after)
            body = await self._get(params, result)
            if body is None:
                return None  # an error was recorded; the gap start stays as it was
            try:
                parsed = parse_liquidations(body, now_ms(), self._feed.instruments)
            except FrameError as exc:
                result.errors.append(f"{family}: {exc}")
                return None
            records = parsed.records
            result.records.extend(records)
            details = len(records) + len(parsed.rejected or ())
            if details < PAGE_SIZE:
                return None  # everything OKX holds for this family
            oldest = min(r.ts_ms for r in records) if records else None
            if oldest is None or oldest <= result.covered_from_ms:
                return None
            after = oldest
        log.warning(
            "okx backfill: %s history not exhausted after %d pages", family, self._max_pages
        )
        return after

    async def _get(self, params: dict[str, str], result: HistoryBatch) -> str | None:
        wait = self._last_request + self._interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # stay well inside OKX's 20 requests per 2 s
        self._last_request = time.monotonic()
        result.requests += 1
        url = f"{self._feed.rest_url}/api/v5/public/liquidation-orders"
        try:
            response = await self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            result.errors.append(f"{params['instFamily']}: {exc!r}")
            return None
        body = response.text
        if response.status_code != 200:
            result.errors.append(
                f"{params['instFamily']}: HTTP {response.status_code}: {truncate(body, 200)}"
            )
            return None
        try:
            envelope = _ENVELOPE.decode(body)
        except msgspec.DecodeError as exc:
            result.errors.append(f"{params['instFamily']}: {exc}")
            return None
        if str(envelope.code) != "0":
            result.errors.append(f"{params['instFamily']}: error {envelope.code}: {envelope.msg}")
            return None
        return body
