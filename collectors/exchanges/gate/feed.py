"""The Gate feeds: `futures.public_liquidates` with `!all`, one socket per settle currency."""

from __future__ import annotations

import json

from collectors.clock import now_ms
from collectors.connection import ConnectionPolicy
from collectors.exchanges.gate.parsing import (
    CHANNEL,
    EXCHANGE,
    SETTLES,
    GateContract,
    parse_contracts,
    parse_frame,
)
from collectors.feed import Feed
from collectors.metadata import MetadataDocument
from collectors.parsing import Parsed
from collectors.record import Coverage

# Without it `size` is an integer and fractional sizes are truncated (-124.5 arrives as -124).
SIZE_DECIMAL_HEADER = {"X-Gate-Size-Decimal": "1"}


def gate_policy() -> ConnectionPolicy:
    """Return Gate's connection timings."""
    # Gate answers protocol pings and pings us; the websockets client answers its pings. A
    # socket that hears nothing (not even a pong) for a minute is dead: reconnect.
    return ConnectionPolicy(idle_timeout_s=60.0)


class GateFeed(Feed):
    """`futures.public_liquidates` for every contract (`!all`) of one settle currency.

    Feed ids `gate-usdt` (qty = |size| x quanto_multiplier) and `gate-btc` (1 USD per contract).
    """

    exchange = EXCHANGE
    # Gate's doc: every liquidation of the aggregation window since 2026-08-20.
    coverage = Coverage.COMPLETE
    headers = SIZE_DECIMAL_HEADER

    def __init__(
        self, settle: str, url: str, rest_url: str, policy: ConnectionPolicy | None = None
    ) -> None:
        if settle not in SETTLES:
            raise ValueError(f"unknown Gate settle currency {settle!r}")
        self.settle = settle
        self.feed_id = f"gate-{settle}"
        self.capture_source = f"gate-contracts-{settle}"
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.policy = policy or gate_policy()
        self.contracts: dict[str, GateContract] = {}

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the one subscribe frame for every contract."""
        now_s = now_ms() // 1000
        frame = {"time": now_s, "channel": CHANNEL, "event": "subscribe", "payload": ["!all"]}
        return [json.dumps(frame, separators=(",", ":"))]

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the contract list of this settle currency."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=self.capture_source,
                url=f"{self.rest_url}/api/v4/futures/{self.settle}/contracts",
                params={},
                apply=self.apply_contracts,
            )
        ]

    def apply_contracts(self, body: str) -> str:
        """Install a contract list; raise FrameError if it is unusable."""
        self.contracts = parse_contracts(body, self.settle)
        return f"{len(self.contracts)} contracts"

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame."""
        return parse_frame(frame, recv_ms, self.settle, self.contracts)
