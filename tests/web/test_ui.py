"""The web chat: reply HTML, the /ask API through gradio_client, and the page in Chromium.

The app runs as `python app.py` in a subprocess, over an index of the seed articles plus one
hostile article, built with the instant hashing embedder (QA_MODEL=hash-384).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from appserver import running_app
from playwright.sync_api import expect
from webapp import CHROMIUM, CHROMIUM_ARGS, axe_violations

from qa import Answer, Citation, Hit, Settings, ask, build_index, index_info
from qa.ingest.cleaning import clean
from qa.types import Document
from qa.web.render import (
    ECHO_CHARS,
    NOTHING_RELEVANT,
    answer_text,
    esc,
    highlight,
    render_answer,
    render_index_info,
    render_passage,
    render_user,
)
from qa.web.ui import article_reader

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
ARTIFACTS = ROOT / "artifacts"
HASH = Settings(model="hash-384")

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE_NAME = "zz_hostile.txt"
HOSTILE = (
    f"Zanzibar pineapple festival {SCRIPT} opens\n\n"
    "The Zanzibar pineapple festival opened on Saturday with a parade of giant pineapples.\n"
    f"Organisers printed {SCRIPT} on every pineapple festival ticket by mistake.\n"
    f"The festival poster showed {IMG} instead of a pineapple.\n"
    "The programme had a **bold** claim, [a link](javascript:alert(1)) and $x^2$ in it.\n"
)
XSS_QUESTION = "What did the Zanzibar pineapple festival organisers print on every ticket?"


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def ui_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("ui") / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / HOSTILE_NAME).write_text(HOSTILE, encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def ui_index(ui_corpus: Path) -> Path:
    index = ui_corpus.parent / "index"
    build_index(ui_corpus, index, settings=HASH)
    return index


@pytest.fixture(scope="module", params=["local", "milvus"])
def chat_store(
    request: pytest.FixtureRequest, ui_corpus: Path, ui_index: Path
) -> Iterator[tuple[Path, Settings]]:
    """The ui corpus's index on each store (the chat's contract tests run on both): the local
    folder, and Milvus Lite, its working copy then deleted (what a query reads is in Milvus)."""
    if request.param == "local":
        yield ui_index, HASH
        return
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from qa.indexing.milvus import close_all

    settings = replace(HASH, store=f"milvus:{ui_corpus.parent / 'milvus.db'}")
    working = ui_corpus.parent / "milvus-index"
    build_index(ui_corpus, working, settings=settings)
    shutil.rmtree(working)
    yield working, settings
    close_all()


@pytest.fixture(scope="module")
def server(ui_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python app.py --index ... --port ...` on a free local port; yields its URL."""
    with running_app(ui_index, tmp_path_factory.mktemp("server")) as app:
        yield app.url


# ---------------------------------------------------------------------------------------------
# Reply HTML (no server)


def hostile_answer() -> Answer:
    start = HOSTILE.index("Organisers")
    sentence = HOSTILE[start : HOSTILE.index("\n", start)]
    p_start = HOSTILE.index("The Zanzibar")
    passage = HOSTILE[p_start:]
    hit = Hit(
        text=passage,
        source=f"{IMG}.txt",
        score=0.9,
        start=p_start,
        end=len(HOSTILE),
        title=f"Festival {SCRIPT}",
        date="2023-10-06",
        rank=1,
    )
    cite = Citation(1, hit.source, start, start + len(sentence), sentence, hit.title, hit.date, 0)
    return Answer(question="q", text=sentence, citations=(cite,), passages=(hit,), confidence=0.9)


def as_document(source: str, text: str) -> Document:
    c = clean(text)
    return Document(source, text, "", c.title, c.date, c.segments, c.removed)


def test_reply_escapes_document_text_titles_and_names() -> None:
    answer = hostile_answer()
    out = render_answer(
        answer, question="q", read_article=lambda source: as_document(source, HOSTILE)
    )
    assert "<script" not in out.lower()
    assert "<img" not in out.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    # the cited sentence is marked, escaped, in the answer's passage and in the whole article
    marked = f'<mark class="qa-mark qa-n1">{html.escape(answer.citations[0].text)}</mark>'
    assert out.count(marked) == 2
    assert '<details class="qa-article">' in out


def test_highlight_escapes_around_and_inside_marks() -> None:
    text = f"a {SCRIPT} b <i>c</i>"
    out = highlight(text, [(2, 2 + len(SCRIPT), 1)])
    assert out == (
        'a <mark class="qa-mark qa-n1">&lt;script&gt;alert(1)&lt;/script&gt;</mark>'
        " b &lt;i&gt;c&lt;/i&gt;"
    )
    assert highlight("x\ny", [(5, 9, 1), (-3, 0, 2)]) == "x<br>y"


