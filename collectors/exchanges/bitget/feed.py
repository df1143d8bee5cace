"""The Bitget feed: UTA `liquidation` for every futures product line on one socket."""

from __future__ import annotations

import json

from collectors.connection import ConnectionPolicy
from collectors.exchanges.bitget.parsing import EXCHANGE, INST_TYPES, parse_frame
from collectors.feed import Feed
from collectors.parsing import Parsed
from collectors.record import Coverage

# Bitget forces a reconnect every 24 h; rotate ten minutes earlier, new socket first.
_MAX_AGE_S = 23 * 3600 + 50 * 60


def bitget_policy() -> ConnectionPolicy:
    """Return Bitget's connection timings."""
    # Bitget: text `ping` every 30 s (answered `pong`); it cuts a socket idle for 2 minutes.
    return ConnectionPolicy(
        app_ping="ping", app_ping_every_s=25.0, idle_timeout_s=70.0, max_age_s=_MAX_AGE_S
    )


class BitgetFeed(Feed):
    """UTA `liquidation` of the USDT, USDC and coin-margined futures lines (feed id `bitget`).

    UNVERIFIED: `amount` is taken as the quote USD notional (see the parser).
    """

    feed_id = "bitget"
    exchange = EXCHANGE
    # Bitget's doc: per second, only the largest liquidation per side per pair is pushed.
    coverage = Coverage.THROTTLED

    def __init__(self, url: str, policy: ConnectionPolicy | None = None) -> None:
        self.url = url
        self.policy = policy or bitget_policy()

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the one subscribe frame for every product line."""
        args = [{"instType": inst_type, "topic": "liquidation"} for inst_type in INST_TYPES]
        return [json.dumps({"op": "subscribe", "args": args}, separators=(",", ":"))]

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame."""
        return parse_frame(frame, recv_ms)
