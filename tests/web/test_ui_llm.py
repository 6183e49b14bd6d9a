"""The web chat with a language model configured: the header says so, the answer streams in,
its [n] markers open the cited passages, and Stop stops it (a scripted OpenAI-compatible server
on loopback, tests/fake_llm.py; Debian's Chromium through Playwright)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from appserver import running_app
from conftest import SEEDS
from fake_llm import Script, fake_llm_server
from webapp import chromium_page

from qa import Settings, build_index
from qa.types import Answer, Citation, Hit
from qa.web.chat import Conversation
from qa.web.render import render_answer, render_draft

REPLY = "He wants a 35th Tour stage win [1]. Astana gave him one more year [2, 1]."
LONG_REPLY = "He rides on " + "and on " * 80 + "[1]."


# --- the parts, without a browser ---------------------------------------------------------------


def _answer() -> Answer:
    hit = Hit("He wants <b>35</b>.", "a.txt", 1.0, 0, 18, "Title <i>", "2023-10-01", rank=1)
    cite = Citation(1, "a.txt", 0, 18, "He wants <b>35</b>.", "Title <i>", "2023-10-01", 0)
    return Answer(
        question="why?",
        text="He <script>x</script> wants it [1].",
        citations=(cite,),
        passages=(hit,),
        origin="generated",
        generator="m<odel>",
    )


def test_generated_answer_is_escaped_and_its_markers_open_sources() -> None:
    html = render_answer(_answer())
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Written by m&lt;odel&gt;" in html
    assert 'class="qa-ref qa-cite qa-n1"' in html
    draft = render_draft("so far <b>bold</b> [1", "m<odel>")
    assert "<b>bold" not in draft and "m&lt;odel&gt; is writing" in draft


def test_a_note_says_why_the_quoted_answer_is_shown() -> None:
    quoted = Answer("why?", "", (), (), status="not_found", note="Quoted answer shown: <x>.")
    assert '<p class="qa-note">Quoted answer shown: &lt;x&gt;.</p>' in render_answer(quoted)


def test_conversation_streams_drafts_and_stops() -> None:
    chat = Conversation()
    chat.ask("why?")
    seen: list[str | None] = []

    def writer(question: str, previous: str) -> Iterator[str | tuple[str, bool]]:
        yield "draft 1"
        yield "draft 2"
        yield ("final", True)

    for done in chat.stream_next(writer):
        seen.append(chat.turns()[0].reply)
        assert done == (seen[-1] == "final")
    assert seen == ["draft 1", "draft 2", "final"] and chat.last_question == "why?"

    chat.ask("and then?")
    steps = chat.stream_next(writer)
    assert next(steps) is False and chat.stop()
    assert list(steps) == []  # the writer gives up at its next piece
    turn = chat.turns()[1]
    assert turn.stopped and turn.reply == "draft 1"
    assert chat.last_question == "why?" and not chat.stop()


# --- in the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm_script() -> Iterator[tuple[Script, str]]:
    script = Script(mode="drip", delay=0.12, reply=REPLY)
    with fake_llm_server(script) as url:
        yield script, url


@pytest.fixture(scope="module")
def llm_app(
    llm_script: tuple[Script, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    _, url = llm_script
    index = tmp_path_factory.mktemp("ui-llm") / "index"
    build_index(SEEDS, index, settings=Settings(model="hash-384"))
    env = {"QA_LLM_URL": url, "QA_LLM_MODEL": "fake-model"}
    with running_app(index, index.parent, env=env) as app:
        yield app.url


@pytest.fixture
def page(llm_app: str) -> Iterator[Any]:
    with chromium_page(llm_app) as tab:
        yield tab


def _ask(page: Any, question: str) -> None:
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-send").click()


@pytest.mark.browser
def test_browser_streams_a_generated_answer_with_working_citations(
    page: Any, llm_script: tuple[Script, str]
) -> None:
    script, _ = llm_script
    script.reply = REPLY
    header = page.locator("#qa-llm").inner_text()
    assert "fake-model" in header and "127.0.0.1" in header
    assert page.locator("#qa-stop").is_visible()

    _ask(page, "why did Cavendish un-retire?")
    draft = page.locator("#qa-chat .qa-draft")
    draft.wait_for()
    assert "is writing" in draft.inner_text()
    partial = draft.locator(".qa-answer").inner_text()
    assert partial and len(partial) < len(REPLY)  # shown before the reply is complete

    written = page.locator("#qa-chat .qa-reply.qa-generated")
    written.wait_for()
    assert "Written by fake-model" in written.inner_text()
    assert "He wants a 35th Tour stage win" in written.locator(".qa-answer").inner_text()
    markers = written.locator(".qa-answer .qa-cite")
    assert markers.count() == 3  # [1], then [2, 1] as two markers
    assert written.locator(".qa-citation").count() == 2
    markers.first.click()
    opened = written.locator(".qa-citation.qa-n1 details.qa-article[open]")
    opened.wait_for()
    assert opened.locator("mark").count() >= 1


@pytest.mark.browser
def test_browser_stop_keeps_what_arrived_and_hangs_up(
    page: Any, llm_script: tuple[Script, str]
) -> None:
    script, _ = llm_script
    script.reply, hung_up = LONG_REPLY, script.hung_up
    _ask(page, "why did Cavendish un-retire?")
    page.locator("#qa-chat .qa-draft").wait_for()
    page.wait_for_function(  # some of the reply has arrived
        "() => (document.querySelector('#qa-chat .qa-draft .qa-answer')?.innerText || '')"
        ".length > 20"
    )
    page.locator("#qa-stop").click()
    stopped = page.locator("#qa-chat .qa-reply", has_text="was stopped")
    stopped.wait_for()
    assert "He rides on" in stopped.inner_text()
    deadline = time.monotonic() + 10
    while script.hung_up == hung_up and time.monotonic() < deadline:
        time.sleep(0.1)
    assert script.hung_up > hung_up, "the request to the model was not closed"
    # the chat goes on: the next question gets its answer
    script.reply = REPLY
    _ask(page, "and who coaches him?")
    page.locator("#qa-chat .qa-reply.qa-generated").last.wait_for()
