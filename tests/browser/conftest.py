"""Browser tests: Playwright drives Debian's chromium (``apt-get install -y chromium``;
no browser is downloaded) against a real ``pss-ordering serve --demo``.

They are slow (``-m slow``). Without chromium they skip locally and fail in CI
(``CI=true``), so CI never passes without having run them. Screenshots go to the
git-ignored ``screenshots/`` folder at the repository root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.served import Served, serve

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed and CI=true: the browser tests must run")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``serve --demo`` with its workers (timers, delivery) on a fresh SQLite file."""
    with serve(tmp_path, args=("--demo",), env={"PSS_RUN_WORKERS": "true"}) as running:
        yield running


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Any]:
    """``new_page()`` -> a page in a browser context of its own (its own cookies)."""
    opened: list[BrowserContext] = []

    def new_page(viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        opened.append(context)
        page = context.new_page()
        violations: list[str] = []
        page.csp_violations = violations  # type: ignore[attr-defined]

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                violations.append(message.text)

        page.on("console", on_console)
        return page

    yield new_page
    for context in opened:
        context.close()


def sign_in(page: Page, served: Served, label: str) -> None:
    """The demo party picker, with the keyboard-usable form a person would use."""
    page.goto(served.url("/console/login"))
    page.get_by_label(label, exact=False).check()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/**")


def check_accessibility(page: Page) -> None:
    """axe-core (shipped by axe-playwright-python) finds no violation on the page."""
    results = Axe().run(page)
    assert results.response["passes"], "axe-core did not run"
    assert results.violations_count == 0, results.generate_report()


def screenshot(page: Page, name: str) -> None:
    """The page at desktop and phone width, into the git-ignored screenshots folder."""
    SHOTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)  # type: ignore[arg-type]
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    if size:
        page.set_viewport_size(size)
