"""Summary schedules: when a chat gets its summary, and the `/summary` argument parser."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.texts.durations import parse_duration
from bot.texts.usage import UsageError, quote_input

SUMMARY_EVERY_S = (900, 3600, 14400)

_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")


DAY_S = 86_400
# Summaries every N days fall on the days counted from this Monday (1970-01-05): every 7d is
# every Monday, every 14d every other Monday; the same days whenever the bot restarts.
FIRST_MONDAY = dt.date(1970, 1, 5)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a chat gets its summary: every `every_s` seconds (at `daily_minute` when whole
    days), or daily at a minute of the day."""

    chat_id: int
    every_s: int | None = None  # 900, 3600, 14400 (aligned to the clock) or whole days
    daily_minute: int | None = None  # minutes after midnight in the chat's time zone (UTC)
    topic: int | None = None  # the forum topic it was set in (message_thread_id): posts go there

    @property
    def period_s(self) -> int:
        """Return the length of the period one summary covers."""
        return self.every_s if self.every_s is not None else DAY_S

    @property
    def days(self) -> int | None:
        """Return N for a summary every N days (None: every 15m, 1h, 4h or daily)."""
        every = self.every_s
        return every // DAY_S if every is not None and every % DAY_S == 0 else None

    def runs_on(self, day: dt.date) -> bool:
        """Return True if a summary is due on this day (of the chat's calendar)."""
        days = self.days
        return days is None or (day - FIRST_MONDAY).days % days == 0


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """What `/summary` asked for; both None means off."""

    every_s: int | None = None
    daily_minute: int | None = None

    @property
    def off(self) -> bool:
        """Return True for `/summary off`."""
        return self.every_s is None and self.daily_minute is None


def parse_schedule(args: Sequence[str], history_s: int = 0) -> ScheduleRequest:
    """Parse `/summary every 15m|1h|4h | every Nd [HH:MM] | daily HH:MM | off` (also `hourly`,
    `daily` = 00:00); N days up to the history kept (`history_s`)."""
    example = "/summary every 1h"
    words = [a.lower() for a in args]
    if words == ["off"]:
        return ScheduleRequest()
    if words == ["hourly"]:
        return ScheduleRequest(every_s=3600)
    if 2 <= len(words) <= 3 and words[0] == "every":
        try:
            seconds = parse_duration(words[1])
        except ValueError:
            seconds = 0
        days = seconds % DAY_S == 0 and 0 < seconds <= max(history_s, DAY_S)
        if seconds not in SUMMARY_EVERY_S and not days:
            raise UsageError("err_summary_every", example)
        if not days:
            if len(words) == 3:
                raise UsageError("err_summary_usage", example)
            return ScheduleRequest(every_s=seconds)
        at = _minute(words[2], "/summary every 7d 08:00") if len(words) == 3 else 0
        if seconds == DAY_S:
            return ScheduleRequest(daily_minute=at)
        return ScheduleRequest(every_s=seconds, daily_minute=at)
    if words and words[0] == "daily" and len(words) <= 2:
        at = _minute(words[1], "/summary daily 08:00") if len(words) == 2 else 0
        return ScheduleRequest(daily_minute=at)
    raise UsageError("err_summary_usage", example)


def _minute(word: str, example: str) -> int:
    """Return minutes after midnight of `HH:MM`."""
    match = _HH_MM.match(word)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise UsageError("err_not_time", example, token=quote_input(word))
    return int(match.group(1)) * 60 + int(match.group(2))
