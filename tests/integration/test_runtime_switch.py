"""The runtime hands the interpreter lock to its database threads within a millisecond while
it runs (a journal mark is not held up by a burst on the loop), and restores it on leaving."""

from __future__ import annotations

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
