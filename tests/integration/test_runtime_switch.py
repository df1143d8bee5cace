"""The runtime hands the interpreter lock to its database threads within a millisecond while
it runs (a journal mark is not held up by a burst on the loop), keeps what exists at start out
of the garbage collector's passes, and restores both on leaving."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from bot.app.runtime import SWITCH_INTERVAL_S, Runtime
from bot.settings import Settings


async def test_the_switch_interval_is_short_while_running_and_restored(tmp_path: Path) -> None:
    before = sys.getswitchinterval()
    assert before != SWITCH_INTERVAL_S
    settings = Settings(_env_file=None, database_path=tmp_path / "liquidations.db")
    async with Runtime(settings):
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before


async def test_what_exists_at_start_is_frozen_while_running_and_unfrozen_after(
    tmp_path: Path,
) -> None:
    assert gc.get_freeze_count() == 0
    settings = Settings(_env_file=None, database_path=tmp_path / "liquidations.db")
    async with Runtime(settings) as runtime:
        # The rebuilt state and the runtime itself are out of the collector's passes ...
        assert gc.get_freeze_count() > 10_000
        assert not any(obj is runtime for obj in gc.get_objects())
        # ... and what is made afterwards is collected as usual.
        later: list[object] = []
        later.append(later)
        assert any(obj is later for obj in gc.get_objects())
    assert gc.get_freeze_count() == 0
