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


# axe-core from the npm registry, installed by `make browser` (never fetched by a test).
AXE = Path(__file__).resolve().parent.parent / ".venv" / "npm" / "node_modules" / "axe-core"


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is (WCAG 2.x A and AA
    rules, best practices too); the test is skipped where axe-core is missing."""
    script = AXE / "axe.min.js"
    if not script.is_file():
        pytest.skip(f"!!! ACCESSIBILITY CHECK SKIPPED: {script} is missing (`make browser`). !!!")
    page.add_script_tag(path=str(script))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          // colours caught mid-transition (a reply fading in) would count as low contrast
          await Promise.allSettled(document.getAnimations().map((a) => a.finished));
          return (await axe.run(document)).violations;
        }"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["html"][:200] for n in v["nodes"][:3]]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]  # fmt: skip


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
            page.wait_for_function("() => window.qaTaken !== undefined")  # the page's script ran
            yield page
        finally:
            browser.close()
