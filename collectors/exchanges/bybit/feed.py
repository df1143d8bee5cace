"""The Bybit feeds: `allLiquidation.{symbol}` for every trading contract of one category."""

from __future__ import annotations

from collectors.connection import ConnectionPolicy
from collectors.exchanges.bybit.parsing import (
    CAPTURE_SOURCE,
    CATEGORIES,
    EXCHANGE,
    BybitInstrument,
    decode_frame,
    frame_records,
    next_page_params,
    parse_instruments,
)
from collectors.exchanges.bybit.subscriptions import (
    ARGS_CHARS_PER_CONNECTION,
    TOPICS_PER_FRAME,
    TopicSubscriptions,
    topic_of,
)
from collectors.feed import Feed
from collectors.metadata import MetadataDocument
from collectors.outbox import Outbox
from collectors.parsing import Parsed
from collectors.record import Coverage


def bybit_policy() -> ConnectionPolicy:
    """Return Bybit's connection timings."""
    # Bybit: send {"op":"ping"} every 20 s; without ping-pong or data it cuts after 10 minutes.
    # Reconnect when neither data nor a pong came for two intervals and a bit. No data-silence
    # watchdog: a quiet market sends no liquidation for minutes. Subscribe frames are paced
    # because a burst can get the connection dropped.
    return ConnectionPolicy(
        app_ping='{"req_id":"ping","op":"ping"}',
        app_ping_every_s=20.0,
        idle_timeout_s=45.0,
        send_interval_s=0.2,
    )


class BybitFeed(Feed):
    """`allLiquidation.{symbol}` for every trading contract of one category.

    `linear`: USDT and USDC perpetuals and futures, `v` in base coin. `inverse`: inverse
    perpetuals and futures, `v` in 1-USD contracts. Feed ids `bybit-linear`, `bybit-inverse`.
    """

    exchange = EXCHANGE
    # Bybit: "push all liquidations that occur on Bybit".
    coverage = Coverage.COMPLETE
    capture_source = CAPTURE_SOURCE

    def __init__(
        self,
        category: str,
        url: str,
        rest_url: str,
        policy: ConnectionPolicy | None = None,
        *,
        topics_per_frame: int = TOPICS_PER_FRAME,
        args_chars_per_connection: int = ARGS_CHARS_PER_CONNECTION,
        retry_s: float = 1.0,
    ) -> None:
        if category not in CATEGORIES:
            raise ValueError(f"unknown Bybit category {category!r}")
        self.category = category
        self.feed_id = f"bybit-{category}"
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.policy = policy or bybit_policy()
        self.outbox = outbox = Outbox()
        self.subscriptions = TopicSubscriptions(
            outbox,
            name=self.feed_id,
            topics_per_frame=topics_per_frame,
            args_chars_per_connection=args_chars_per_connection,
            retry_s=retry_s,
        )
        self.instruments: dict[str, BybitInstrument] = {}

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the chunked subscribe frames for the topics of this connection."""
        return self.subscriptions.subscribe_messages(connection)

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the paginated instruments-info document of this category."""
        return [
            MetadataDocument(
                capture_source=self.capture_source,
                cache_key=f"{self.capture_source}/{self.category}",
                url=f"{self.rest_url}/v5/market/instruments-info",
                params={"category": self.category, "limit": "1000"},
                apply=self.apply_instruments,
                next_page=next_page_params,
            )
        ]

    def apply_instruments(self, body: str) -> str:
        """Install instruments-info pages, subscribe new listings; raise FrameError if unusable."""
        instruments, skipped = parse_instruments(body, self.category)
        self.instruments = instruments
        new = self.subscriptions.update(topic_of(symbol) for symbol in instruments)
        return (
            f"{len(instruments)} instruments, {skipped} rows skipped, {new} new topics, "
            f"{self.subscriptions.connections} connection(s)"
        )

    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame; a subscribe reply also settles its chunk (a rejection is retried)."""
        decoded = decode_frame(frame)
        if decoded.op == "subscribe" and decoded.success is not None:
            self.subscriptions.on_reply(decoded.req_id, decoded.success, decoded.ret_msg)
        return frame_records(decoded, recv_ms, self.instruments)
