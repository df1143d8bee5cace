"""Run each chat's scheduled summary on python-telegram-bot's JobQueue."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from telegram.ext import CallbackContext, Job, JobQueue

from aggregation.query import LiquidationQueries
from bot.delivery.dispatcher import AlertDispatcher
from bot.prefs.chats import ChatSettings
from bot.prefs.schedules import Schedule
from bot.render import market
from bot.render.charts import render_chart_async
from collectors.clock import now_ms

log = logging.getLogger(__name__)

# A summary is late rather than lost if the loop was busy at the due time.
JOB_KWARGS = {"misfire_grace_time": 60, "coalesce": True, "max_instances": 1}


def job_name(chat_id: int) -> str:
    """Return the deterministic JobQueue name of a chat's summary job."""
    return f"summary:{chat_id}"


def first_run(every_s: int, now_ms: int, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    """Return the next time aligned to the chat's clock (every 15m: :00, :15, :30, :45)."""
    offset = dt.datetime.fromtimestamp(now_ms / 1000, tz=tz).utcoffset() or dt.timedelta()
    offset_ms = int(offset.total_seconds() * 1000)
    period_ms = every_s * 1000
    next_ms = ((now_ms + offset_ms) // period_ms + 1) * period_ms - offset_ms
    return dt.datetime.fromtimestamp(next_ms / 1000, tz=dt.UTC)


class SummaryScheduler:
    """Add, move and remove per-chat summary jobs; build and queue the summaries."""

    def __init__(
        self,
        job_queue: JobQueue[Any],  # the Application's, whatever its context type
        queries: LiquidationQueries,
        dispatcher: AlertDispatcher,
        prefs: ChatSettings,
        clock: Callable[[], int] = now_ms,
        *,
        charts: bool = True,
    ) -> None:
        self._job_queue = job_queue
        self._charts = charts
        self._queries = queries
        self._dispatcher = dispatcher
        self._prefs = prefs
        self._clock = clock
        self._schedules: dict[int, Schedule] = {}

    def set(self, schedule: Schedule) -> None:
        """Schedule (or reschedule) a chat's summaries."""
        self.remove(schedule.chat_id)
        self._schedules[schedule.chat_id] = schedule
        name = job_name(schedule.chat_id)
        tz = self._prefs.locale(schedule.chat_id).tz
        if schedule.every_s is not None and schedule.days is None:
            self._job_queue.run_repeating(
                self._run,
                interval=schedule.every_s,
                first=first_run(schedule.every_s, self._clock(), tz),
                name=name,
                data=schedule,
                job_kwargs=JOB_KWARGS,
            )
        else:
            # The chat's wall clock: APScheduler's cron trigger keeps 08:00 at 08:00 across DST.
            # Every N days runs daily too and posts on its days only (`Schedule.runs_on`).
            minute = schedule.daily_minute or 0
            self._job_queue.run_daily(
                self._run,
                time=dt.time(minute // 60, minute % 60, tzinfo=tz),
                name=name,
                data=schedule,
                job_kwargs=JOB_KWARGS,
            )

    def remove(self, chat_id: int) -> None:
        """Stop a chat's summaries."""
        self._schedules.pop(chat_id, None)
        for job in self._job_queue.get_jobs_by_name(job_name(chat_id)):
            job.schedule_removal()

    def move(self, old_chat_id: int, new_chat_id: int) -> None:
        """Carry a schedule to a group's new supergroup id."""
        schedule = self._schedules.get(old_chat_id)
        self.remove(old_chat_id)
        if schedule is not None:
            self.set(dataclasses.replace(schedule, chat_id=new_chat_id))

    def zone_changed(self, chat_id: int) -> None:
        """Re-plan a chat's summaries after its time zone changed."""
        schedule = self._schedules.get(chat_id)
        if schedule is not None:
            self.set(schedule)

    def schedule_of(self, chat_id: int) -> Schedule | None:
        """Return a chat's active schedule."""
        return self._schedules.get(chat_id)

    def jobs(self) -> tuple[Job[Any], ...]:
        """Return the scheduled summary jobs."""
        return tuple(j for j in self._job_queue.jobs() if j.name and j.name.startswith("summary:"))

    async def send_summary(self, schedule: Schedule, end_ms: int | None = None) -> None:
        """Build a chat's summary for the period ending now (or at end_ms) and queue it."""
        end = self._clock() if end_ms is None else end_ms
        period_ms = schedule.period_s * 1000
        summary = await self._queries.period(end - period_ms, end, top_n=5)
        loc = self._prefs.locale(schedule.chat_id)
        label = market.period_label(schedule.period_s, loc=loc)
        text = market.summary(summary, label=label, loc=loc)
        self._dispatcher.enqueue_message(schedule.chat_id, text, topic=schedule.topic)

    async def post_summary(self, schedule: Schedule, end_ms: int | None = None) -> None:
        """Queue a chat's summary, then its chart (drawn off the event loop)."""
        end = self._clock() if end_ms is None else end_ms
        await self.send_summary(schedule, end)
        if not self._charts:
            return
        loc = self._prefs.locale(schedule.chat_id)
        try:
            series = await self._queries.period_series(end - schedule.period_s * 1000, end)
            png = await render_chart_async(series, lang=loc.lang, tz=loc.tz)
        except Exception:  # the summary went out; a chart that failed is only logged
            log.exception("summary chart for chat %d failed", schedule.chat_id)
            return
        coverage = self._queries.coverage(series.start_ms, series.end_ms)
        caption = market.chart_caption(series, coverage, loc=loc)
        self._dispatcher.enqueue_photo(schedule.chat_id, png, caption, topic=schedule.topic)

    def next_day(self, schedule: Schedule) -> dt.date | None:
        """Return the chat's next day with a summary of a schedule every N days (else None)."""
        if schedule.days is None:
            return None
        tz = self._prefs.locale(schedule.chat_id).tz
        now = dt.datetime.fromtimestamp(self._clock() / 1000, tz=tz)
        minute = schedule.daily_minute or 0
        day = now.date() if now.hour * 60 + now.minute < minute else now.date() + dt.timedelta(1)
        while not schedule.runs_on(day):
            day += dt.timedelta(1)
        return day

    async def _run(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        job = context.job
        assert job is not None
        schedule = job.data
        assert isinstance(schedule, Schedule)
        tz = self._prefs.locale(schedule.chat_id).tz
        if schedule.runs_on(dt.datetime.fromtimestamp(self._clock() / 1000, tz=tz).date()):
            await self.post_summary(schedule)
