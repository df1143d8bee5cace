"""Describe one exchange feed: where to connect, how to keep it alive, how to parse it."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from collectors.metadata import MetadataDocument
from collectors.outbox import Outbox
from collectors.parsing import Parsed
from collectors.record import Coverage, HistorySource

if TYPE_CHECKING:
    import httpx

    # The connection module runs feeds; a feed only names the timings it wants.
    from collectors.connection import ConnectionPolicy


class Feed(abc.ABC):
    """One WebSocket feed of one exchange."""

    feed_id: str  # "binance-usdm", "binance-coinm", "okx"
    exchange: str
    coverage: Coverage
    url: str
    policy: ConnectionPolicy
    # Set by feeds that send frames after connecting or spread topics over several connections.
    outbox: Outbox | None = None
    # Headers of the WebSocket handshake (Gate: X-Gate-Size-Decimal).
    headers: dict[str, str] | None = None
    # Binary frames are gzip-compressed (HTX): inflated before capture and parsing.
    gzip_frames: bool = False

    def subscribe_messages(self, connection: int = 0) -> list[str]:
        """Return the frames to send after every connect (empty when the URL subscribes)."""
        return []

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the REST documents the parser needs (empty when it needs none)."""
        return []

    @abc.abstractmethod
    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame; raise FrameError when it cannot be decoded."""

    def history(self, http: httpx.AsyncClient) -> HistorySource | None:
        """Return the REST history that can fill this feed's gaps, or None if it keeps none."""
        return None
