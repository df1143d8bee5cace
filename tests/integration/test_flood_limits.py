"""The fake Bot API's flood model: leaky buckets at Telegram's published rates, exact waits."""

from __future__ import annotations

from tests.support.flood import FloodControl, FloodLimits

GROUP = -1001000000001


def test_a_group_takes_twenty_at_once_then_one_every_three_seconds() -> None:
    flood = FloodControl(FloodLimits())
    for _ in range(20):
        assert flood.retry_after("sendMessage", GROUP, now=0.0) is None
        flood.accept("sendMessage", GROUP, now=0.0)

    assert flood.retry_after("sendMessage", GROUP, now=0.0) == 3
    assert flood.retry_after("sendMessage", GROUP, now=2.0) == 1
    assert flood.retry_after("sendMessage", GROUP - 1, now=2.0) is None  # another group
    assert flood.retry_after("sendMessage", GROUP, now=2.96) is None


def test_thirty_per_second_overall_and_no_private_limit_unless_set() -> None:
    flood = FloodControl(FloodLimits(grace_s=0.0))
    for user in range(1, 31):
        flood.accept("sendMessage", user, now=0.0)

    assert flood.retry_after("sendMessage", 31, now=0.0) == 1
    assert flood.retry_after("sendMessage", 1, now=0.5) is None  # half drained, no chat limit


def test_an_optional_private_limit_and_uncounted_methods() -> None:
    flood = FloodControl(FloodLimits(private_rate=1, private_period_s=1.0, grace_s=0.0))
    flood.accept("sendMessage", 7, now=0.0)
    flood.accept("editMessageText", 7, now=0.0)

    assert flood.retry_after("sendPhoto", 7, now=0.5) == 1
    assert flood.retry_after("sendPhoto", 7, now=1.0) is None
    assert flood.retry_after("editMessageText", 7, now=0.0) is None


def test_the_default_grace_forgives_fifty_ms_of_jitter_and_no_more() -> None:
    flood = FloodControl(FloodLimits())  # 30/s overall: 50 ms is 1.5 messages
    for user in range(1, 32):
        assert flood.retry_after("sendMessage", user, now=0.0) is None
        flood.accept("sendMessage", user, now=0.0)

    assert flood.retry_after("sendMessage", 32, now=0.0) == 1
