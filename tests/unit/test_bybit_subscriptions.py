"""Topics spread over connections, chunked subscribe frames, and retries after a rejection."""

from __future__ import annotations

import json
import time

import pytest

from collectors.exchanges.bybit.subscriptions import (
    ARGS_CHARS_PER_CONNECTION,
    TopicSubscriptions,
    topic_of,
)
from collectors.outbox import Outbox


def _topics(count: int, start: int = 0) -> list[str]:
    return [topic_of(f"C{n:03d}USDT") for n in range(start, start + count)]


def _requests(frames: list[str]) -> list[dict[str, object]]:
    return [json.loads(frame) for frame in frames]


def _args(frames: list[str]) -> list[list[str]]:
    return [list(request["args"]) for request in _requests(frames)]  # type: ignore[call-overload]


def _queued(outbox: Outbox, connection: int) -> list[str]:
    frames, _ = outbox.take_due(connection)
    return frames


def _connected(subs: TopicSubscriptions, outbox: Outbox, connection: int = 0) -> list[str]:
    """Do what the runner does when a connection opens: drop its queue, subscribe it all."""
    outbox.clear(connection)
    return subs.subscribe_messages(connection)


def _compact(args: list[str]) -> str:
    return json.dumps(args, separators=(",", ":"))


def test_subscribe_frames_are_chunked_with_unique_req_ids() -> None:
    outbox = Outbox()
    subs = TopicSubscriptions(outbox, name="t", topics_per_frame=3)
    assert subs.update(_topics(7)) == 7
    frames = _connected(subs, outbox)
    requests = _requests(frames)
    assert [r["op"] for r in requests] == ["subscribe"] * 3
    assert _args(frames) == [_topics(3), _topics(3, 3), _topics(1, 6)]
    assert len({r["req_id"] for r in requests}) == 3
    # Every connect subscribes everything again, with new request ids.
    again = _requests(_connected(subs, outbox))
    assert [r["args"] for r in again] == [r["args"] for r in requests]
    assert {r["req_id"] for r in again}.isdisjoint({r["req_id"] for r in requests})


def test_topics_are_sharded_by_the_args_length_of_a_connection() -> None:
    outbox = Outbox()
    topic_chars = len(topic_of("C000USDT")) + 3  # quotes and comma in the args array
    budget = 2 + 10 * topic_chars  # brackets and ten topics
    subs = TopicSubscriptions(outbox, name="t", args_chars_per_connection=budget)
    subs.update(_topics(25))
    assert subs.connections == 3
    assert outbox.connections == 3
    assert [len(subs.topics(c)) for c in range(3)] == [10, 10, 5]
    for connection in range(3):
        args = [a for chunk in _args(_connected(subs, outbox, connection)) for a in chunk]
        assert len(_compact(args)) <= budget
    assert subs.subscribe_messages(3) == []


def test_the_default_budget_keeps_805_symbols_under_the_documented_limit() -> None:
    outbox = Outbox()
    subs = TopicSubscriptions(outbox, name="t")
    symbols = [f"COIN{n:03d}USDT" for n in range(805)]  # 11 characters each
    subs.update(topic_of(s) for s in symbols)
    sizes = []
    for connection in range(subs.connections):
        args = [a for chunk in _args(_connected(subs, outbox, connection)) for a in chunk]
        sizes.append(len(_compact(args)))
    assert subs.connections == 2
    assert max(sizes) <= ARGS_CHARS_PER_CONNECTION < 21_000
    assert sum(sizes) > 21_000  # the reason for the second connection


def test_new_listings_are_queued_for_their_connection_and_delistings_forgotten() -> None:
    outbox = Outbox()
    topic_chars = len(topic_of("C000USDT")) + 3
    subs = TopicSubscriptions(outbox, name="t", args_chars_per_connection=2 + 4 * topic_chars)
    subs.update(_topics(4))
    _connected(subs, outbox)
    # Two delisted, three listed: two fill the room on connection 0, one opens connection 1.
    listed = [*_topics(2, 2), *_topics(3, 10)]
    assert subs.update(listed) == 3
    assert _args(_queued(outbox, 0)) == [_topics(2, 10)]
    assert _args(_queued(outbox, 1)) == [_topics(1, 12)]
    assert outbox.connections == 2
    assert subs.topics(0) == [*_topics(2, 2), *_topics(2, 10)]
    assert subs.update(listed) == 0  # nothing new: nothing queued
    assert outbox.pending(0) == outbox.pending(1) == 0