def test_blank_lines_make_one_modest_gap_not_empty_lines() -> None:
    assert esc("one\n\n\n\n  two\nthree") == 'one<span class="qa-gap"></span>two<br>three'
    text = "First paragraph.\n\n\n\nSecond one.\n \nThird."
    hit = Hit(text, "a.txt", 1.0, 0, len(text), "A", None, rank=1)
    out = render_passage(hit)
    assert "<br><br>" not in out and out.count('<span class="qa-gap"></span>') == 2


def test_a_very_long_question_is_echoed_cut_with_a_note() -> None:
    short = render_user("short <b>?</b>")
    assert short == '<span class="qa-user">short &lt;b&gt;?&lt;/b&gt;</span>'
    question = " ".join(f"word{i}" for i in range(1000))
    out = render_user(question)
    shown = html.unescape(out.removeprefix('<span class="qa-user">').split("…", 1)[0])
    assert question.startswith(shown) and ECHO_CHARS // 2 < len(shown) <= ECHO_CHARS
    more = re.search(r"\(([\d,]+) more characters\)", out)
    assert more is not None and int(more.group(1).replace(",", "")) == len(question) - len(shown)
    assert len(out) < ECHO_CHARS + 120


def test_copy_text_is_the_answer_then_its_sources_without_markup() -> None:
    answer = hostile_answer()
    cite = answer.citations[0]
    text = answer_text(answer)
    assert text == f"{cite.text} [1]\n\n[1] Festival {SCRIPT} — 2023-10-06 — {IMG}.txt"
    out = render_answer(answer)
    assert f'<span class="qa-plain">{html.escape(text)}</span>' in out  # escaped in the page
    assert '<button type="button" class="qa-copy">Copy answer</button>' in out


def test_citation_markers_are_buttons_numbered_like_their_marks() -> None:
    answer = hostile_answer()
    out = render_answer(answer, read_article=lambda source: as_document(source, HOSTILE))
    lead = out.split('<p class="qa-answer">', 1)[1].split("</p>", 1)[0]
    assert '<button type="button" class="qa-ref qa-cite qa-n1"' in lead
    assert out.count('<mark class="qa-mark qa-n1">') == 2  # in the article and the passage


def test_whole_article_shows_the_cleaned_text_only(ui_corpus: Path) -> None:
    from qa.web.render import render_article

    source = "001_1bde5f3f857fbb0b.txt"
    doc = article_reader(ui_corpus)(source)
    assert doc is not None and doc.removed
    sentence = "It was confirmed by his team on Wednesday that Cavendish"
    start = doc.text.index(sentence)
    end = doc.text.index(".", start) + 1
    cite = Citation(1, source, start, end, doc.text[start:end], doc.title, doc.date, 0)
    out = render_article(doc, [cite])
    assert f'<mark class="qa-mark qa-n1">{html.escape(cite.text)}</mark>' in out
    for boilerplate in ("Get The Leadout Newsletter", "Image credit", "date 2023-10-05"):
        assert boilerplate in doc.text and boilerplate not in out
    assert out.count("characters of web-page boilerplate left out") >= 2
    assert "could not be read" in render_article(None, [cite])


def test_reply_to_a_real_answer_marks_the_cited_sentence(ui_index: Path, ui_corpus: Path) -> None:
    answer = ask("Who is Vasilis Anastopoulos?", k=5, index_dir=ui_index, settings=HASH)
    assert answer.answerable and answer.citations
    out = render_answer(answer, question=answer.question, read_article=article_reader(ui_corpus))
    first = answer.citations[0]
    assert f"[{first.number}]" in out
    assert html.escape(first.source) in out and html.escape(first.title) in out
    marked = f'<mark class="qa-mark qa-n1">{html.escape(first.text).replace(chr(10), "<br>")}'
    assert out.count(marked) >= 2  # in its passage and in the whole article
    assert out.count('class="qa-passage"') == len(answer.passages) == 5
    assert "Searched for" not in out  # the question was searched as it is


def test_answered_reply_reads_title_first_and_hides_scores(ui_index: Path) -> None:
    answer = ask("Who is Vasilis Anastopoulos?", k=5, index_dir=ui_index, settings=HASH)
    assert answer.status == "answered"
    out = render_answer(answer, question=answer.question)
    lead = answer.passages[answer.citations[0].passage]
    meta = out.split('<div class="qa-meta"', 1)[1].split("</div>", 1)[0]
    assert meta.index(html.escape(lead.title)) < meta.index('<small class="qa-source">')
    assert f'<small class="qa-source">{html.escape(lead.source)}</small>' in meta
    # no jargon in the text a reader sees: the score is only in a tooltip
    visible = re.sub(r'title="[^"]*"', "", out)
    assert "score" not in visible and "hash-384" not in visible
    # the lead passage is shown, the other four are collapsed under "More passages"
    before, more = out.split('<details class="qa-passages">', 1)
    assert before.count('class="qa-passage"') == 1 and "<summary>More passages (4)" in more
    assert "Top passages" not in out and '<details class="qa-passages" open>' not in out


