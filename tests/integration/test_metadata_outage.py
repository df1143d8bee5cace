"""Metadata without network: retried after the retry delay, said once, then a line a minute."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from collectors.metadata import MetadataDocument, MetadataManager
from collectors.metadata_cache import SqliteMetadataCache
from tests.support.rest_server import RestStub
from tests.support.waiting import eventually

PATH = "/instruments"
UNAVAILABLE = '{"msg":"service unavailable"}'


def document(rest: RestStub) -> MetadataDocument:
    return MetadataDocument(
        capture_source="test-instruments",
        cache_key="test-instruments",
        url=rest.url() + PATH,
        params={},
        apply=lambda body: f"{len(body)} bytes",
    )


@contextlib.asynccontextmanager
async def running(manager: MetadataManager) -> AsyncIterator[None]:
    task = asyncio.create_task(manager.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def metadata_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "collectors.metadata"]


async def test_a_failing_document_is_said_once_then_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with RestStub() as rest, httpx.AsyncClient(timeout=5) as http:
        rest.set(PATH, UNAVAILABLE, status=503)
        manager = MetadataManager(
            "okx", [document(rest)], http=http, cache=None, retry_s=0.01, refresh_s=3600
        )
        await manager.prepare()
        async with running(manager):
            await eventually(lambda: manager.status.failures >= 20)
            rest.set(PATH, "[]")
            await eventually(lambda: manager.status.last_success_ms is not None)
        failures = manager.status.failures
    url = f"{rest.url()}{PATH}"
    # Before: one warning per attempt, every 30 s per document for as long as the outage lasts.
    assert metadata_lines(caplog) == [
        (
            logging.WARNING,
            f"okx: metadata: test-instruments: GET {url} answered HTTP 503: {UNAVAILABLE}; "
            "retrying (one line a minute while it persists)",
        ),
        (logging.INFO, "okx: fetched test-instruments (2 bytes)"),
        (logging.INFO, f"okx: metadata: fetched after {failures} failed attempts over 0s"),
    ]
    assert (
        manager.status.last_error == f"test-instruments: GET {url} answered HTTP 503: {UNAVAILABLE}"
    )


async def test_a_failed_fetch_at_start_waits_the_retry_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with RestStub() as rest, httpx.AsyncClient(timeout=5) as http:
        rest.set(PATH, UNAVAILABLE, status=503)
        manager = MetadataManager(
            "okx", [document(rest)], http=http, cache=None, retry_s=0.5, refresh_s=3600
        )
        await manager.prepare()
        assert rest.requests[PATH] == 1
        async with running(manager):
            # Before: the background refresh asked again at once, a second line at start.
            await asyncio.sleep(0.25)
            assert rest.requests[PATH] == 1
            await eventually(lambda: rest.requests[PATH] == 2, timeout=5)


async def test_a_cached_document_is_refreshed_at_once_and_a_fetched_one_after_a_period(
    tmp_path: Path,
) -> None:
    async with (
        RestStub() as rest,
        httpx.AsyncClient(timeout=5) as http,
        SqliteMetadataCache(tmp_path / "cache.db") as cache,
    ):
        rest.set(PATH, "[1]")
        fetched = MetadataManager("okx", [document(rest)], http=http, cache=cache, refresh_s=0.5)
        await fetched.prepare()  # nothing cached yet: fetched (and cached) now
        assert rest.requests[PATH] == 1
        async with running(fetched):
            await asyncio.sleep(0.25)
            assert rest.requests[PATH] == 1  # a full period after the fetch
            await eventually(lambda: rest.requests[PATH] == 2, timeout=5)
        cached = MetadataManager("okx", [document(rest)], http=http, cache=cache, refresh_s=3600)
        await cached.prepare()  # installed from the cache, no request
        assert rest.requests[PATH] == 2
        assert cached.status.loaded == {"test-instruments": "3 bytes"}
        async with running(cached):
            await eventually(lambda: rest.requests[PATH] == 3, timeout=5)  # refreshed at once
