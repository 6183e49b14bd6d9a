"""The web app as the browser tests use it: `python app.py` started on a free loopback port
(``running_app``), and a page in Debian's Chromium through Playwright (``chromium_page``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"the app did not answer at {url} within {timeout:.0f}s")


@contextmanager
def running_app(
    index: Path, env: dict[str, str], log: Path, *args: str, cwd: Path | None = None
) -> Iterator[str]:
    """`python app.py --index INDEX --port PORT [ARGS]` with ``env`` added to this process's
    environment (QA_MODEL defaults to the hashing embedder); yields the app's URL. A start
    that fails fails the test with the app's log."""
    port = free_port()
    full_env = {
        **os.environ,
        "QA_MODEL": "hash-384",
        "GRADIO_ANALYTICS_ENABLED": "False",
        **env,
    }
    full_env.pop("QA_INDEX", None)
    command = [sys.executable, str(ROOT / "app.py"), "--index", str(index), "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, *args],
            cwd=cwd or index.parent,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        try:
            wait_until_up(url, proc)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"{exc}\n--- app log ---\n{log.read_text(errors='replace')}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