def test_not_answerable_reply_says_nothing_relevant(ui_index: Path) -> None:
    strict = replace(HASH, abstain_below=2.0)  # no cosine reaches 2: always abstain
    answer = ask("why did Cavendish un-retire?", k=3, index_dir=ui_index, settings=strict)
    assert not answer.answerable
    out = render_answer(answer, question=answer.question)
    assert NOTHING_RELEVANT in out
    assert '<p class="qa-answer">' not in out and "<mark" not in out
    assert '<details class="qa-passages">' in out  # closest passages, collapsed
    assert out.count('class="qa-passage"') == 3


def test_the_three_outcomes_read_differently_and_share_their_actions(ui_index: Path) -> None:
    question = "why did Cavendish un-retire?"
    settings = {
        "answered": HASH,
        "passages": replace(HASH, answer_from=1.0),  # never sure enough to answer
        "not_found": replace(HASH, abstain_below=2.0),
    }
    first: dict[str, str] = {}
    for status, chosen in settings.items():
        answer = ask(question, k=3, index_dir=ui_index, settings=chosen)
        assert answer.status == status
        out = render_answer(answer, question=question)
        first[status] = re.sub(r"<[^>]+>", "", out.split("\n")[1])  # the reply's first line
        if status != "not_found":  # a quote: marker, citations and Copy, whatever the outcome
            assert 'class="qa-ref qa-cite qa-n1"' in out
            assert 'class="qa-citation qa-n1"' in out and 'class="qa-copy"' in out
            assert answer.citations[0].text.split()[0] in first[status] or status == "passages"
    assert first["passages"].startswith("Not certain; the closest passage says")
    assert first["not_found"].startswith("The articles don't say")
    assert len(set(first.values())) == 3


def test_followup_reply_shows_what_was_searched(chat_store: tuple[Path, Settings]) -> None:
    from qa.web.ui import reply_html

    index, settings = chat_store
    out, query = reply_html("and who coaches him?", PREVIOUS_Q, 3, str(index), settings)
    assert query.startswith("and who coaches him?") and "Cavendish" in query
    assert "Searched for: <q>and who coaches him? Cavendish" in out


PREVIOUS_Q = "why did Cavendish un-retire?"


def test_chat_replies_are_the_same_on_either_store(
    chat_store: tuple[Path, Settings], ui_index: Path
) -> None:
    from qa.web.ui import reply_html

    index, settings = chat_store
    for question in ("Who is Vasilis Anastopoulos?", PREVIOUS_Q, "fractured collarbone crash"):
        local = reply_html(question, None, 5, str(ui_index), HASH)
        assert reply_html(question, None, 5, str(index), settings) == local
        assert "Open the whole article" in local[0] or "qa-passage" in local[0]


def test_chat_remembers_the_typed_question_not_its_expansion(
    chat_store: tuple[Path, Settings],
) -> None:
    from qa.web.chat import Conversation
    from qa.web.ui import answer_turn, chat_messages

    chat = Conversation()
    index, settings = chat_store

    def answerer(question: str, previous: str) -> tuple[str, bool]:
        return answer_turn(question, previous, 3, str(index), settings)

    def turn(question: str) -> str:
        chat.ask(question)
        assert chat.answer_next(answerer)
        return chat_messages(chat)[-1]["content"]

    turn(PREVIOUS_Q)
    assert chat.last_question == PREVIOUS_Q and len(chat_messages(chat)) == 2
    reply = turn("and who coaches him?")
    assert chat.last_question == "and who coaches him?"  # not "... Cavendish un-retire"
    assert "Searched for: <q>and who coaches him? Cavendish un-retire</q>" in reply
    assert "Searched for: <q>and since when? coaches</q>" in turn("and since when?")
    # a failed question (too long) leaves the one to lean on unchanged
    assert "Sorry" in turn("x" * 5000)
    assert chat.last_question == "and since when?"
    assert [m["role"] for m in chat_messages(chat)] == ["user", "assistant"] * 4


@pytest.mark.parametrize(
    ("question", "index", "message"),
    [
        ("   ", None, "the question is empty"),
        ("?!", None, "the question has no words in it"),
        ("x" * 5000, None, "the question is too long"),
        ("why?", "missing", "no index"),
    ],
)
def test_errors_become_a_friendly_reply(
    question: str, index: str | None, message: str, ui_index: Path, tmp_path: Path
) -> None:
    from qa.web.ui import reply_html

    where = str(tmp_path / "nothing-here") if index else str(ui_index)
    out, query = reply_html(question, None, 5, where, HASH)
    assert out.startswith('<div class="qa-reply qa-error">') and "Sorry" in out
    sentence = message[:1].upper() + message[1:]  # an error reads as a sentence
    assert sentence in out and "Traceback" not in out and query == ""


