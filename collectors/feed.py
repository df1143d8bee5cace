"""Describe one exchange feed: where to connect, how to keep it alive, how to parse it."""

from __future__ import annotations

import abc
import random
from dataclasses import dataclass, field

from collectors.metadata import MetadataDocument
from collectors.parsing import Parsed
from collectors.record import Coverage


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: delay n lies in [c/2, c], c = min(max, initial*2^n).

    The first retry comes within `initial_s` (1 s); a connection that stayed up for
    `healthy_after_s` resets the attempt count, so a short-lived connection keeps backing off.
    """

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    healthy_after_s: float = 60.0

    def delay(self, attempt: int, rand: float | None = None) -> float:
        """Return the delay before retry number `attempt` (0-based)."""
        ceiling = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        jitter = random.random() if rand is None else rand  # noqa: S311 - jitter, not crypto
        return ceiling / 2 + jitter * ceiling / 2


@dataclass(frozen=True, slots=True)
class ConnectionPolicy:
    """Timings of one feed's connection: keepalive, watchdog, rotation and backoff."""

    open_timeout_s: float = 10.0
    close_timeout_s: float = 5.0
    # WebSocket protocol pings sent by the client (websockets closes the socket without a pong).
    protocol_ping_interval_s: float | None = 20.0
    protocol_ping_timeout_s: float | None = 20.0
    # Application-level ping: a text frame some exchanges require (OKX "ping").
    app_ping: str | None = None
    app_ping_after_idle_s: float = 20.0  # send it after this long without any frame
    # Watchdog: reconnect when no frame at all (pong included) arrived for this long.
    idle_timeout_s: float | None = None
    # Watchdog: reconnect (and warn) when no liquidation arrived for this long.
    data_silence_s: float | None = None
    # Planned reconnect before the exchange's own cut, opening the new socket first.
    max_age_s: float | None = None
    rotation_overlap_s: float = 2.0
    max_frame_bytes: int = 1 << 20
    backoff: Backoff = field(default_factory=Backoff)


class Feed(abc.ABC):
    """One WebSocket feed of one exchange."""

    feed_id: str  # "binance-usdm", "binance-coinm", "okx"
    exchange: str
    coverage: Coverage
    url: str
    policy: ConnectionPolicy

    def subscribe_messages(self) -> list[str]:
        """Return the frames to send after every connect (empty when the URL subscribes)."""
        return []

    def metadata_documents(self) -> list[MetadataDocument]:
        """Return the REST documents the parser needs (empty when it needs none)."""
        return []

    @abc.abstractmethod
    def parse(self, frame: str | bytes, recv_ms: int) -> Parsed:
        """Parse one frame; raise FrameError when it cannot be decoded."""
