"""The alert journal's "on the wire" marks are group-committed to the bot's real SQLite file:
marks asked for while a write is under way share the next transaction, and every sender waits
for its own mark to be on disk."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.delivery.journal import AlertJournal
from bot.tables.bot_store import BotStore
from bot.tables.journal import ON_THE_WIRE


class GatedStore:
    """Wrap a store's mark_on_wire: record each write, hold it until released, fail on cue."""

    def __init__(self, store: BotStore) -> None:
        self.writes: list[list[tuple[int, str]]] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self.fail_next = False
        self._write = store.mark_on_wire
        store.mark_on_wire = self.mark_on_wire  # type: ignore[method-assign]

    async def mark_on_wire(self, marks: Sequence[tuple[int, str]]) -> None:
        self.writes.append(list(marks))
        self.entered.set()
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise sqlite3.OperationalError("database is locked")
        await self._write(marks)


async def gated_journal(
    tmp_path: Path, *, held: bool = False
) -> tuple[BotStore, GatedStore, AlertJournal]:
    """Open a store in `tmp_path`, gate its writes (`held`: until released) and journal on it."""
    store = await BotStore(tmp_path / "bot.db").open()
    gate = GatedStore(store)
    if held:
        gate.release.clear()
    return store, gate, AlertJournal(store)


def marks_on_disk(path: Path) -> dict[tuple[int, str], int]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT chat_id, event_key, state FROM bot_alert_log").fetchall()
    return {(int(chat), str(key)): int(state) for chat, key, state in rows}


async def test_marks_asked_for_together_are_one_transaction(tmp_path: Path) -> None:
    store, gate, journal = await gated_journal(tmp_path)
    await asyncio.gather(*(journal.on_wire(chat, [f"k{chat}", "x"]) for chat in range(300)))
    await store.close()
    assert len(gate.writes) == 1
    assert journal.mark_writes == 1
    on_disk = marks_on_disk(tmp_path / "bot.db")
    assert len(on_disk) == 600
    assert set(on_disk.values()) == {ON_THE_WIRE}


async def test_marks_asked_for_during_a_write_go_in_the_next_and_each_sender_waits(
    tmp_path: Path,
) -> None:
    store, gate, journal = await gated_journal(tmp_path, held=True)
    first = asyncio.create_task(journal.on_wire(1, ["a"]))
    await gate.entered.wait()  # the first write is under way
    later = [asyncio.create_task(journal.on_wire(chat, [f"b{chat}"])) for chat in (2, 3, 2)]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in (first, *later))  # nobody goes before its mark
    gate.release.set()
    await asyncio.gather(first, *later)
    await store.close()
    assert gate.writes == [[(1, "a")], [(2, "b2"), (3, "b3"), (2, "b2")]]
    assert journal.mark_writes == 2
    assert set(marks_on_disk(tmp_path / "bot.db")) == {(1, "a"), (2, "b2"), (3, "b3")}


async def test_a_failed_write_lets_its_senders_go_logs_once_and_the_next_write_lands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, gate, journal = await gated_journal(tmp_path)
    gate.fail_next = True
    with caplog.at_level(logging.ERROR, logger="bot.delivery.journal"):
        await asyncio.gather(
            journal.on_wire(1, ["lost-a", "lost-b"]), journal.on_wire(2, ["lost-c"])
        )
        await journal.on_wire(1, ["kept"])
    await store.close()
    assert journal.write_errors == 1
    assert journal.mark_writes == 1
    assert [r.getMessage() for r in caplog.records] == [
        "alert journal: marking 3 alert(s) for 2 chat(s) failed"
    ]
    assert marks_on_disk(tmp_path / "bot.db") == {(1, "kept"): ON_THE_WIRE}


async def test_a_sender_cancelled_while_waiting_does_not_cancel_the_others_mark(
    tmp_path: Path,
) -> None:
    store, gate, journal = await gated_journal(tmp_path, held=True)
    cancelled = asyncio.create_task(journal.on_wire(1, ["gone"]))
    kept = asyncio.create_task(journal.on_wire(2, ["kept"]))
    await gate.entered.wait()
    cancelled.cancel()
    gate.release.set()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await store.close()
    # The cancelled sender sends nothing; its mark, already in the write, is reported as
    # uncertain after a crash, which is the journal's meaning of "on the wire".
    assert set(marks_on_disk(tmp_path / "bot.db")) == {(1, "gone"), (2, "kept")}


async def test_stopping_the_writer_stops_its_senders_instead_of_sending_unmarked(
    tmp_path: Path,
) -> None:
    store, gate, journal = await gated_journal(tmp_path, held=True)
    in_write = asyncio.create_task(journal.on_wire(1, ["in the write"]))
    await gate.entered.wait()
    waiting = asyncio.create_task(journal.on_wire(2, ["waiting"]))
    await asyncio.sleep(0)
    writer = journal._writer
    assert writer is not None
    writer.cancel()
    for sender in (in_write, waiting):
        with pytest.raises(asyncio.CancelledError):
            await sender
    # A mark asked for afterwards starts a new writer.
    gate.release.set()
    await journal.on_wire(3, ["after"])
    await store.close()
    assert marks_on_disk(tmp_path / "bot.db") == {(3, "after"): ON_THE_WIRE}


async def test_a_mark_does_not_wait_for_a_transaction_on_the_chat_tables(tmp_path: Path) -> None:
    store = await BotStore(tmp_path / "bot.db").open()
    inside, release = asyncio.Event(), asyncio.Event()

    async def slow_transaction() -> None:
        async with store._transaction() as db:
            async with db.execute("SELECT COUNT(*) FROM bot_chats") as cursor:
                await cursor.fetchone()
            inside.set()
            await release.wait()

    holder = asyncio.create_task(slow_transaction())
    await inside.wait()
    # The journal has its own connection and thread: the mark lands while the chat tables'
    # transaction is still open (through the shared lock it would wait for it).
    try:
        await asyncio.wait_for(store.mark_on_wire([(1, "k")]), timeout=5)
        assert not holder.done()
    finally:
        release.set()
        await holder
        await store.close()
    assert marks_on_disk(tmp_path / "bot.db") == {(1, "k"): ON_THE_WIRE}
