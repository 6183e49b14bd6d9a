"""Adding documents from the page, in Chromium: drop a file, watch the index update, ask about
it; a wrong type is refused with a clear message."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appserver import running_app
from conftest import SEEDS
from webapp import chromium_page

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
    with running_app(index, base, env={"QA_UPLOADS": ""}) as app:
        yield app.url, corpus


@pytest.fixture
def page(upload_app: tuple[str, Path]) -> Iterator[Any]:
    with chromium_page(upload_app[0]) as tab:
        yield tab


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


@pytest.mark.browser
def test_browser_opens_the_readable_article_and_serves_no_file(
    page: Any, upload_app: tuple[str, Path]
) -> None:
    import urllib.error
    import urllib.request

    url, corpus = upload_app
    page.locator("#qa-question textarea").fill("Who is Cavendish's new head of performance?")
    page.locator("#qa-send").click()
    reply = page.locator("#qa-chat .qa-reply").last
    reply.wait_for()
    article = reply.locator("details.qa-article").first
    article.locator("summary").click()
    text = article.locator(".qa-article-text").inner_text()
    assert len(text) > 500 and "Cavendish" in text  # the whole article, as cleaned
    assert "Open the original file" not in reply.inner_text()
    html = reply.evaluate("e => e.innerHTML")
    assert str(corpus.resolve()) not in html and "gradio_api/file" not in html  # no server path
    for path in (next(corpus.glob("*.txt")).resolve(), corpus.parent / "app.log"):
        try:
            with urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status in (403, 404), path  # no file of the server is served as it is
