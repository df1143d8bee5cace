"""The dashboard page in a real browser: Debian's Chromium driven by Playwright.

The browser is the system's (`.ci/run` installs `chromium` and `fonts-wqy-microhei`); Playwright
downloads nothing. Screenshots go to DASHBOARD_SCREENSHOTS if set, else the test's tmp folder.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from bot.web import WebConfig
from collectors.record import Side
from tests.support.web import EVENTS, Rig, liq, running

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium"))
LIVE_WITHIN_MS = 2_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-wqy-microhei)",
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        await launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")


async def open_page(browser: Browser, rig: Rig, path: str, **context: object) -> Watched:
    page = await (await browser.new_context(**context)).new_page()  # type: ignore[arg-type]
    watched = Watched(page)
    await page.goto(rig.url(path))
    return watched


def local_time(ts_ms: int, zone: str) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, zoneinfo.ZoneInfo(zone)).strftime("%H:%M:%S")


async def test_the_page_shows_live_filtered_liquidations(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    async with running(tmp_path, WebConfig(snapshot_interval_s=0.5)) as rig:
        watched = await open_page(
            browser, rig, "/?lang=en", viewport={"width": 1440, "height": 1000},
            timezone_id="America/New_York",
        )  # fmt: skip
        page = watched.page
        rows = page.locator("#tape tr")
        # The tape loads the stored events, newest first, in the browser's time zone.
        await expect(rows).to_have_count(7)
        await expect(rows.first).to_contain_text("$150.00K")
        await expect(rows.first.locator(".c-time")).to_have_text(
            local_time(EVENTS[0].ts_ms, "America/New_York")
        )
        await expect(page.locator("#zone")).to_have_text("UTC-5")
        # The cards: one per window, totals, counts and the split.
        cards = page.locator(".card")
        await expect(cards).to_have_count(5)
        await expect(cards.nth(0)).to_contain_text("3m")
        await expect(cards.nth(0)).to_contain_text("$220.00K")
        await expect(cards.nth(0)).to_contain_text("3 events")
        await expect(cards.nth(4)).to_contain_text("$1.52M")
        await expect(page.locator("#top-long li").first).to_contain_text("BTC")
        await expect(page.locator("#feeds li")).to_have_count(3)
        await expect(page.locator("#note")).to_contain_text("Binance totals are a lower bound")
        # A new liquidation shows without a reload.
        rig.ingest(liq("bybit", "ETH", Side.LONG, 777_777.0, 1, price=3_100.0))
        await expect(rows.first).to_contain_text("$777.78K", timeout=LIVE_WITHIN_MS)
        await expect(rows.first).to_have_class(re.compile(r"\blong\b.*\bt4\b"))
        await page.screenshot(path=shots / "dashboard-desktop.png", full_page=True)
        # Both filters, as typed and on Enter, kept in the address.
        await page.get_by_label("Symbol").fill("btc")
        await expect(rows).to_have_count(4)
        await expect(page).to_have_url(re.compile(r"symbol=BTC"))
        await expect(page.locator("#asset-name")).to_have_text("BTC")
        await expect(page.locator(".card").nth(0).locator(".avg")).to_contain_text("80,181.82")
        await page.get_by_label("Min USD").fill("100000")
        await page.get_by_label("Min USD").press("Enter")
        await expect(rows).to_have_count(2)
        await expect(page).to_have_url(re.compile(r"min_usd=100000"))
        rig.ingest(liq("okx", "ETH", Side.SHORT, 900_000.0, 1))  # another asset: not shown
        rig.ingest(liq("okx", "BTC", Side.SHORT, 250_000.0, 1))
        await expect(rows).to_have_count(3, timeout=LIVE_WITHIN_MS)
        await expect(rows.first).to_contain_text("$250.00K")
        await expect(rows.first).to_have_class(re.compile(r"\bshort\b"))
        await page.screenshot(path=shots / "dashboard-btc.png", full_page=True)
        # The filters come back from the address.
        await page.reload()
        await expect(page.get_by_label("Symbol")).to_have_value("BTC")
        await expect(rows).to_have_count(3)
        assert watched.errors == []


async def test_the_chinese_page_on_a_phone(tmp_path: Path, browser: Browser, shots: Path) -> None:
    async with running(tmp_path, WebConfig(snapshot_interval_s=0.5)) as rig:
        watched = await open_page(
            browser, rig, "/?lang=zh", viewport={"width": 390, "height": 844},
            timezone_id="Asia/Shanghai", locale="zh-CN", is_mobile=True, has_touch=True,
        )  # fmt: skip
        page = watched.page
        await expect(page).to_have_title("爆仓监控")
        await expect(page.get_by_label("币种")).to_be_visible()
        await expect(page.get_by_label("最小金额 (USD)")).to_be_visible()
        await expect(page.locator("#note")).to_contain_text("Binance 的合计为下限")
        await expect(page.locator(".card").first).to_contain_text("多单")
        rows = page.locator("#tape tr")
        await expect(rows).to_have_count(7)
        await expect(rows.first.locator(".c-side")).to_have_text("多单")
        await expect(rows.first.locator(".c-time")).to_have_text(
            local_time(EVENTS[0].ts_ms, "Asia/Shanghai")
        )
        await expect(page.locator("#zone")).to_have_text("UTC+8")
        rig.ingest(liq("binance", "SOL", Side.SHORT, 12_345.0, 1))
        await expect(rows.first).to_contain_text("$12.35K", timeout=LIVE_WITHIN_MS)
        await expect(rows.first.locator(".c-side")).to_have_text("空单")
        # Nothing is wider than the phone.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        await page.screenshot(path=shots / "dashboard-phone-zh.png", full_page=True)
        assert watched.errors == []


async def test_the_page_needs_the_token_once(tmp_path: Path, browser: Browser) -> None:
    token = "a-long-enough-browser-token"
    async with running(tmp_path, WebConfig(token=token)) as rig:
        watched = await open_page(browser, rig, "/")
        await expect(watched.page.locator("body")).to_contain_text("unauthorized")
        await watched.page.goto(rig.url(f"/?token={token}&lang=en"))
        await expect(watched.page).to_have_url(re.compile(r"/\?(window=1h&)?lang=en$"))
        await expect(watched.page.locator("#tape tr")).to_have_count(7)
        rig.ingest(liq("okx", "BTC", Side.LONG, 5_000.0, 1))
        await expect(watched.page.locator("#tape tr")).to_have_count(8, timeout=LIVE_WITHIN_MS)
        # Only the first load (the 401) complained.
        assert [e for e in watched.errors if "401" not in e] == []


async def test_the_chart_shows_a_week_from_the_rollups(tmp_path: Path, browser: Browser) -> None:
    async with running(tmp_path, WebConfig(snapshot_interval_s=0.5)) as rig:
        watched = await open_page(
            browser, rig, "/?lang=en", viewport={"width": 1440, "height": 1000}
        )
        page = watched.page
        await expect(page.locator(".card")).to_have_count(5)  # the snapshot (the server's clock)
        await page.locator("#chart-range").select_option("7")
        await expect(page.locator("#chart-title")).to_contain_text("· 7d")
        # Every event of the week, the one older than a day included: longs $243.30K.
        await expect(page.locator("#chart-totals")).to_have_text("Long $243.30K · Short $1.32M")
        await page.locator("#chart-range").select_option("30")
        await expect(page.locator("#chart-title")).to_contain_text("· 30d")
        await expect(page.locator("#chart-totals")).to_have_text("Long $243.30K · Short $1.32M")
        assert watched.errors == []