def _reject(subs: TopicSubscriptions, frame: str, ret_msg: str) -> None:
    subs.on_reply(str(json.loads(frame)["req_id"]), False, ret_msg)


def test_a_rejection_naming_topics_retries_the_rest_of_the_chunk_later() -> None:
    outbox = Outbox()
    subs = TopicSubscriptions(outbox, name="t", topics_per_frame=4, retry_s=30)
    subs.update(_topics(4))
    [frame] = _connected(subs, outbox)
    _reject(subs, frame, "Invalid symbol :[allLiquidation.C001USDT]")
    assert outbox.take_due(0)[0] == []  # not at once: no tight loop
    assert outbox.pending(0) == 1
    _, due = outbox.take_due(0)
    assert due is not None
    [retry] = outbox._frames[0]  # the queued frame itself
    assert json.loads(retry[1])["args"] == [_topics(4)[0], *_topics(4)[2:]]
    assert subs.given_up == 1


@pytest.mark.parametrize(
    "ret_msg",
    ["error:handler not found,topic:allLiquidation.C002USDT", "Invalid symbol :[C002USDT]"],
)
def test_error_messages_name_topics_by_topic_or_by_symbol(ret_msg: str) -> None:
    outbox = Outbox()
    subs = TopicSubscriptions(outbox, name="t", retry_s=0)
    subs.update(_topics(3))
    [frame] = _connected(subs, outbox)
    _reject(subs, frame, ret_msg)
    assert _args(_queued(outbox, 0)) == [[_topics(3)[0], _topics(3)[1]]]


def test_a_rejection_naming_nothing_is_bisected_down_to_the_bad_topic() -> None:
    outbox = Outbox()
    subs = TopicSubscriptions(outbox, name="t", retry_s=0, max_attempts=2)
    topics = _topics(4)
    subs.update(topics)
    bad = topics[2]
    frames = _connected(subs, outbox)
    accepted: list[str] = []
    for _ in range(10):  # the exchange answers every frame; bounded, never a loop
        if not frames:
            break
        queued: list[str] = []
        for frame in frames:
            request = json.loads(frame)
            if bad in request["args"]:
                subs.on_reply(request["req_id"], False, "too many things")
            else:
                subs.on_reply(request["req_id"], True, "")
                accepted += request["args"]
            queued += _queued(outbox, 0)
        frames = queued
    assert frames == []
    assert sorted(accepted) == sorted(t for t in topics if t != bad)
    assert subs.given_up == 1


def test_replies_to_an_earlier_socket_or_to_others_are_ignored() -> None:
    outbox = Outbox()
    subs = TopicSubscriptions(outbox, name="t", retry_s=0)
    subs.update(_topics(2))
    [old] = _connected(subs, outbox)
    _connected(subs, outbox)  # reconnected: the old request will not be answered here
    _reject(subs, old, "Invalid symbol :[allLiquidation.C000USDT]")
    subs.on_reply("ping", True, "pong")
    subs.on_reply("nobody", False, "x")
    assert outbox.pending(0) == 0
    assert subs.given_up == 0


def test_a_rejected_chunk_waits_no_sooner_than_retry_s_times_2_to_the_attempt() -> None:
    outbox = Outbox()
    subs = TopicSubscriptions(outbox, name="t", retry_s=1, max_retry_s=6, max_attempts=10)
    subs.update(_topics(1))
    [frame] = _connected(subs, outbox)
    for attempt in range(5):
        before = time.monotonic()
        _reject(subs, frame, "too many things")  # names nothing: the one topic again
        after = time.monotonic()
        [(due, frame)] = outbox._frames[0]
        outbox.clear(0)
        # Jittered in [c/2, c] under the ceiling c = min(6, 2 * 2**attempt).
        ceiling = min(6.0, 2.0 * 2**attempt)
        assert ceiling / 2 <= due - before
        assert due - after <= ceiling
    assert subs.given_up == 0
