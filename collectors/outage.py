"""Keep a failure that repeats from filling the log: its first line, then one a minute.

A feed's connection without network fails every few seconds, its metadata every 30 s, for as
long as the outage lasts; each says so once, then how many attempts failed, once per interval,
and how long it lasted when it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

# While something keeps failing (no network), one line per minute says it still does.
OUTAGE_LOG_INTERVAL_S = 60.0


class OutageLog:
    """Say an outage's first failure, then how many attempts failed, once per interval."""

    def __init__(
        self,
        name: str,
        logger: logging.Logger,
        *,
        recovered_as: str = "connected",
        interval_s: float = OUTAGE_LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._log = logger
        self._recovered_as = recovered_as  # "connected", "fetched": what the end is called
        self._interval_s = interval_s
        self._clock = clock
        self._failures = 0
        self._since = 0.0
        self._logged = 0.0

    def failed(self, reason: str) -> None:
        """Record one failed attempt; log the first, then at most one line per interval."""
        now = self._clock()
        self._failures += 1
        if self._failures == 1:
            self._since = self._logged = now
            self._log.warning(
                "%s: %s; retrying (one line a minute while it persists)", self._name, reason
            )
        elif now - self._logged >= self._interval_s:
            self._logged = now
            self._log.warning(
                "%s: still failing after %d attempts over %.0fs: %s",
                self._name,
                self._failures,
                now - self._since,
                reason,
            )

    def recovered(self) -> None:
        """Say how long a logged outage lasted, and start afresh."""
        if self._failures > 1:
            self._log.info(
                "%s: %s after %d failed attempts over %.0fs",
                self._name,
                self._recovered_as,
                self._failures,
                self._clock() - self._since,
            )
        self._failures = 0