def test_index_header_shows_index_build_time_and_staleness(
    ui_index: Path, ui_corpus: Path, tmp_path: Path
) -> None:
    from qa.web.ui import _index_header

    info = index_info(ui_index)
    out = render_index_info(info)
    assert html.escape(str(ui_index)) in out and "updated 20" in out and "UTC" in out
    visible = re.sub(r"<[^>]+>", "", out)
    assert "index" not in visible  # the folder only in a tooltip: no "index index built"
    assert f"{info['files']} articles" in out and info["first_date"] and info["last_date"]
    assert f"dated {info['first_date']} to {info['last_date']}" in out
    assert "hash-384" not in re.sub(r'title="[^"]*"', "", out)  # the model only in a tooltip
    assert "changed since" not in out
    assert "changed since" in render_index_info({**info, "stale": True, "changed_files": ["a"]})
    missing = _index_header(str(tmp_path / "none"))
    assert "No usable index" in missing


def test_article_reader_stays_inside_the_corpus(ui_corpus: Path) -> None:
    read = article_reader(ui_corpus)
    hostile = read(HOSTILE_NAME)
    assert hostile is not None and hostile.text == HOSTILE
    assert read("../index/CURRENT") is None
    assert read("/etc/passwd") is None
    assert read("no-such-file.txt") is None


def test_api_result_is_plain_json(ui_index: Path) -> None:
    answer = ask(PREVIOUS_Q, k=2, index_dir=ui_index, settings=HASH)
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["text"] == answer.text and data["answerable"] is answer.answerable
    assert data["status"] == answer.status and data["missing"] == list(answer.missing)
    assert data["question"] == PREVIOUS_Q and len(data["passages"]) == 2
    assert set(data["passages"][0]) >= {"source", "title", "date", "score", "text", "start", "end"}
    assert set(data["citations"][0]) >= {"number", "source", "start", "end", "text"}


def test_app_builds_without_an_index(tmp_path: Path) -> None:
    """The page comes up (saying there is no index) instead of failing or building one."""
    from qa.web.ui import make_app

    app = make_app(tmp_path / "no-index", HASH)
    assert not (tmp_path / "no-index").exists()
    config = json.dumps(app.get_config_file(), default=str)
    assert "No usable index" in config


def test_chat_has_no_copy_or_share_buttons(tmp_path: Path) -> None:
    """Gradio's copy buttons copy a reply's raw HTML, and share sends it away: none are shown."""
    from qa.web.ui import make_app

    config = make_app(tmp_path / "no-index", HASH).get_config_file()
    chat = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "qa-chat"]
    assert len(chat) == 1 and chat[0]["props"]["buttons"] == []
    box = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "qa-question"]
    assert box[0]["props"]["autofocus"] is False  # focusing it scrolled the page down on load


