"""Background work under supervision: the alert journal survives a failing prune step, and the
failure is logged, counted once and shown in /status."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from bot.delivery.journal import AlertJournal
from bot.render.status import format_tasks_line
from bot.tables.bot_store import BotStore
from bot.tables.journal import DONE
from collectors.backoff import Backoff
from collectors.supervisor import Supervisor
from tests.support.waiting import eventually

FAST = Backoff(initial_s=0.01, max_s=0.02, healthy_after_s=60.0)


async def test_the_journal_keeps_running_after_its_prune_step_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await BotStore(tmp_path / "bot.db").open()
    prune = store.prune_journal
    prunes: list[str] = []

    async def locked_once(before_ms: int) -> None:
        prunes.append("failed" if not prunes else "pruned")
        if len(prunes) == 1:
            raise sqlite3.OperationalError("database is locked")
        await prune(before_ms)

    store.prune_journal = locked_once  # type: ignore[method-assign]
    journal = AlertJournal(store, flush_interval_s=0.01)
    supervisor = Supervisor(backoff=FAST)
    with caplog.at_level(logging.ERROR, logger="collectors.supervisor"):
        task = asyncio.create_task(supervisor.supervise("alert-journal", journal.run))
        try:
            await journal.on_wire(1, ["before"])
            journal.done(1, ["before"])
            health = supervisor.tasks["alert-journal"]
            await eventually(lambda: health.restarts == 1 and len(prunes) >= 2, timeout=5)
            # After the failure the journal still writes its marks ...
            await journal.on_wire(1, ["after"])
            journal.done(1, ["after"])
            await eventually(lambda: journal_of(tmp_path).get("after") == DONE, timeout=5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()
    assert journal_of(tmp_path) == {"before": DONE, "after": DONE}
    # ... and goes on pruning; the one failure was logged and counted once.
    assert prunes[:2] == ["failed", "pruned"]
    health = supervisor.tasks["alert-journal"]
    assert (health.restarts, health.last_error) == (1, "OperationalError: database is locked")
    failures = [r for r in caplog.records if r.name == "collectors.supervisor"]
    assert [r.getMessage().split(";")[0] for r in failures] == ["alert-journal failed (restart 1)"]
    assert format_tasks_line(list(supervisor.tasks.values())) == (
        "background tasks: 1 supervised, 1 failures; "
        "alert-journal 1 (OperationalError: database is locked)"
    )


def journal_of(tmp_path: Path) -> dict[str, int]:
    """Return chat 1's journal states as the database file holds them."""
    with sqlite3.connect(tmp_path / "bot.db") as db:
        rows = db.execute("SELECT event_key, state FROM bot_alert_log WHERE chat_id = 1")
        return {str(key): int(state) for key, state in rows.fetchall()}
