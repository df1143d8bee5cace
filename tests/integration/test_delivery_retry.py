"""Delivery retries wait the one jittered backoff (collectors.backoff), not a hand-made 2**n."""

from __future__ import annotations

from pathlib import Path

from bot.delivery.outcome import DELIVERY_BACKOFF
from bot.render import alerts
from bot.rules.cascade import CascadeRule
from tests.integration.test_cascade_notifier import GROUP, T0, event, rig
from tests.integration.test_dispatcher import CHAT, dispatching, record
from tests.support.bot_api import FakeBotApi


async def test_an_alert_is_retried_within_the_first_backoff_step() -> None:
    async with FakeBotApi() as api, dispatching(api) as (dispatcher, _):
        api.add_private_chat(CHAT)
        api.fail_next_raw("sendMessage", 502)
        alert = record(50_000.0)
        dispatcher.enqueue_alert(CHAT, alert)
        refused, sent = await api.wait_for("sendMessage", count=2, timeout=10)
        assert (refused.status, sent.status) == (502, 200)
        assert sent.params["text"] == alerts.alert(alert)
        # The first retry waits 0.5-1 s (the old formula waited 2 s).
        waited = sent.at - refused.at
        assert DELIVERY_BACKOFF.delay(0, rand=0.0) <= waited < 2.0


async def test_a_cascade_post_is_retried_after_the_jittered_backoff(tmp_path: Path) -> None:
    async with rig(tmp_path, [CascadeRule(GROUP, 1, "A", 60_000, min_usd=100.0)]) as r:
        n = r.notifier
        r.api.fail_next_raw("sendMessage", 502, chat_id=GROUP, times=2)
        n.on_liquidation(event("A", 150.0, T0))
        waits = []
        for attempt in range(2):
            await n.flush()
            [post] = n._posts.values()
            waits.append(post.next_at - r.clock.now)
            low, high = DELIVERY_BACKOFF.delay(attempt, 0.0), DELIVERY_BACKOFF.delay(attempt, 1.0)
            assert low <= waits[-1] <= high, attempt
            r.clock.now += n.group_gap_s + high  # past the wait
        await n.flush()
        assert [c.status for c in r.api.calls_to("sendMessage", chat_id=GROUP)] == [502, 502, 200]
        assert n.stats.messages_sent == 1