def test_app_module_reads_qa_index_and_parses_arguments(
    ui_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`app.py` builds `demo` at import (index from $QA_INDEX) and launches only when run."""
    import importlib.util

    monkeypatch.setenv("QA_INDEX", str(ui_index))
    monkeypatch.setenv("QA_MODEL", "hash-384")
    spec = importlib.util.spec_from_file_location("qa_app_under_test", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    default_index = module.DEFAULT_INDEX
    assert default_index == str(ui_index)
    assert "updated" in json.dumps(module.demo.get_config_file(), default=str)
    args = module.parse_args([])
    assert (args.host, args.port, args.index) == ("127.0.0.1", 7860, str(ui_index))
    assert args.corpus == "seeds"
    args = module.parse_args(["--host", "0.0.0.0", "--port", "8000", "--index", "other"])
    assert (args.host, args.port, args.index) == ("0.0.0.0", 8000, "other")
    monkeypatch.setenv("QA_CORPUS", "articles")
    assert module.parse_args([]).corpus == "articles"
    assert module.demo.qa_index == str(ui_index)


def test_missing_index_is_built_from_the_corpus_before_serving(tmp_path: Path) -> None:
    """`python app.py` on a fresh checkout: no index yet, so it is built (with progress)."""
    from qa.web.ui import ensure_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in sorted(SEEDS.iterdir())[:3]:
        shutil.copy(f, corpus / f.name)
    lines: list[str] = []
    assert ensure_index(tmp_path / "index", corpus, HASH, echo=lines.append)
    assert index_info(tmp_path / "index")["files"] == 3
    assert "building it from the articles" in lines[0] and "Indexed 3 articles" in lines[-1]
    assert any("embedding" in line for line in lines)
    lines.clear()
    assert not ensure_index(tmp_path / "index", corpus, HASH, echo=lines.append)
    assert lines == []


def test_qa_serve_command_is_listed() -> None:
    from click.testing import CliRunner

    from qa.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--index" in result.output and "--host" in result.output and "--port" in result.output
    assert "127.0.0.1" in result.output and "7860" in result.output


# ---------------------------------------------------------------------------------------------
# The /ask API through gradio_client


def expected(question: str, k: int, ui_index: Path) -> dict[str, Any]:
    return ask(question, k=k, index_dir=ui_index, settings=HASH).to_dict()


def test_client_asks_through_the_named_endpoint(
    server: str, ui_index: Path, ui_corpus: Path
) -> None:
    from gradio_client import Client

    client = Client(server, verbose=False)
    assert "/ask" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    result = client.predict("why did Cavendish un-retire?", 5, api_name="/ask")
    assert result == expected("why did Cavendish un-retire?", 5, ui_index)
    assert result["answerable"] and result["text"] and len(result["passages"]) == 5
    for c in result["citations"]:
        text = (ui_corpus / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["text"]
        assert c["text"] in result["text"]

    who = client.predict("Who is Vasilis Anastopoulos?", 3, api_name="/ask")
    assert "Anastopoulos" in who["text"]
    assert who["citations"][0]["source"] == "000_2f40f508961ca104.txt"
    assert len(who["passages"]) == 3


def test_client_gets_library_errors_as_messages(server: str) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server, verbose=False)
    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", 5, api_name="/ask")
    with pytest.raises(AppError, match="k must be at least 1"):
        client.predict("why?", 0, api_name="/ask")


def test_concurrent_clients_each_get_their_own_answer(server: str, ui_index: Path) -> None:
    from gradio_client import Client

    questions = [
        ("why did Cavendish un-retire?", 5),
        ("Who is Vasilis Anastopoulos?", 3),
        ("What injury ended Cavendish's 2023 Tour?", 4),
        ("Vinokourov broke his femur", 2),
        ("Ekstra Bladet Mørkøv", 5),
        (XSS_QUESTION, 1),
        ("Project 35 for 2024", 6),
        ("Giro d'Italia final stage in Rome", 3),
    ]
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def call(i: int, question: str, k: int) -> None:
        try:
            results[i] = Client(server, verbose=False).predict(question, k, api_name="/ask")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i, q, k)) for i, (q, k) in enumerate(questions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for i, (question, k) in enumerate(questions):
        assert results[i] == expected(question, k, ui_index), question


# ---------------------------------------------------------------------------------------------
# The page in Chromium


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = (
            f"!!! BROWSER TESTS SKIPPED: {CHROMIUM} is missing. Install Debian's Chromium "
            "(`apt-get install -y chromium`, or `make browser`) to run them. !!!"
        )
        warnings.warn(reason, stacklevel=1)
        print(f"\nWARNING: {reason}", file=sys.stderr)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A browser page on the app, with what it tried to fetch elsewhere and any dialogs."""

    page: Any
    external_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


# The window sizes the page must read well at: a laptop and a phone.
SIZES = [pytest.param((1280, 800), id="1280x800"), pytest.param((390, 844), id="390x844")]


@pytest.fixture
def tab(chromium: Any, server: str, request: pytest.FixtureRequest) -> Iterator[Tab]:
    """The page in a fresh browser window: 1280×1100 unless parametrized (indirect) with a
    (width, height). The page may use the clipboard."""
    width, height = getattr(request, "param", (1280, 1100))
    context = chromium.new_context(
        viewport={"width": width, "height": height},
        permissions=["clipboard-read", "clipboard-write"],
    )
    tab = Tab(context.new_page())

    def on_request(request: Any) -> None:
        if not request.url.startswith(server) and not request.url.startswith("data:"):
            tab.external_requests.append(request.url)

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)
        dialog.dismiss()

    tab.page.on("request", on_request)
    tab.page.on("dialog", on_dialog)
    tab.page.set_default_timeout(60_000)
    tab.page.goto(server)
    tab.page.locator("#qa-question textarea").wait_for()
    tab.page.wait_for_function("() => window.qaTaken !== undefined")  # the page's script ran
    try:
        yield tab
    finally:
        context.close()


def ask_in_page(page: Any, question: str, replies_before: int) -> Any:
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-send").click()
    reply = page.locator("#qa-chat .qa-reply").nth(replies_before)
    reply.wait_for()
    scrolled_to_answer(page, replies_before + 1)
    return reply


def scrolled_to_answer(page: Any, replies: int) -> None:
    """Wait until the page has scrolled to the question of its ``replies``-th answer."""
    page.wait_for_function("n => (window.qaShown || 0) >= n", arg=replies)


