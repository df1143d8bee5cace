"""The rule index against brute force, and each filter of a rule."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.prefs.schedules import Schedule
from bot.rules.matching import Rule, RuleIndex
from collectors.record import Liquidation, Side

ASSETS = ["BTC", "ETH", "SOL"]
EXCHANGES = ["binance", "okx", "bybit"]


def event(base: str, usd: float, side: Side = Side.LONG, exchange: str = "okx") -> Liquidation:
    return Liquidation(exchange, "swap", f"{base}-X", base, side, usd, 1.0, usd, 0, 0)


rules_strategy = st.lists(
    st.builds(
        Rule,
        rule_id=st.integers(0, 10_000),
        chat_id=st.integers(-5, 5),
        assets=st.frozensets(st.sampled_from(ASSETS), max_size=2),
        min_usd=st.sampled_from([0.0, 10.0, 1_000.0, 50_000.0]),
        side=st.sampled_from([None, Side.LONG, Side.SHORT]),
        exchanges=st.frozensets(st.sampled_from(EXCHANGES), max_size=2),
    ),
    max_size=40,
    unique_by=lambda r: (r.chat_id, r.rule_id),
)


@settings(max_examples=300, deadline=None)
@given(
    rules_strategy,
    st.sampled_from([*ASSETS, "DOGE"]),
    st.sampled_from([5.0, 10.0, 999.0, 1_000.0, 60_000.0]),
    st.sampled_from(list(Side)),
    st.sampled_from(EXCHANGES),
    st.data(),
)
def test_match_equals_brute_force(
    rules: list[Rule], base: str, usd: float, side: Side, exchange: str, data: st.DataObject
) -> None:
    index = RuleIndex(rules)
    removed = data.draw(st.lists(st.sampled_from(rules), unique=True)) if rules else []
    for rule in removed:
        index.remove(rule)
    live = [r for r in rules if r not in removed]
    record = event(base, usd, side, exchange)
    matched = index.match(record)
    assert set(matched) == {(r.chat_id, None) for r in live if r.matches(record)}
    assert all(
        rule.matches(record) and (rule.chat_id, rule.topic) == destination
        for destination, rule in matched.items()
    )
    assert len(index) == len(live)


def test_filters_and_chat_bookkeeping() -> None:
    everything = Rule(1, 10, frozenset(), 100_000.0)
    btc_shorts_okx = Rule(2, 10, frozenset({"BTC"}), 50_000.0, Side.SHORT, frozenset({"okx"}))
    small_eth = Rule(3, -20, frozenset({"ETH", "BTC"}), 0.0)
    index = RuleIndex([everything, btc_shorts_okx, small_eth])
    assert index.match(event("BTC", 60_000.0, Side.SHORT, "okx")) == {
        (10, None): btc_shorts_okx,
        (-20, None): small_eth,
    }
    assert index.match(event("BTC", 60_000.0, Side.LONG, "okx")) == {(-20, None): small_eth}
    assert index.match(event("SOL", 150_000.0)) == {(10, None): everything}
    assert index.match(event("SOL", 99_999.0)) == {}
    assert index.rules_for(10) == [everything, btc_shorts_okx]
    assert index.chats() == [-20, 10]
    assert index.drop_chat(10) == [everything, btc_shorts_okx]
    assert index.match(event("SOL", 150_000.0)) == {}
    assert len(index) == 1


def test_schedule_period() -> None:
    assert Schedule(1, every_s=900).period_s == 900
    assert Schedule(1, daily_minute=8 * 60).period_s == 86_400
