"""Each asset's USD liquidated over the last 24 h, cached: the base of relative cascade rules."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class DailyVolumes:
    """Each asset's USD liquidated over the last 24 h, for relative cascade thresholds.

    One pass over every asset, cached for `refresh_s`: the detector asks per asset, and with
    an `all 10x` rule it asks for hundreds of them.
    """

    def __init__(
        self,
        volumes: Callable[[], dict[str, float]],
        refresh_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._volumes = volumes
        self._refresh_s = refresh_s
        self._clock = clock
        self._cache: dict[str, float] = {}
        self._at = -math.inf

    def __call__(self, asset: str) -> float:
        """Return the asset's 24 h volume in USD (0 if unknown or if the query failed)."""
        now = self._clock()
        if now - self._at >= self._refresh_s:
            self._at = now
            try:
                self._cache = self._volumes()
            except Exception:  # the detector must get an answer: the floor applies
                log.exception("could not read the 24 h volumes for cascade thresholds")
                self._cache = {}
        return self._cache.get(asset, 0.0)
