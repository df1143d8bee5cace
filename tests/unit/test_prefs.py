"""Chat preferences: languages, zones, quiet hours across midnight and DST, storage."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest

from bot.handlers.keyboards import Press, parse_press, remove_buttons, window_buttons
from bot.prefs.chats import ChatPrefs, ChatSettings, QuietHours, find_zone, supported_language, zone
from bot.tables.bot_store import BotStore
from bot.texts.catalog import Locale
from bot.texts.formatting import format_offset, format_time, zone_name

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at(tz: dt.tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=tz).timestamp() * 1000)


@pytest.mark.parametrize(
    ("code", "lang"),
    [("en", "en"), ("en-GB", "en"), ("zh-hans", "zh"), ("zh_TW", "zh"), ("ZH", "zh"),
     ("de", None), ("", None), (None, None)],
)  # fmt: skip
def test_supported_language(code: str | None, lang: str | None) -> None:
    assert supported_language(code) == lang


@pytest.mark.parametrize(
    ("typed", "name"),
    [("Asia/Shanghai", "Asia/Shanghai"), ("asia/shanghai", "Asia/Shanghai"),
     ("AMERICA/NEW_YORK", "America/New_York"), ("utc", "UTC"), ("Mars/Olympus", None),
     ("../../etc/passwd", None), ("", None)],
)  # fmt: skip
def test_find_zone(typed: str, name: str | None) -> None:
    assert find_zone(typed) == name


def test_zone_falls_back_to_utc() -> None:
    assert zone(None) is dt.UTC
    assert zone("UTC") is dt.UTC
    assert zone("Nowhere/Gone") is dt.UTC  # a name a newer tzdata dropped
    assert zone("Asia/Shanghai") == SHANGHAI


def test_times_carry_the_zone_offset() -> None:
    moment = at(dt.UTC, 2026, 10, 9, 17, 6) + 42_000
    assert format_time(moment, dt.UTC) == "2026-10-09 17:06:42 UTC"
    assert format_time(moment, SHANGHAI) == "2026-10-10 01:06:42 UTC+8"
    assert format_time(moment, zoneinfo.ZoneInfo("Asia/Kathmandu"), with_date=False) == (
        "22:51:42 UTC+5:45"
    )
    assert format_offset(dt.timedelta(hours=-3, minutes=-30)) == "UTC-3:30"
    assert zone_name(dt.UTC) == "UTC"
    assert zone_name(BERLIN) == "Europe/Berlin"


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours(23 * 60, 7 * 60)
    assert quiet.label() == "23:00-07:00"
    assert quiet.until_ms(at(SHANGHAI, 2026, 11, 23, 22, 59), SHANGHAI) is None
    assert quiet.until_ms(at(SHANGHAI, 2026, 11, 23, 23, 0), SHANGHAI) == at(
        SHANGHAI, 2026, 11, 24, 7, 0
    )
    assert quiet.until_ms(at(SHANGHAI, 2026, 11, 24, 3, 0), SHANGHAI) == at(
        SHANGHAI, 2026, 11, 24, 7, 0
    )
    assert quiet.until_ms(at(SHANGHAI, 2026, 11, 24, 7, 0), SHANGHAI) is None


def test_quiet_hours_within_a_day() -> None:
    quiet = QuietHours(1 * 60 + 30, 5 * 60)
    assert quiet.until_ms(at(dt.UTC, 2026, 1, 1, 1, 29), dt.UTC) is None
    assert quiet.until_ms(at(dt.UTC, 2026, 1, 1, 2, 0), dt.UTC) == at(dt.UTC, 2026, 1, 1, 5, 0)
    assert quiet.until_ms(at(dt.UTC, 2026, 1, 1, 5, 0), dt.UTC) is None


def test_quiet_hours_follow_the_local_clock_over_a_dst_change() -> None:
    # Berlin moves from UTC+2 to UTC+1 on 2026-10-25 at 03:00: the night is an hour longer.
    quiet = QuietHours(23 * 60, 7 * 60)
    start = at(BERLIN, 2026, 10, 24, 23, 30)
    until = quiet.until_ms(start, BERLIN)
    assert until == at(BERLIN, 2026, 10, 25, 7, 0)
    assert until is not None
    assert (until - start) / 3_600_000 == 8.5
    # Spring forward (2026-03-29 02:00 -> 03:00): quiet until 02:30 ends at 03:30 local time.
    spring = QuietHours(0, 2 * 60 + 30)
    until = spring.until_ms(at(BERLIN, 2026, 3, 29, 1, 0), BERLIN)
    assert until is not None
    assert format_time(until, BERLIN) == "2026-03-29 03:30:00 UTC+2"


@pytest.mark.parametrize(("start", "end"), [(0, 0), (-1, 10), (10, 1440)])
def test_quiet_hours_reject_impossible_spans(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="quiet hours"):
        QuietHours(start, end)


def test_chat_prefs_pick_language_and_zone() -> None:
    assert ChatPrefs(1).locale() == Locale("en", dt.UTC)
    assert ChatPrefs(1, user_lang="zh").locale() == Locale("zh", dt.UTC)
    assert ChatPrefs(1, lang="en", user_lang="zh", tz="Asia/Shanghai").locale() == Locale(
        "en", SHANGHAI
    )


async def test_settings_write_through_and_survive_a_restart(tmp_path: Path) -> None:
    store = await BotStore(tmp_path / "bot.db").open()
    try:
        prefs = ChatSettings(store)
        await prefs.update(-100, lang="zh", tz="Asia/Shanghai", quiet=QuietHours(1380, 420))
        await prefs.remember_user_language(-100, "en-US")
        await prefs.remember_user_language(5, "fr")  # not a catalog: not remembered
        now = at(SHANGHAI, 2026, 11, 23, 23, 30)
        assert prefs.quiet_until_ms(-100, now) == at(SHANGHAI, 2026, 11, 24, 7, 0)
        assert prefs.quiet_until_ms(5, now) is None
        await store.migrate_chat(-100, -1001)
        prefs.move(-100, -1001)
        expected = ChatPrefs(-1001, "zh", "en", "Asia/Shanghai", QuietHours(1380, 420))
        assert prefs.get(-1001) == expected
        assert await store.load_prefs() == [expected]
        assert prefs.get(-100) == ChatPrefs(-100)
    finally:
        await store.close()


def test_button_data_round_trips_and_rejects_the_rest() -> None:
    assert parse_press("top:3600") == Press("top", 3600)
    assert parse_press("st:900:BTC") == Press("st", 900, "BTC")
    assert parse_press("st:900:-") == Press("st", 900, None)
    assert parse_press("rm:12") == Press("rm", 12)
    assert parse_press("rm:12").changes_settings  # type: ignore[union-attr]
    assert not parse_press("top:60").changes_settings  # type: ignore[union-attr]
    for bad in (None, "", "st:900", "top:abc", "rm:1:2", "x:1", "top:1234567890", "st:1:btc"):
        assert parse_press(bad) is None, bad
    markup = window_buttons([180, 3600], 3600, asset="ETH", stats=True)
    [row] = markup.inline_keyboard
    assert [(b.text, b.callback_data) for b in row] == [
        ("3m", "st:180:ETH"),
        ("• 1h •", "st:3600:ETH"),
    ]
    buttons = remove_buttons(list(range(1, 7)), [3])
    assert buttons is not None
    assert [[b.callback_data for b in row] for row in buttons.inline_keyboard] == [
        ["rm:1", "rm:2", "rm:3", "rm:4"],
        ["rm:5", "rm:6", "rmc:3"],
    ]
    assert remove_buttons([]) is None
    assert len({b for r in remove_buttons(list(range(200))).inline_keyboard for b in r}) == 96  # type: ignore[union-attr]
