"""Spread Bybit's per-symbol topics over connections and subscribe them in acknowledged chunks.

Bybit has no all-symbols topic: every symbol is its own `allLiquidation.{symbol}` topic, and one
public connection accepts an `args` array of at most 21,000 characters. Topics are subscribed in
chunks, spread over as many connections as that limit requires; a rejected chunk is retried
without the topics the error names (or split in two), and new listings are subscribed on the
live sockets.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from collectors.backoff import Backoff
from collectors.exchanges.bybit.parsing import TOPIC_PREFIX
from collectors.outbox import Outbox
from collectors.parsing import truncate

log = logging.getLogger(__name__)

# Bybit: "for one public connection, you cannot have length of 'args' array over 21,000
# characters". Fill a connection to about three quarters of that, leaving room for listings.
ARGS_CHARS_PER_CONNECTION = 16_000
# 200 topics per frame worked live for 805 symbols; another client sends 50. Stay between.
TOPICS_PER_FRAME = 100


def topic_of(symbol: str) -> str:
    """Return the `allLiquidation` topic of a symbol."""
    return TOPIC_PREFIX + symbol


def _args_chars(topic: str) -> int:
    return len(topic) + 3  # its quotes and a comma in the JSON `args` array


_EMPTY_ARGS_CHARS = 2  # the brackets of the array


_TOKENS = re.compile(r"[A-Za-z0-9_.\-]+")


def _named(ret_msg: str, topics: Iterable[str]) -> set[str]:
    """Return the topics an error message names, by topic or by bare symbol."""
    tokens = set(_TOKENS.findall(ret_msg))
    return {t for t in topics if t in tokens or t.removeprefix(TOPIC_PREFIX) in tokens}


@dataclass(frozen=True, slots=True)
class _Chunk:
    connection: int
    topics: tuple[str, ...]
    attempt: int


class TopicSubscriptions:
    """Spread per-symbol topics over connections and subscribe them in acknowledged chunks.

    Topics stay on the connection they were given (moving one would need an unsubscribe). A new
    topic goes to the first connection with room under `args_chars_per_connection`, else to a
    new connection. Each subscribe frame carries a `req_id`; a rejected one is retried after a
    growing, jittered delay (`collectors.backoff`), without the topics its error names, or split
    in two when it names none; a single topic is given up after `max_attempts` until the next
    connect.
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        name: str,
        topics_per_frame: int = TOPICS_PER_FRAME,
        args_chars_per_connection: int = ARGS_CHARS_PER_CONNECTION,
        retry_s: float = 1.0,
        max_retry_s: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self._outbox = outbox
        self._name = name
        self._topics_per_frame = topics_per_frame
        self._budget = args_chars_per_connection
        # Jitter spreads [c/2, c] under the ceiling c: twice the shortest wait keeps that wait,
        # so a chunk is retried no sooner than retry_s * 2**attempt (until the cap).
        self._retry = Backoff(initial_s=2 * retry_s, max_s=max_retry_s)
        self._max_attempts = max_attempts
        self._topics: list[list[str]] = []  # per connection, in subscription order
        self._chars: list[int] = []  # args characters per connection
        self._where: dict[str, int] = {}
        self._pending: dict[str, _Chunk] = {}  # req_id -> chunk awaiting its reply
        self._ids = itertools.count(1)
        self.given_up = 0  # topics dropped after rejections (until the next connect)

    @property
    def connections(self) -> int:
        """Return how many connections the topics need (at least one)."""
        return max(1, len(self._topics))

    def topics(self, connection: int) -> list[str]:
        """Return the topics of one connection."""
        return list(self._topics[connection]) if connection < len(self._topics) else []

    def update(self, topics: Iterable[str]) -> int:
        """Make these the wanted topics; queue the new ones for live sockets; return their count.

        Topics no longer wanted are forgotten: not unsubscribed now, not resubscribed after the
        next connect.
        """
        wanted = dict.fromkeys(topics)
        gone = [topic for topic in self._where if topic not in wanted]
        for topic in gone:
            del self._where[topic]
        if gone:
            for connection, listed in enumerate(self._topics):
                self._topics[connection] = [t for t in listed if t in self._where]
                chars = sum(_args_chars(t) for t in self._topics[connection])
                self._chars[connection] = _EMPTY_ARGS_CHARS + chars
        added: dict[int, list[str]] = {}
        for topic in wanted:
            if topic in self._where:
                continue
            connection = self._place(topic)
            added.setdefault(connection, []).append(topic)
        for connection, new in added.items():
            self._outbox.put(connection, self._frames(connection, new, attempt=0))
        self._outbox.want_connections(self.connections)
        return sum(len(new) for new in added.values())

    def _place(self, topic: str) -> int:
        size = _args_chars(topic)
        roomy = (c for c, used in enumerate(self._chars) if used + size <= self._budget)
        connection = next(roomy, None)
        if connection is None:
            connection = len(self._topics)
            self._topics.append([])
            self._chars.append(_EMPTY_ARGS_CHARS)
        self._topics[connection].append(topic)
        self._chars[connection] += size
        self._where[topic] = connection
        return connection

    def subscribe_messages(self, connection: int) -> list[str]:
        """Return the chunked subscribe frames for every topic of a connection that just opened."""
        for req_id in [r for r, chunk in self._pending.items() if chunk.connection == connection]:
            del self._pending[req_id]  # replies to the previous socket will not come
        return self._frames(connection, self.topics(connection), attempt=0)

    def _frames(self, connection: int, topics: list[str], *, attempt: int) -> list[str]:
        frames = []
        step = self._topics_per_frame
        for start in range(0, len(topics), step):
            chunk = tuple(topics[start : start + step])
            req_id = f"{connection}.{next(self._ids)}"
            self._pending[req_id] = _Chunk(connection, chunk, attempt)
            frames.append(
                msgspec.json.encode({"req_id": req_id, "op": "subscribe", "args": chunk}).decode()
            )
        return frames

    def on_reply(self, req_id: str, success: bool, ret_msg: str) -> None:
        """Take the reply to a subscribe frame; queue what to retry after a rejection."""
        chunk = self._pending.pop(req_id, None)
        if chunk is None or success:
            return  # ours and accepted, or a reply to an earlier socket
        topics = [t for t in chunk.topics if self._where.get(t) == chunk.connection]
        named = _named(ret_msg, topics)
        rest = [t for t in topics if t not in named]
        retry: list[list[str]]
        if named:
            retry = [rest] if rest else []
        elif len(rest) > 1:
            half = len(rest) // 2
            retry = [rest[:half], rest[half:]]
        elif rest and chunk.attempt + 1 < self._max_attempts:
            retry = [rest]
        else:
            named = set(rest)
            retry = []
        self.given_up += len(named)
        delay = self._retry.delay(chunk.attempt)
        log.warning(
            "%s: subscribe %s (%d topics, connection %d) rejected: %s; giving up %s, "
            "retrying %d topics in %d frame(s) in %.0fs",
            self._name,
            req_id,
            len(chunk.topics),
            chunk.connection,
            truncate(ret_msg),  # Bybit's text: keep the warning one short line
            sorted(named) or "none",
            sum(len(part) for part in retry),
            len(retry),
            delay,
        )
        for part in retry:
            frames = self._frames(chunk.connection, part, attempt=chunk.attempt + 1)
            self._outbox.put(chunk.connection, frames, delay_s=delay)
