"""Fetch, cache and refresh the instrument metadata that turns contract counts into USD."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from collectors.clock import now_ms
from collectors.outage import OutageLog
from collectors.parsing import FrameError, truncate

log = logging.getLogger(__name__)


class FrameRecorder(Protocol):
    """Receives every raw frame and metadata body, e.g. to write a capture file."""

    def record(self, source: str, recv_ms: int, frame: str) -> None:
        """Take one raw frame (a feed's text frame or a REST body)."""


class MetadataCache(Protocol):
    """Keeps the last good body of each metadata document across restarts."""

    async def load(self, key: str) -> tuple[str, int] | None:
        """Return (body, fetched_ms) or None."""

    async def save(self, key: str, body: str, fetched_ms: int) -> None:
        """Store the body, replacing the previous one."""


# A paginated document stops here even if the exchange keeps handing out cursors.
MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class MetadataDocument:
    """One REST document a feed needs, and how to install it into the feed's tables.

    A paginated document sets `next_page`: given a page body, it returns the query parameters of
    the next page (added to `params`), or None after the last page; it raises FrameError if the
    page is unusable. The pages are fetched in order and installed, cached and recorded together
    as ONE body: the JSON array of the raw page bodies, `[page1,page2,...]`.
    """

    capture_source: str  # name in capture files, e.g. "okx-instruments"
    cache_key: str  # e.g. "okx-instruments/SWAP"
    url: str
    params: dict[str, str]
    apply: Callable[[str], str]  # install the body; return a summary; raise FrameError if unusable
    next_page: Callable[[str], dict[str, str] | None] | None = None


@dataclass(slots=True)
class MetadataStatus:
    """What the manager last did, for status lines."""

    loaded: dict[str, str] = field(default_factory=dict)  # cache_key -> summary
    last_success_ms: int | None = None
    failures: int = 0
    last_error: str = ""


class MetadataManager:
    """Load cached metadata at start, refresh it periodically, and refetch for unknown ids.

    An instrument id that no table knows gets ONE refetch; if it is still unknown afterwards its
    events are skipped until the next periodic refresh gives it another chance.
    """

    def __init__(
        self,
        feed_id: str,
        documents: list[MetadataDocument],
        *,
        http: httpx.AsyncClient | None,
        cache: MetadataCache | None,
        recorder: FrameRecorder | None = None,
        refresh_s: float = 1800.0,
        retry_s: float = 30.0,
        on_degraded: Callable[[str], None] | None = None,
    ) -> None:
        self.feed_id = feed_id
        # Told why the feed is degraded ("" once every unreadable document was read again).
        self.on_degraded = on_degraded
        self._unreadable: dict[str, str] = {}  # cache_key -> why its last body was unusable
        self.documents = documents
        self.status = MetadataStatus()
        self._http = http
        self._cache = cache
        self._recorder = recorder
        self._refresh_s = refresh_s
        self._retry_s = retry_s
        self._lock = asyncio.Lock()
        self._refreshes_started = 0
        self._refetched_for: set[str] = set()
        # Without network every retry fails: said once, then a line a minute, then the end.
        self._outage = OutageLog(f"{feed_id}: metadata", log, recovered_as="fetched")
        self._first_refresh_in_s = 0.0  # set by `prepare`

    def _install(self, document: MetadataDocument, body: str, fetched_ms: int) -> bool:
        try:
            summary = document.apply(body)
        except FrameError as exc:
            # The tables keep what the last good body gave them; the feed is degraded.
            self._fail(f"{document.cache_key}: {exc} (body: {truncate(body, 200)})")
            self._set_unreadable(document.cache_key, f"{document.cache_key}: {exc}")
            return False
        self._set_unreadable(document.cache_key, None)
        self.status.loaded[document.cache_key] = summary
        if self._recorder is not None:
            self._recorder.record(document.capture_source, fetched_ms, body)
        return True

    def _set_unreadable(self, key: str, reason: str | None) -> None:
        """Note whether a document's last body was unreadable; tell the feed when that changes."""
        before = "; ".join(self._unreadable.values())
        if reason is None:
            self._unreadable.pop(key, None)
        else:
            self._unreadable[key] = reason
        after = "; ".join(self._unreadable.values())
        if after != before and self.on_degraded is not None:
            self.on_degraded(after)

    def _fail(self, error: str) -> None:
        self.status.failures += 1
        self.status.last_error = error
        self._outage.failed(error)

    async def load_cached(self) -> int:
        """Install every cached document; return how many were installed."""
        if self._cache is None:
            return 0
        installed = 0
        for document in self.documents:
            cached = await self._cache.load(document.cache_key)
            if cached is not None and self._install(document, *cached):
                installed += 1
                log.info(
                    "%s: loaded cached %s (%s)",
                    self.feed_id,
                    document.cache_key,
                    self.status.loaded[document.cache_key],
                )
        return installed

    async def refresh(self) -> bool:
        """Fetch every document over REST; return True if all of them were installed."""
        if self._http is None:
            return False
        async with self._lock:
            self._refreshes_started += 1
            return await self._fetch_all(self._http)

    async def _get(
        self, http: httpx.AsyncClient, document: MetadataDocument, params: dict[str, str]
    ) -> str | None:
        """GET one page; return its body, or None (logged and counted) on failure."""
        try:
            response = await http.get(document.url, params=params)
        except httpx.HTTPError as exc:
            self._fail(f"{document.cache_key}: GET {document.url} failed: {exc!r}")
            return None
        if response.status_code != 200:
            hint = " (restricted location)" if response.status_code == 451 else ""
            self._fail(
                f"{document.cache_key}: GET {document.url} answered "
                f"HTTP {response.status_code}{hint}: {truncate(response.text, 200)}"
            )
            return None
        return response.text

    async def _get_pages(
        self,
        http: httpx.AsyncClient,
        document: MetadataDocument,
        next_page: Callable[[str], dict[str, str] | None],
    ) -> str | None:
        """GET every page of a paginated document; return them as one JSON array, or None."""
        pages: list[str] = []
        params = document.params
        seen = [params]
        while True:
            page = await self._get(http, document, params)
            if page is None:
                return None
            pages.append(page)
            try:
                more = next_page(page)
            except FrameError as exc:
                self._fail(f"{document.cache_key}: page {len(pages)}: {exc}")
                self._set_unreadable(document.cache_key, f"{document.cache_key}: {exc}")
                return None
            if more is None:
                return "[" + ",".join(pages) + "]"
            params = {**document.params, **more}
            if params in seen or len(pages) >= MAX_PAGES:
                # A repeated cursor would loop forever; keep the tables we have instead.
                self._fail(f"{document.cache_key}: pagination does not end (page {len(pages)})")
                return None
            seen.append(params)

    async def _fetch_all(self, http: httpx.AsyncClient) -> bool:
        ok = True
        for document in self.documents:
            fetched_ms = now_ms()
            if document.next_page is None:
                body = await self._get(http, document, document.params)
            else:
                body = await self._get_pages(http, document, document.next_page)
            if body is None:
                ok = False
                continue
            if not self._install(document, body, fetched_ms):
                ok = False
                continue
            log.info(
                "%s: fetched %s (%s)",
                self.feed_id,
                document.cache_key,
                self.status.loaded[document.cache_key],
            )
            if self._cache is not None:
                await self._cache.save(document.cache_key, body, fetched_ms)
        if ok:
            self.status.last_success_ms = now_ms()
            self._outage.recovered()
        return ok

    async def ensure(self, instrument_ids: set[str]) -> None:
        """Refetch once for ids not refetched for yet; return when any refetch under way is done."""
        if self._http is None:
            return
        new = instrument_ids - self._refetched_for
        self._refetched_for |= new
        seen_at = self._refreshes_started
        if new:
            log.info("%s: unknown instruments %s: refetching metadata", self.feed_id, sorted(new))
        async with self._lock:  # also waits for a refresh already under way
            if not new or self._refreshes_started > seen_at:
                return  # nothing new, or a refresh started after these ids were seen
            self._refreshes_started += 1
            await self._fetch_all(self._http)

    async def prepare(self) -> None:
        """Install cached documents, and fetch now if any is missing (before connecting, so the
        first events can be valued).

        This also sets when `run` refreshes first: at once if everything came from the cache,
        a full period after a fetch that succeeded, the retry delay after one that failed."""
        installed = await self.load_cached()
        if installed == len(self.documents):
            self._first_refresh_in_s = 0.0
            return
        fetched = await self.refresh()
        self._first_refresh_in_s = self._refresh_s if fetched else self._retry_s

    async def run(self) -> None:
        """Keep metadata fresh forever: refresh periodically, retrying sooner after a failure
        (the first refresh as `prepare` set; at once if it was not called)."""
        delay = self._first_refresh_in_s
        while True:
            await asyncio.sleep(delay)
            ok = await self.refresh()
            self._refetched_for.clear()  # unknown ids get another chance after each refresh
            delay = self._refresh_s if ok else self._retry_s
