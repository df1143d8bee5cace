"""Summary schedules: when a chat gets its summary, and the `/summary` argument parser."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.texts.durations import parse_duration
from bot.texts.usage import UsageError, quote_input

SUMMARY_EVERY_S = (900, 3600, 14400)

_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a chat gets its summary: every `every_s` seconds, or daily at a minute of the day."""

    chat_id: int
    every_s: int | None = None  # 900, 3600 or 14400: aligned to the clock (e.g. on the hour)
    daily_minute: int | None = None  # minutes after midnight in the chat's time zone (UTC)
    topic: int | None = None  # the forum topic it was set in (message_thread_id): posts go there

    @property
    def period_s(self) -> int:
        """Return the length of the period one summary covers."""
        return self.every_s if self.every_s is not None else 86400


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """What `/summary` asked for; both None means off."""

    every_s: int | None = None
    daily_minute: int | None = None

    @property
    def off(self) -> bool:
        """Return True for `/summary off`."""
        return self.every_s is None and self.daily_minute is None


def parse_schedule(args: Sequence[str]) -> ScheduleRequest:
    """Parse `/summary every 15m|1h|4h | daily HH:MM | off` (also `hourly`, `daily` = 00:00)."""
    example = "/summary every 1h"
    words = [a.lower() for a in args]
    if words == ["off"]:
        return ScheduleRequest()
    if words == ["hourly"]:
        return ScheduleRequest(every_s=3600)
    if len(words) == 2 and words[0] == "every":
        try:
            seconds = parse_duration(words[1])
        except ValueError:
            seconds = 0
        if seconds not in SUMMARY_EVERY_S:
            raise UsageError("err_summary_every", example)
        return ScheduleRequest(every_s=seconds)
    if words and words[0] == "daily" and len(words) <= 2:
        at = words[1] if len(words) == 2 else "00:00"
        match = _HH_MM.match(at)
        if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise UsageError("err_not_time", "/summary daily 08:00", token=quote_input(at))
        return ScheduleRequest(daily_minute=int(match.group(1)) * 60 + int(match.group(2)))
    raise UsageError("err_summary_usage", example)