def loaded(page: Any) -> None:
    """Wait until the page has loaded its header (the index it answers from)."""
    page.locator("#qa-index", has_text="updated").wait_for()


@pytest.mark.browser
def test_browser_answers_with_citation_and_highlight(tab: Tab, ui_index: Path) -> None:
    page = tab.page
    question = "Who is Vasilis Anastopoulos?"
    want = ask(question, k=5, index_dir=ui_index, settings=HASH)
    loaded(page)
    header = page.locator("#qa-index").inner_text()
    assert "updated" in header and "articles" in header and "dated" in header
    assert "hash-384" not in header and "score" not in header
    loaded(page)
    assert page.evaluate("window.scrollY") == 0  # the page opens at the top
    assert page.locator(".qa-header h1").is_visible()

    reply = ask_in_page(page, question, 0)
    first = want.citations[0]
    assert first.text in reply.locator(".qa-answer").inner_text()
    citation = reply.locator(".qa-citation").first
    assert first.source in citation.inner_text() and first.title in citation.inner_text()
    marks = reply.locator(".qa-passage mark")
    assert marks.count() >= 1 and marks.first.inner_text() == first.text
    assert reply.locator(".qa-passage").count() == 5

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"))

    # the whole article opens with the cited sentence marked in it
    article = reply.locator("details.qa-article").first
    article.locator("summary").click()
    assert article.locator(".qa-article-text mark").first.inner_text() == first.text
    assert article.locator(".qa-article-text").is_visible()

    # a follow-up carries the subject of the previous question
    follow = ask_in_page(page, "and who coaches him?", 1)
    assert "Searched for:" in follow.locator(".qa-query").inner_text()
    assert "and who coaches him? Vasilis Anastopoulos" in follow.locator(".qa-query").inner_text()

    # the passages slider changes how many passages come back
    page.locator("#qa-k input[type=number]").fill("2")
    page.locator("#qa-k input[type=number]").press("Enter")
    fewer = ask_in_page(page, "Ekstra Bladet Mørkøv", 2)
    assert fewer.locator(".qa-passage").count() == 2

    # an example question is one click away
    page.get_by_role("button", name="What injury ended Cavendish's 2023 Tour?").click()
    page.locator("#qa-chat .qa-reply").nth(3).wait_for()
    assert page.locator("#qa-chat .qa-user").nth(3).inner_text() == (
        "What injury ended Cavendish's 2023 Tour?"
    )
    assert tab.external_requests == []


@pytest.mark.browser
def test_browser_shows_hostile_markup_as_text(tab: Tab) -> None:
    page = tab.page
    question = f"{IMG} {XSS_QUESTION}"
    reply = ask_in_page(page, question, 0)
    text = reply.inner_text()
    assert SCRIPT in text  # the literal markup is visible as text
    assert IMG in text
    assert page.locator("#qa-chat .qa-user").first.inner_text() == question
    assert reply.locator(".qa-passage-text").filter(has_text=SCRIPT).first.is_visible()
    chat = page.locator("#qa-chat")
    assert chat.locator("script").count() == 0
    assert chat.locator("img[src=x]").count() == 0
    assert chat.locator("a[href^=javascript]").count() == 0
    handlers = "els => els.flatMap(e => [...e.attributes].map(a => a.name))"
    names = chat.locator("*").evaluate_all(handlers)
    assert not [n for n in names if n.startswith("on")]  # no element can run script
    assert tab.dialogs == []
    assert tab.external_requests == []


