"""Adding documents from the page, in Chromium: drop a file, watch the index update, ask about
it; a wrong type is refused with a clear message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS
from test_ui import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, wait_until_up

from qa import Settings, build_index

NOTE = (
    "# Elling rowing club\n\n"
    "The Elling rowing club moved its boathouse to the north bank of the river in March 2024.\n"
)


@pytest.fixture(scope="module")
def upload_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    base = tmp_path_factory.mktemp("ui-upload")
    corpus = base / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = base / "index"
    build_index(corpus, index, settings=Settings(model="hash-384"))
    port = free_port()
    env = {**os.environ, "QA_MODEL": "hash-384", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("QA_UPLOADS", None)
    with (base / "app.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--index", str(index), "--port", str(port)],
            cwd=base,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, proc)
        yield url, corpus
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture
def page(upload_app: tuple[str, Path]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"!!! BROWSER TESTS SKIPPED: {CHROMIUM} is missing (`make browser`) !!!")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 800})
            tab.set_default_timeout(60_000)
            tab.goto(upload_app[0])
            tab.locator("#qa-question textarea").wait_for()
            yield tab
        finally:
            browser.close()


@pytest.mark.browser
def test_browser_adds_a_document_and_answers_from_it(
    page: Any, upload_app: tuple[str, Path], tmp_path: Path
) -> None:
    _, corpus = upload_app
    assert "5 articles" in page.locator("#qa-index").inner_text()
    note = tmp_path / "Elling club.md"
    note.write_text(NOTE, encoding="utf-8")
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ not a document")
    page.locator("#qa-add").get_by_text("Add documents").click()
    page.locator("#qa-files input[type=file]").set_input_files([str(note), str(bad)])
    status = page.locator("#qa-upload-status")
    status.get_by_text("The index is up to date").wait_for()
    assert "uploads/Elling club.md" in status.inner_text()
    assert "tool.exe" in status.inner_text() and ".exe files are not read" in status.inner_text()
    assert (corpus / "uploads" / "Elling club.md").read_text(encoding="utf-8") == NOTE
    page.locator("#qa-index").get_by_text("6 articles").wait_for()

    page.locator("#qa-question textarea").fill(
        "Where did the Elling rowing club move its boathouse?"
    )
    page.locator("#qa-send").click()
    reply = page.locator("#qa-chat .qa-reply").first
    reply.wait_for()
    assert "uploads/Elling club.md" in reply.inner_text()
