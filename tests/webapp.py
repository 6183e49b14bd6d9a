"""A page of the web app in Debian's Chromium through Playwright, for the browser tests (the
app itself is started by ``appserver.running_app``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"!!! BROWSER TESTS SKIPPED: {CHROMIUM} is missing. Install Debian's Chromium "
            "(`apt-get install -y chromium`, or `make browser`) to run them. !!!"
        )


@contextmanager
def chromium_page(url: str, width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A page on ``url`` in headless Chromium, once the question box is there."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator("#qa-question textarea").wait_for()
            yield page
        finally:
            browser.close()
