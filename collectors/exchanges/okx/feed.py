"""The OKX `liquidation-orders` feed: one connection for SWAP and FUTURES, valued with `ctVal`."""

from __future__ import annotations

import httpx

from collectors.backoff import Backoff
from collectors.connection import ConnectionPolicy
from collectors.exchanges.okx.history import OkxHistory
from collectors.exchanges.okx.parsing import (
    EXCHANGE,
    INST_TYPES,
    OkxInstrument,
    RequestRejected,
    parse_instruments,
    parse_liquidations,
    subscribe_message,
)
from collectors.feed import Feed
from collectors.metadata import MetadataDocument
from collectors.outbox import Outbox
from collectors.parsing import Parsed
from collectors.record import Coverage


class OkxFeed(Feed):
    """`liquidation-orders` for SWAP and FUTURES on one connection, valued with `ctVal`."""

    feed_id = "okx"
    exchange = EXCHANGE
    # OKX: "This data doesn't represent the total number of liquidations on OKX."
    coverage = Coverage.PARTIAL
    capture_source = "okx-instruments"

    def __init__(
        self,
        url: str,
        rest_url: str,
        policy: ConnectionPolicy | None = None,
        inst_types: tuple[str, ...] = INST_TYPES,
    ) -> None:
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        # OKX closes a connection after 30 s without traffic and ignores protocol pings: send
        # the text "ping" after 20 s of silence and give up when "pong" is not back by 30 s.
        self.policy = policy or ConnectionPolicy(
            app_ping="ping", app_ping_after_idle_s=20.0, idle_timeout_s=30.0
        )
        self.inst_types = inst_types
        self._by_type: dict[str, dict[str, OkxInstrument]] = {}
        self.instruments: dict[str, OkxInstrument] = {}
        # A rejected subscribe is asked for again on the same socket, no sooner than 1 s, 2 s,
        # ... later (jittered, at most 60 s): the pongs keep a socket subscribed to nothing
        # looking healthy, so waiting for a reconnect would wait forever.
        self.outbox = self._outbox = Outbox()
        self.resubscribe_s = 1.0
        self.max_resubscribe_s = 60.0
        self._rejections = 0

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the one subscribe frame covering every instrument type."""
        return [subscribe_message(self.inst_types)]

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return one instruments document per instrument type."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=f"{self.capture_source}/{inst_type}",
                url=f"{self.rest_url}/api/v5/public/instruments",
                params={"instType": inst_type},
                apply=self.apply_instruments,
            )
            for inst_type in self.inst_types
        ]

    def apply_instruments(self, body: str) -> str:
        """Install an instruments body, replacing the tables of the types it lists."""
        instruments, skipped = parse_instruments(body)
        by_type: dict[str, dict[str, OkxInstrument]] = {}
        for inst_id, instrument in instruments.items():
            by_type.setdefault(instrument.inst_type, {})[inst_id] = instrument
        self._by_type.update(by_type)
        merged: dict[str, OkxInstrument] = {}
        for table in self._by_type.values():
            merged.update(table)
        self.instruments = merged
        types = ",".join(sorted(by_type)) or "none"
        return f"{len(instruments)} instruments ({types}), {skipped} rows skipped"

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame; the bare text "pong" answers our ping."""
        if frame in ("pong", b"pong"):
            return Parsed([], control="pong")
        try:
            parsed = parse_liquidations(frame, recv_ms, self.instruments)
        except RequestRejected:
            # Jitter spreads [c/2, c] under the ceiling c: twice the shortest wait keeps that wait.
            backoff = Backoff(initial_s=2 * self.resubscribe_s, max_s=self.max_resubscribe_s)
            delay = backoff.delay(self._rejections)
            self._rejections += 1
            self._outbox.put(0, self.subscribe_messages(), delay_s=delay)
            raise  # still a bad frame: counted and logged
        if parsed.control is not None and parsed.control.startswith("subscribe"):
            self._rejections = 0
        return parsed

    def history(self, http: httpx.AsyncClient) -> OkxHistory:
        """Return OKX's REST liquidation history (about a day back), valued with these tables."""
        return OkxHistory(self, http)