def top_and_bottom(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    return box["y"], box["y"] + box["height"]


def in_view(page: Any, locator: Any) -> bool:
    top, bottom = top_and_bottom(locator)
    return top >= 0 and bottom <= page.viewport_size["height"]


@pytest.mark.browser
@pytest.mark.parametrize("tab", SIZES, indirect=True)
def test_browser_title_examples_and_question_box_in_view_at_load(tab: Tab) -> None:
    page = tab.page
    loaded(page)
    assert page.evaluate("window.scrollY") == 0
    for part in (".qa-header h1", "#qa-index", "#qa-examples", "#qa-question textarea", "#qa-send"):
        assert in_view(page, page.locator(part).first), part
    # the chat carries no label that could cover its placeholder
    assert "Answers" not in page.locator("#qa-chat").inner_text()
    assert page.locator("#qa-chat .placeholder").first.is_visible()
    assert not page.locator("#qa-hint").is_visible()  # no empty band under the question box


@pytest.mark.browser
@pytest.mark.parametrize("tab", SIZES, indirect=True)
def test_browser_question_in_view_after_its_answer(tab: Tab) -> None:
    page = tab.page
    reply = ask_in_page(page, PREVIOUS_Q, 0)
    size = "x".join(str(n) for n in page.viewport_size.values())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui-reply-{size}.png"))  # to look at
    question = page.locator("#qa-chat .qa-user").first
    top, _ = top_and_bottom(question)
    assert 0 <= top <= 120, f"the question stands at {top:.0f}px"
    assert top_and_bottom(reply)[0] < page.viewport_size["height"] * 0.5  # its answer below
    assert page.evaluate("window.scrollY") > 0  # the page itself scrolled: no box inside it

    # a long question within the limit: echoed cut short, its reply's top in view
    reply = ask_in_page(page, "Cavendish " * 190, 1)
    assert 0 <= top_and_bottom(reply)[0] < page.viewport_size["height"]
    echo = page.locator("#qa-chat .qa-user").nth(1).inner_text()
    assert "more characters)" in echo and len(echo) < ECHO_CHARS + 40

    # a 5,000-character question stays in the box, to be trimmed, and a warning says why
    long = "word " * 1000
    box = page.locator("#qa-question textarea")
    box.fill(long)
    page.locator("#qa-send").click()
    page.locator("#qa-hint .qa-hint").wait_for()
    assert "the limit is 2,000" in page.locator("#qa-hint").inner_text()
    assert in_view(page, page.locator("#qa-hint .qa-hint"))  # seen, not under the box
    assert box.input_value() == long
    assert page.locator("#qa-count").inner_text() == "4,999 of 2,000 characters: too long to send"
    box.fill("word " * 380)  # near the limit: counted before it is sent
    assert page.locator("#qa-count").inner_text() == "1,899 of 2,000 characters"
    box.fill(long)
    assert page.locator("#qa-chat .qa-user").count() == 2  # not sent
    page.screenshot(path=str(ARTIFACTS / f"ui-too-long-{size}.png"))


@pytest.mark.browser
@pytest.mark.parametrize("tab", SIZES, indirect=True)
def test_browser_page_passes_axe_and_reads_well_on_a_phone(tab: Tab) -> None:
    page = tab.page
    loaded(page)
    box = page.locator("#qa-question textarea")
    placeholder = box.get_attribute("placeholder") or ""
    fits = box.evaluate(
        "(el, text) => { const c = document.createElement('canvas').getContext('2d');"
        " const s = getComputedStyle(el); c.font = `${s.fontSize} ${s.fontFamily}`;"
        " return c.measureText(text).width <= el.clientWidth - parseFloat(s.paddingLeft)"
        " - parseFloat(s.paddingRight); }",
        placeholder,
    )
    assert placeholder and fits, f"the placeholder {placeholder!r} is cut off"
    footer = page.locator("footer").inner_text().strip()
    assert footer and not footer.startswith("·") and not footer.endswith("·"), footer
    assert axe_violations(page) == []
    ask_in_page(page, "Who is Vasilis Anastopoulos?", 0)
    labels = page.locator("#qa-chat [aria-label]").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert labels and not [x for x in labels if "<" in x], labels  # plain text, no markup
    assert axe_violations(page) == []


def chat_turns(page: Any) -> list[tuple[str, str]]:
    """The chat's bubbles in order: ("user", text) or ("reply", '')."""
    bubbles = page.locator("#qa-chat .qa-user, #qa-chat .qa-reply")
    kinds = bubbles.evaluate_all(
        "els => els.map(e => e.classList.contains('qa-user') ? "
        "['user', e.innerText] : ['reply', ''])"
    )
    return [(kind, text) for kind, text in kinds]


def settle(page: Any) -> list[tuple[str, str]]:
    """Ask one more question and wait for its answer: anything sent before it (a late
    duplicate too) is in the chat by then. The chat's turns, that last question left out."""
    last = "Who coaches Cavendish?"
    page.locator("#qa-send").click()  # the box is empty: sends nothing
    page.locator("#qa-question textarea").fill(last)
    page.locator("#qa-send").click()
    page.wait_for_function(
        """q => {
          const all = [...document.querySelectorAll('#qa-chat .qa-user, #qa-chat .qa-reply')];
          const i = all.findIndex((e) => e.classList.contains('qa-user') && e.innerText === q);
          return i >= 0 && i + 1 < all.length && all[i + 1].classList.contains('qa-reply');
        }""",
        arg=last,
    )
    turns = chat_turns(page)
    assert turns[-2:] == [("user", last), ("reply", "")], turns
    return turns[:-2]


FIRST_Q, SECOND_Q = "Who is Vasilis Anastopoulos?", "What injury ended Cavendish's 2023 Tour?"


@pytest.mark.browser
@pytest.mark.parametrize("tab", SIZES, indirect=True)
def test_browser_two_fast_questions_are_both_kept(tab: Tab) -> None:
    page = tab.page
    box = page.locator("#qa-question textarea")
    box.fill(FIRST_Q)
    box.press("Enter")
    box.press("Enter")  # pressed twice quickly: sent once
    box.fill(SECOND_Q)
    page.locator("#qa-send").click()
    turns = settle(page)
    # each answer right after its own question, and nothing sent twice
    assert turns == [("user", FIRST_Q), ("reply", ""), ("user", SECOND_Q), ("reply", "")]
    assert page.locator("#qa-chat .qa-error").count() == 0


@pytest.mark.browser
@pytest.mark.parametrize("tab", SIZES, indirect=True)
def test_browser_keys_typed_right_after_enter_are_the_next_question(tab: Tab) -> None:
    page = tab.page
    box = page.locator("#qa-question textarea")
    box.fill(FIRST_Q)
    box.press("Enter")
    page.keyboard.type(SECOND_Q)  # at once: the first keys land within a few ms of Enter
    page.keyboard.press("Enter")  # about 0.1 s after the first
    turns = settle(page)
    assert turns == [("user", FIRST_Q), ("reply", ""), ("user", SECOND_Q), ("reply", "")]
    assert box.input_value() == ""
    page.wait_for_function(  # the last question answered comes to the top of the view
        """() => {
          const top = [...document.querySelectorAll('#qa-chat .qa-user')].at(-1)
            ?.getBoundingClientRect().top;
          return top !== undefined && top >= 0 && top <= 120;
        }"""
    )


@pytest.mark.browser
@pytest.mark.parametrize("tab", SIZES, indirect=True)
def test_browser_citation_opens_the_source_and_copy_gives_plain_text(
    tab: Tab, ui_index: Path
) -> None:
    page = tab.page
    question = "Who is Vasilis Anastopoulos?"
    want = ask(question, k=5, index_dir=ui_index, settings=HASH)
    reply = ask_in_page(page, question, 0)
    article = reply.locator("details.qa-article").first
    assert article.evaluate("d => d.open") is False
    reply.locator(".qa-answer button.qa-cite").first.click()
    expect(article).to_have_js_property("open", True)
    mark = article.locator("mark.qa-n1")
    assert mark.inner_text() == want.citations[0].text
    assert in_view(page, mark)

    copy = reply.locator("button.qa-copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == answer_text(want)
    assert not re.search(r"<[a-z/]", copied)  # no tags
    c = want.citations[0]
    assert copied.startswith(" ".join(c.text.split())) and f"[1] {c.title} — " in copied


def test_a_citation_names_its_title_publisher_and_date() -> None:
    hit = Hit(
        text="Cavendish will race on in 2024.", source="001_1bde5f3f857fbb0b.txt", score=1.0,
        start=0, end=31, title="Cavendish to race on", date="2023-10-05", rank=1,
        site="Cycling Weekly",
    )  # fmt: skip
    cite = Citation(1, hit.source, 0, 31, hit.text, hit.title, hit.date, passage=0)
    answer = Answer(hit.text, hit.text, (cite,), (hit,), status="answered", confidence=0.9)
    citations = render_answer(answer).split('<ol class="qa-citations">', 1)[1].split("</ol>")[0]
    label = re.sub(r"<[^>]+>", "", citations)
    assert "Cavendish to race on · Cycling Weekly · 2023-10-05" in label


def test_a_too_long_question_is_kept_with_a_warning() -> None:
    from qa.web.ui import too_long_warning

    assert too_long_warning("x" * 2_000, HASH) == ""
    warning = too_long_warning("x" * 2_345, HASH)
    assert warning.startswith("Your question is 2,345 characters long; the limit is 2,000.")
    assert "still in the box" in warning


def test_an_error_reply_is_a_sentence() -> None:
    from qa.web.render import render_error

    assert "</strong> The question is empty</div>" in render_error("the question is empty")


@pytest.mark.integration
def test_a_question_asked_while_the_first_index_is_built_is_answered_from_it(
    tmp_path: Path,
) -> None:
    """`python app.py` on a fresh checkout: the page is up at once and builds the index in the
    background; /ask called meanwhile waits for the build and answers, with no traceback."""
    from gradio_client import Client

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = sorted(SEEDS.iterdir())
    for i in range(400):  # long enough a build to ask during it
        text = seeds[i % len(seeds)].read_text(encoding="utf-8")
        (corpus / f"{i:03}.txt").write_text(f"Copy {i}\n\n{text}", encoding="utf-8")
    index = tmp_path / "index"
    with running_app(index, tmp_path, args=("--corpus", str(corpus))) as app:
        assert not (index / "CURRENT").exists(), "asked too late: the build had ended"
        result = Client(app.url, verbose=False).predict(
            "Who is Cavendish's new head of performance?", 3, api_name="/ask"
        )
        log = app.output()
    assert (index / "CURRENT").exists() and result["passages"]
    assert "Traceback" not in log and "no index" not in json.dumps(result)
