"""The HTX feeds: USDT-M swaps, coin-M swaps and coin-M futures, gzip frames, ping echo."""

from __future__ import annotations

from collectors.connection import ConnectionPolicy
from collectors.exchanges.htx.parsing import EXCHANGE, MARKETS, parse_contract_info, parse_frame
from collectors.feed import Feed
from collectors.metadata import MetadataDocument
from collectors.parsing import Parsed
from collectors.record import Coverage

SUBSCRIBE = '{"op":"sub","cid":"liquidations","topic":"public.*.liquidation_orders"}'


# Market -> the REST path of its contract list.
_CONTRACTS_PATHS = {
    "linear": "/linear-swap-api/v1/swap_contract_info",
    "swap": "/swap-api/v1/swap_contract_info",
    "futures": "/api/v1/contract_contract_info",
}


def htx_policy() -> ConnectionPolicy:
    """Return HTX's connection timings."""
    # The server pings every 5 s (answered by the parser's reply); five missed pongs end the
    # socket. Without a single frame for 30 s the socket is dead: reconnect.
    return ConnectionPolicy(idle_timeout_s=30.0)


class HtxFeed(Feed):
    """`public.*.liquidation_orders` on one of HTX's notification sockets.

    Feed ids `htx-linear` (USD = trade_turnover), `htx-swap` and `htx-futures` (USD = volume x
    contract_size). `symbol` of a record is the row's `contract_code`.
    """

    exchange = EXCHANGE
    # HTX does not document whether every liquidation is pushed.
    coverage = Coverage.UNKNOWN
    gzip_frames = True

    def __init__(
        self, market: str, url: str, rest_url: str, policy: ConnectionPolicy | None = None
    ) -> None:
        if market not in MARKETS:
            raise ValueError(f"unknown HTX market {market!r}")
        self.market = market
        self.feed_id = f"htx-{market}"
        self.capture_source = f"htx-{market}-contracts"
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.policy = policy or htx_policy()
        self.contract_sizes: dict[str, float] = {}

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the wildcard subscribe frame."""
        return [SUBSCRIBE]

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the contract list of this market."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=self.capture_source,
                url=f"{self.rest_url}{_CONTRACTS_PATHS[self.market]}",
                params={},
                apply=self.apply_contract_info,
            )
        ]

    def apply_contract_info(self, body: str) -> str:
        """Install a contract list; raise FrameError if it is unusable."""
        self.contract_sizes = parse_contract_info(body)
        return f"{len(self.contract_sizes)} contract sizes"

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one inflated frame."""
        return parse_frame(frame, recv_ms, self.market, self.contract_sizes)
