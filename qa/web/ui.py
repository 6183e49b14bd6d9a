"""The web chat: ask questions about the indexed articles in a browser (Gradio).

``make_app(index_dir)`` builds the page; ``launch(app, host, port)`` serves it on this machine
only (no share link, no analytics, no fonts or scripts from other hosts). The page never builds
an index: it answers from the live one, and picks up a rebuild (``qa build``) on the next
question. Besides the chat, the app serves one named API endpoint, ``/ask`` (question, k), for
``gradio_client``::

    Client("http://127.0.0.1:7860/").predict("why did Cavendish un-retire?", 5, api_name="/ask")

Gradio is imported only here.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr
from gradio.events import api as gr_api

from ..answer.followup import expand_followup
from ..api import ask, ask_stream, build_index, index_info, index_manifest, search
from ..config import Settings, settings_or_env
from ..errors import ConfigError, IndexNotFoundError, QAError
from ..indexing.store import current_generation
from ..ingest.documents import load_document
from ..signals import stop_on_signals
from ..types import Document
from .background import BackgroundBuild
from .chat import Conversation, Conversations
from .render import (
    ArticleReader,
    render_answer,
    render_building,
    render_draft,
    render_error,
    render_generator,
    render_hint,
    render_index_error,
    render_index_info,
    render_stopped,
    render_upload,
    render_user,
)
from .uploads import add_files

log = logging.getLogger(__name__)

TITLE = "Ask the articles"
EXAMPLES = (
    "why did Cavendish un-retire?",
    "Who is Cavendish's new head of performance?",
    "What injury ended Cavendish's 2023 Tour?",
)
DEFAULT_K = 5
MAX_K = 10
CONCURRENCY = 4  # questions answered at once; the embedding model is shared
QUEUE_SIZE = 64

# System fonts only: nothing is fetched from a font CDN.
THEME = gr.themes.Default(
    primary_hue="blue",
    font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
).set(
    # Contrast of at least 4.5:1 (WCAG AA; axe-core checks it in the browser tests): Gradio's
    # dim grey text (1.9:1) and white on its blue buttons (3.7:1) fall short.
    body_text_color_subdued="*neutral_600",
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover_dark="*primary_800",
)

# Scripts of the page. PAGE_JS runs once on load: it defines qaShowQuestion, which scrolls the
# page (or whatever scrolls the chat) so that a question stands at the top of the view, and it
# handles clicks on a reply's citation markers (open the source at the cited sentence) and on its
# "Copy answer" button (copy the reply's plain text, kept in a hidden .qa-plain next to it). The
# chat's sanitizer drops data-* attributes: a citation's number travels as the class qa-n<number>.
PAGE_JS = r"""
() => {
  // Gradio hides "Use via API" on a phone, not the dot after it. (Set here: Gradio scopes the
  // page's CSS to its main column, which the footer is not in.)
  const style = document.createElement("style");
  style.textContent = "@media (max-width: 640px) { footer .show-api ~ .divider:first-of-type" +
    " { display: none; } }";
  document.head.appendChild(style);
  window.qaShowQuestion = (answered) => {
    const items = [...document.querySelectorAll("#qa-chat .qa-user, #qa-chat .qa-reply")];
    let i = items.length - 1;
    if (answered) {  // the question the latest reply answers
      while (i >= 0 && !items[i].classList.contains("qa-reply")) i--;
    }
    while (i >= 0 && !items[i].classList.contains("qa-user")) i--;
    if (i < 0) return;
    const row = items[i].closest(".message-row") || items[i];
    row.scrollIntoView({block: "start"});
    if (answered) window.qaShown = (window.qaShown || 0) + 1;  // tests wait on it
  };
  const openAt = (mark) => {
    for (let d = mark.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
    mark.scrollIntoView({block: "center"});
    mark.classList.add("qa-flash");
    setTimeout(() => mark.classList.remove("qa-flash"), 2000);
  };
  const copied = (button) => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy answer"; }, 1500);
  };
  const copyText = (button) => {
    const plain = button.parentElement.querySelector(".qa-plain");
    const text = plain ? plain.textContent : "";
    const fallback = () => {  // pages served over plain http on another host
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      copied(button);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(() => copied(button), fallback);
    } else {
      fallback();
    }
  };
  // A question is taken from the box at the instant of Enter or of a click on Ask, and the
  // box emptied there and then: keys typed right after belong to the next question. The page's
  // event for the press takes the oldest question taken (TAKE_QUESTION): any number of presses,
  // however close, each send their own. A question over the limit (the class qa-limit-N of the
  // box) stays in the box, to be trimmed; the server says why it was not sent. Near the limit,
  // a count shows under the box.
  window.qaTaken = [];
  const questionBox = () => document.querySelector("#qa-question textarea");
  const limit = () => {
    const found = /qa-limit-([0-9]+)/.exec(document.querySelector("#qa-question")?.className);
    return found ? Number(found[1]) : Infinity;
  };
  const take = () => {
    const box = questionBox();
    if (!box) return;
    window.qaSent = (window.qaSent || 0) + 1;
    window.qaTaken.push(JSON.stringify([window.qaSent, box.value]));
    if (box.value.trim().length <= limit()) {
      box.value = "";
      box.dispatchEvent(new Event("input", {bubbles: true}));
    }
  };
  document.addEventListener("keydown", (event) => {
    const enter = event.key === "Enter" && !event.shiftKey && !event.isComposing;
    if (enter && event.target instanceof Element && event.target.closest("#qa-question")) take();
  }, true);
  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("#qa-send")) take();
  }, true);
  const count = () => {
    const box = questionBox();
    const ask = document.querySelector("#qa-ask");
    if (!box || !ask) return;
    let shown = document.querySelector("#qa-count");
    if (!shown) {
      shown = document.createElement("p");
      shown.id = "qa-count";
      shown.setAttribute("aria-live", "polite");
      ask.appendChild(shown);
    }
    const n = box.value.trim().length, most = limit();
    shown.textContent = n >= 0.9 * most ?
      `${n.toLocaleString("en")} of ${most.toLocaleString("en")} characters` +
      (n > most ? ": too long to send" : "") : "";
    shown.classList.toggle("qa-over", n > most);
  };
  document.addEventListener("input", (event) => {
    if (event.target instanceof Element && event.target.closest("#qa-question")) count();
  }, true);
  // Gradio labels each message with its raw HTML ("bot's message: <div ...>"): a screen
  // reader would read out the markup. Label it with its text instead.
  const plainLabels = () => {
    for (const el of document.querySelectorAll("#qa-chat [aria-label]")) {
      const label = el.getAttribute("aria-label") || "";
      const colon = label.indexOf(": ");
      if (!label.includes("<") || colon < 0) continue;
      const text = (el.innerText || "").replace(/\s+/g, " ").trim().slice(0, 300);
      el.setAttribute("aria-label", label.slice(0, colon + 2) + text);
    }
  };
  new MutationObserver(plainLabels).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label"],
  });
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const cite = target && target.closest("#qa-chat button.qa-cite");
    if (cite) {
      event.preventDefault();
      const reply = cite.closest(".qa-reply");
      const n = [...cite.classList].find((name) => /^qa-n[0-9]+$/.test(name));
      const mark = reply && n && (reply.querySelector(`.qa-article mark.${n}`) ||
                                  reply.querySelector(`.qa-passage mark.${n}`));
      if (mark) openAt(mark);
      return;
    }
    const copy = target && target.closest("#qa-chat button.qa-copy");
    if (copy) {
      event.preventDefault();
      copyText(copy);
    }
  });
}
"""

# Run after a question is added (False) or an answer arrives (True): once the chat has rendered,
# bring the question up to the top of the view, its answer right below it.
SCROLL_TO_QUESTION = """
async () => {
  await new Promise((resolve) => setTimeout(resolve, 80));
  if (window.qaShowQuestion) window.qaShowQuestion(false);
}
"""
SCROLL_TO_ANSWERED = SCROLL_TO_QUESTION.replace("(false)", "(true)")

# Run in the browser when a question is sent (Enter or Ask): the question is the oldest one
# PAGE_JS took from the box, as JSON [its number in the page's count, its text] (the box's
# value when none was taken, as for a script's submit; see taken_question).
TAKE_QUESTION = """
(current, k) => [window.qaTaken?.length ? window.qaTaken.shift() : current, k]
"""

# The page scrolls, not the chat: the chat grows with its replies, and the question box stays
# at the foot of the window (sticky) so the next question can be typed at any point.
CSS = """
.qa-header h1 { margin: 0 0 .2em 0; font-size: 1.6em; }
.qa-index p { margin: .1em 0; color: var(--body-text-color-subdued); font-size: .92em; }
.qa-stale, .qa-error { color: var(--error-text-color, #b91c1c); }
.gradio-container { overflow: visible !important; }
#qa-chat .message-row { scroll-margin-top: 8px; padding: 14px 16px 10px; }
#qa-chat { min-height: clamp(180px, calc(100dvh - 470px), 420px) !important; }
#qa-chat .placeholder { padding: 12px 16px; }
#qa-ask { position: sticky; bottom: 0; z-index: 20; background: var(--body-background-fill);
  padding: 6px 0; box-shadow: 0 -8px 8px -8px rgba(0, 0, 0, .18); }
.qa-plain { display: none; }
#qa-hint:not(:has(.qa-hint)) { display: none !important; }  /* no empty band under the box */
#qa-count:empty { display: none; }
#qa-count { margin: .2em .6em 0; font-size: .9em; color: var(--body-text-color-subdued); }
#qa-count.qa-over { color: var(--error-text-color, #b91c1c); }
.qa-reply p { margin: .3em 0; }
.qa-answer { font-size: 1.08em; line-height: 1.5; }
.qa-reply mark { background: #fde68a; color: #1f2937; padding: 0 .15em; border-radius: 3px; }
.qa-reply mark { transition: background-color .3s; }
.qa-reply mark.qa-flash { background: #f59e0b; }
.qa-ref { color: var(--link-text-color, #2563eb); font-weight: 600; }
button.qa-cite { background: none; border: 0; padding: 0 .15em; margin: 0; cursor: pointer;
  color: var(--link-text-color, #2563eb); font-weight: 600; font-size: .75em; line-height: 1.2;
  vertical-align: super; }
button.qa-cite:hover { text-decoration: underline; }
button.qa-copy { font-size: .85em; padding: .15em .6em; cursor: pointer;
  border: 1px solid var(--border-color-primary); border-radius: 6px;
  background: var(--button-secondary-background-fill); }
.qa-citations { margin: .4em 0 .6em 0; padding-left: 0; list-style: none; }
.qa-citation { margin: .2em 0; }
.qa-title { font-weight: 600; }
.qa-date, .qa-source, .qa-dates, .qa-also, .qa-query, .qa-note, .qa-more, .qa-removed {
  color: var(--body-text-color-subdued); }
.qa-source { font-size: .82em; }
.qa-query, .qa-more { font-size: .92em; }
.qa-gap { display: block; height: .5em; }
.qa-removed { display: block; font-size: .82em; font-style: italic; margin: .3em 0; }
.qa-reply details > summary { cursor: pointer; color: var(--link-text-color, #2563eb); }
.qa-article-text { max-height: 24em; overflow-y: auto; padding: .5em .8em; margin: .3em 0;
  border: 1px solid var(--border-color-primary); border-radius: 6px; font-size: .93em; }
.qa-passage { border-left: 3px solid var(--border-color-primary); padding: .2em .8em;
  margin: .6em 0; }
.qa-passage .qa-meta { font-size: .9em; margin-bottom: .2em; }
#qa-examples button { white-space: normal; }
.qa-passage-text { font-size: .95em; line-height: 1.45; }
"""


def _k(value: Any) -> int:
    """The slider's value as a whole number of passages."""
    try:
        return max(1, min(MAX_K, round(float(value))))
    except (TypeError, ValueError):
        return DEFAULT_K


def _index_header(
    index_dir: str, builder: BackgroundBuild | None = None, settings: Settings | None = None
) -> str:
    try:
        return render_index_info(index_info(index_dir, settings=settings))
    except IndexNotFoundError as exc:
        state = builder.state if builder is not None else None
        if state is not None and state.running:
            return render_building(state.phase, state.done, state.total)
        return render_index_error(str(exc))
    except QAError as exc:
        return render_index_error(str(exc))
    except Exception as exc:  # a header must never take the page down
        log.exception("reading the index manifest failed")
        return render_index_error(f"the index could not be read ({type(exc).__name__})")


def corpus_file(root: Path, source: str) -> Path | None:
    """The file of a source inside the (resolved) corpus folder ``root``; None for a source
    that leads outside it, or a file that is gone."""
    path = (root / source).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def article_reader(
    corpus_dir: str | os.PathLike[str], settings: Settings | None = None
) -> ArticleReader:
    """Reads an article of the corpus by its source name and cleans it as the index did (pass
    the index's cleaning mode in ``settings``), for the whole-article view.

    A source that would lead outside the corpus folder, or a file that is gone or no longer
    readable, gives None.
    """
    root = Path(corpus_dir).resolve()
    cfg = settings if settings is not None else Settings()

    def read(source: str) -> Document | None:
        path = corpus_file(root, source)
        if path is None:
            return None
        try:
            doc, _ = load_document(path, source, cfg)
        except QAError:
            return None
        return doc

    return read


def reply_stream(
    question: str,
    previous: str | None,
    k: int,
    index_dir: str,
    settings: Settings,
) -> Iterator[str | tuple[str, str]]:
    """The chat reply to ``question``: drafts (HTML) while a language model writes it, then
    the reply as HTML with the text searched for (``""`` when it failed).

    A follow-up carries the key terms of ``previous`` (the previous question as typed, not
    the text searched for it). Library errors become a friendly message; nothing raises.
    """
    query = expand_followup(question, previous)
    if len(query) > settings.max_question_chars:
        query = question.strip()
    config = settings.llm()
    written = ""
    try:
        for item in ask_stream(query, k=k, index_dir=index_dir, settings=settings):
            if isinstance(item, str):
                written += item
                yield render_draft(written, config.model if config else "")
            else:
                answer = item
    except QAError as exc:
        yield render_error(str(exc)), ""
        return
    except Exception as exc:
        log.exception("answering %r failed", query)
        message = f"something went wrong on the server ({type(exc).__name__}); see its log"
        yield render_error(message), ""
        return
    reader = None
    try:
        # The manifest alone: index_info() would stat every corpus file on every reply.
        manifest = index_manifest(index_dir, settings=settings)
        cleaning = settings.with_(clean=manifest.chunker.get("clean") or settings.clean)
        reader = article_reader(manifest.corpus_dir, cleaning)
    except Exception:  # the answer still shows, without the full-article view
        log.exception("finding the corpus folder failed")
    html = render_answer(answer, question=question, read_article=reader)
    yield html, query


def reply_html(
    question: str,
    previous: str | None,
    k: int,
    index_dir: str,
    settings: Settings,
) -> tuple[str, str]:
    """The finished chat reply to ``question`` as HTML, and the text searched for."""
    for item in reply_stream(question, previous, k, index_dir, settings):
        if isinstance(item, tuple):
            return item
    raise AssertionError("reply_stream ends with the reply")  # pragma: no cover


def answer_stream(
    question: str, previous: str, k: Any, index_dir: str, settings: Settings
) -> Iterator[str | tuple[str, bool]]:
    """The reply to one question of a conversation (see ``qa.web.chat.Conversation``): drafts,
    then the reply and whether it was answered without an error (only then may the next
    question lean on it)."""
    for item in reply_stream(question, previous or None, _k(k), index_dir, settings):
        yield item if isinstance(item, str) else (item[0], bool(item[1]))


def answer_turn(
    question: str, previous: str, k: Any, index_dir: str, settings: Settings
) -> tuple[str, bool]:
    """The finished reply to one question of a conversation, and whether it was answered
    without an error."""
    html, query = reply_html(question, previous or None, _k(k), index_dir, settings)
    return html, bool(query)


def chat_messages(conversation: Conversation) -> list[dict[str, str]]:
    """The conversation as the chat shows it: each question, then its reply once there is one."""
    messages = []
    for turn in conversation.turns():
        messages.append({"role": "user", "content": render_user(turn.question)})
        if turn.reply is not None:
            reply = render_stopped(turn.reply) if turn.stopped else turn.reply
            messages.append({"role": "assistant", "content": reply})
    return messages


def upload_reply(
    files: Sequence[str] | None, index_dir: str, settings: Settings, builder: BackgroundBuild
) -> tuple[list[str], list[str]]:
    """Copy uploaded files (Gradio's temporary copies, which keep the original names) into
    the index's corpus folder and start an incremental build; (added, refused) as text."""
    if not files:
        return [], []
    try:
        corpus = index_info(index_dir, settings=settings)["corpus_dir"]
        result = add_files([(Path(f), Path(f).name) for f in files], corpus, settings)
    except QAError as exc:
        return [], [f"nothing added: {exc}"]
    if result.added:
        builder.start(corpus, index_dir, settings)
    return list(result.added), [str(r) for r in result.refused]


# How long an /ask call made while the first index is built waits for it, in seconds.
FIRST_BUILD_WAIT = 600.0


def too_long_warning(question: str, settings: Settings) -> str:
    """What to say of a question over the length limit ('' when it is within it)."""
    length = len(question.strip())
    if length <= settings.max_question_chars:
        return ""
    return (
        f"Your question is {length:,} characters long; the limit is "
        f"{settings.max_question_chars:,}. Shorten it and send it again: it is still in the box."
    )


def taken_question(taken: str) -> tuple[str, int | None]:
    """The question and its number in the page's count, from what TAKE_QUESTION sends: JSON
    ``[number, text]``, or plain text (no number) from a script's submit."""
    if taken.startswith("["):
        try:
            number, text = json.loads(taken)
        except (ValueError, TypeError):
            return taken, None
        if isinstance(number, int) and isinstance(text, str):
            return text, number
    return taken, None


def building_first(builder: BackgroundBuild, index_dir: str) -> bool:
    """Whether the first index of ``index_dir`` is being built: nothing to answer from yet."""
    return builder.state.running and current_generation(Path(index_dir)) is None


def held_until_built(
    builder: BackgroundBuild,
    index_dir: str,
    answer: Callable[[], Iterator[str | tuple[str, bool]]],
    poll: float = 0.25,
) -> Iterator[str | tuple[str, bool]]:
    """While the first index is being built there is nothing to answer from: show the build's
    progress, keep the question, and answer it once the index is live. (While an index is
    updated, the previous one answers at once.) The progress comes as drafts of the reply."""
    shown = ""
    while building_first(builder, index_dir):  # then live, or failed: the answer says which
        state = builder.state
        waiting = render_building(state.phase, state.done, state.total, held=True)
        if waiting != shown:
            shown = waiting
            yield waiting
        time.sleep(poll)
    yield from answer()


def upload_status(added: list[str], refused: list[str], builder: BackgroundBuild) -> str:
    state = builder.state
    detail = state.message if state.state == "failed" else state.phase
    return render_upload(added, refused, state.state, detail, state.done, state.total)


def make_app(
    index_dir: str | os.PathLike[str] = "index",
    settings: Settings | None = None,
    *,
    uploads: bool = False,
) -> Any:
    """The chat page over the index in ``index_dir`` (a ``gr.Blocks``, queued, not launched).
    With ``uploads``, people may add documents from the page (see ``serve`` for when)."""
    index = str(index_dir)
    cfg = settings_or_env(settings)
    llm = cfg.llm()
    builder = BackgroundBuild()  # documents added from the page are indexed by it

    conversations = Conversations()  # one per browser session, kept on the server

    def session(request: gr.Request) -> Conversation:
        return conversations.get(request.session_hash or "")

    def add_question(taken: str, k: Any, request: gr.Request) -> tuple[Any, str]:
        """Show the question taken from the box (TAKE_QUESTION) in the chat at once; it waits
        its turn. A question over the length limit, left in the box, gets a warning instead."""
        conversation = session(request)
        question, order = taken_question(taken or "")
        too_long = too_long_warning(question, cfg)
        if too_long:
            return chat_messages(conversation), render_hint(too_long)
        if not conversation.ask(question, k, order):
            return gr.skip(), gr.skip()
        return chat_messages(conversation), ""

    def add_example(text: str) -> Callable[[Any, gr.Request], list[Any]]:
        def add(k: Any, request: gr.Request) -> list[Any]:
            conversation = session(request)
            conversation.ask(text, k)
            return chat_messages(conversation)

        return add

    def respond(k: Any, request: gr.Request) -> Iterator[Any]:
        """Answer the questions waiting in this conversation, showing a generated answer as
        it is written; where another event of this conversation is answering them already,
        leave the chat as it is (that event shows them all, Conversation.answer_waiting)."""
        conversation = session(request)

        def passages() -> Any:  # as the question's asker chose them, else this event's
            turn = conversation.answering()
            return turn.passages if turn is not None and turn.passages is not None else k

        shown = False
        for _ in conversation.answer_waiting(
            lambda q, previous: held_until_built(
                builder, index, lambda: answer_stream(q, previous, passages(), index, cfg)
            )
        ):
            shown = True
            yield chat_messages(conversation)
        if not shown:
            yield gr.skip()

    def start_over(request: gr.Request) -> list[Any]:
        session(request).clear()
        return []

    def stop_reply(request: gr.Request) -> None:
        session(request).stop()

    def end_session(request: gr.Request) -> None:
        conversations.drop(request.session_hash or "")

    def ask_api(question: str, k: int = DEFAULT_K) -> dict[str, Any]:
        """Answer a question from the indexed articles.

        Returns the answer sentence(s), whether the articles answer it at all, the citations
        (source file, title, date, character offsets) and the top k passages.
        """
        n: Any = k
        if isinstance(n, float) and n.is_integer():
            n = int(n)  # JSON clients may send 5.0
        if building_first(builder, index):
            builder.wait(FIRST_BUILD_WAIT)  # the first index is being built: answer from it
        try:
            answer = ask(question, k=n, index_dir=index, settings=cfg)
        except QAError as exc:
            raise gr.Error(str(exc)) from None
        return answer.to_dict()

    # No Gradio buttons: "share" would send the chat off this machine, and Gradio's
    # "copy"/"copy_all" copy a reply's raw HTML. Each answer has its own "Copy answer" button,
    # which copies plain text (see PAGE_JS).
    chat_buttons: list[Any] = []
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        with gr.Column(elem_classes="qa-header"):
            gr.HTML(f"<h1>{TITLE}</h1>")
            header = gr.HTML(_index_header(index, builder, cfg), elem_id="qa-index")
            if llm is not None:
                gr.HTML(render_generator(llm.model, llm.host), elem_id="qa-llm")
        chatbot = gr.Chatbot(
            show_label=False,
            elem_id="qa-chat",
            height=None,  # grows with its replies: the page scrolls, not a box inside it
            autoscroll=False,  # qaShowQuestion shows the start of each new message instead
            render_markdown=False,  # replies are HTML built from escaped text
            sanitize_html=True,
            latex_delimiters=[],
            feedback_options=None,
            group_consecutive_messages=False,
            layout="panel",
            buttons=chat_buttons,
            placeholder="Ask a question about the articles: the answer quotes them, with sources.",
        )
        with gr.Row(elem_id="qa-examples"):
            examples = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
        with gr.Column(elem_id="qa-ask"):  # sticky at the bottom of the window
            with gr.Row(equal_height=True):
                question = gr.Textbox(
                    placeholder="Ask about the articles…",  # whole at 390 px too
                    show_label=False,
                    lines=1,
                    max_lines=4,
                    scale=8,
                    autofocus=False,  # focusing it would scroll the page down on load
                    elem_id="qa-question",
                    elem_classes=f"qa-limit-{cfg.max_question_chars}",  # read by PAGE_JS
                )
                send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="qa-send")
                stop = gr.Button(
                    "Stop",
                    variant="stop",
                    scale=1,
                    min_width=80,
                    visible=llm is not None,  # only a generated answer takes long enough to stop
                    elem_id="qa-stop",
                )
            # What stops a question from being sent: in the sticky box, in view.
            hint = gr.HTML("", elem_id="qa-hint")
        with gr.Row(equal_height=True):
            k = gr.Slider(
                1, MAX_K, value=DEFAULT_K, step=1, label="Sources per answer", elem_id="qa-k"
            )
            clear = gr.Button("New conversation", scale=0, min_width=160, elem_id="qa-clear")

        with gr.Accordion("Add documents", open=False, visible=uploads, elem_id="qa-add"):
            kinds = " ".join(cfg.extensions)
            files = gr.File(
                file_count="multiple",  # any type: a refused one gets our reason, not a toast
                label=f"Drop files here or click to pick ({kinds}; up to "
                f"{cfg.max_file_bytes // 1_000_000} MB each)",
                elem_id="qa-files",
            )
            upload_html = gr.HTML("", elem_id="qa-upload-status")
        # Outside the (closed) accordion, whose contents are not mounted: it would never tick.
        ticker = gr.Timer(1.0, active=False)  # on while a build runs: its progress, then header
        added_names = gr.State(list)
        refused_names = gr.State(list)

        private: dict[str, Any] = {"api_visibility": "private"}
        answering: dict[str, Any] = {
            "concurrency_id": "qa",
            "concurrency_limit": CONCURRENCY,
            **private,
        }

        def answer_after(event: Any) -> None:
            """Scroll to the question, answer it (in turn), scroll to the answered question."""
            event.then(None, js=SCROLL_TO_QUESTION, **private).then(
                respond, k, chatbot, **answering
            ).then(None, js=SCROLL_TO_ANSWERED, **private)

        for trigger in (question.submit, send.click):
            answer_after(
                trigger(
                    add_question,
                    [question, k],
                    [chatbot, hint],
                    js=TAKE_QUESTION,  # the question as the browser took it from the box
                    queue=False,
                    trigger_mode="multiple",  # each press sends its own question
                    **private,
                )
            )
        for button, text in zip(examples, EXAMPLES, strict=True):
            answer_after(button.click(add_example(text), k, chatbot, queue=False, **private))
        stop.click(stop_reply, None, None, queue=False, **private)

        def on_upload(paths: list[str] | None) -> tuple[Any, ...]:
            if not uploads:  # the page hides the box; refuse a request made without it
                return [], ["adding documents is off on this server"], "", gr.Timer(active=False)
            added, refused = upload_reply(paths, index, cfg, builder)
            status = upload_status(added, refused, builder)
            return added, refused, status, gr.Timer(active=bool(added))

        def on_tick(added: list[str], refused: list[str]) -> tuple[Any, ...]:
            running = builder.state.running
            status = upload_status(added, refused, builder) if added or refused else ""
            return status, _index_header(index, builder, cfg), gr.Timer(active=running)

        def on_load() -> tuple[str, Any]:
            """The header, and the ticker on while an index is being built."""
            return _index_header(index, builder, cfg), gr.Timer(active=builder.state.running)

        files.upload(
            on_upload, files, [added_names, refused_names, upload_html, ticker], **private
        ).then(lambda: None, None, files, **private)
        ticker.tick(on_tick, [added_names, refused_names], [upload_html, header, ticker], **private)
        clear.click(start_over, None, chatbot, **private)
        chatbot.clear(start_over, None, chatbot, **private)
        demo.unload(end_session)
        demo.load(on_load, None, [header, ticker], **private)
        gr_api(ask_api, api_name="ask", concurrency_id="qa", concurrency_limit=CONCURRENCY)

    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    demo.qa_index = index  # type: ignore[attr-defined]
    demo.qa_settings = cfg  # type: ignore[attr-defined]
    demo.qa_uploads = uploads  # type: ignore[attr-defined]
    demo.qa_max_upload = cfg.max_file_bytes if uploads else 0  # type: ignore[attr-defined]
    demo.qa_builder = builder  # type: ignore[attr-defined]
    return demo


def warm_up(
    index_dir: str | os.PathLike[str], settings: Settings | None = None
) -> threading.Thread:
    """Load the index and the embedding model in the background so the first answer is quick."""

    def run() -> None:
        try:
            search("warm up", k=1, index_dir=index_dir, settings=settings)
        except Exception as exc:  # the first question reports any real problem
            log.info("warm-up skipped: %s", exc)

    thread = threading.Thread(target=run, name="qa-warm-up", daemon=True)
    thread.start()
    return thread


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address of this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_auth(environ: dict[str, str] | None = None) -> list[tuple[str, str]] | None:
    """The users allowed in: ``QA_AUTH=user:password``, and/or the ``user:password`` lines of
    the file ``QA_AUTH_FILE`` (blank lines and ``#`` comments skipped); None when neither is
    set. Raises ConfigError on a malformed entry (never echoing a password)."""
    env = os.environ if environ is None else environ
    entries: list[tuple[str, str]] = []  # (where, user:password)
    if env.get("QA_AUTH"):
        entries.append(("QA_AUTH", env["QA_AUTH"]))
    name = env.get("QA_AUTH_FILE")
    if name:
        try:
            lines = Path(name).expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"QA_AUTH_FILE {name} cannot be read ({exc}); fix the path") from exc
        entries += [
            (f"{name}, line {n}", line.strip())
            for n, line in enumerate(lines, 1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not any(where != "QA_AUTH" for where, _ in entries):
            raise ConfigError(f"QA_AUTH_FILE {name} holds no user:password line")
    users = []
    for where, entry in entries:
        user, sep, password = entry.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError(f"{where} must be user:password (both non-empty)")
        users.append((user.strip(), password))
    return users or None


def launch(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
    auth: list[tuple[str, str]] | None = None,
) -> Any:
    """Serve the app on host:port: never shared, no monitoring, no MCP, system fonts; file
    uploads only when the page takes documents ("Add documents", see ``uploads_allowed``), up
    to the size limit. ``auth``: the (user, password) pairs allowed in; on an
    address other machines can reach, a warning is logged, with how to set a password when
    there is none."""
    if not is_loopback(host):
        log.warning(
            "serving on %s: other machines can reach the chat%s",
            host,
            " (password required)"
            if auth
            else "; set QA_AUTH=user:password or QA_AUTH_FILE to require a password",
        )
    return app.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        auth=auth,
        max_file_size=getattr(app, "qa_max_upload", 0),  # 0: Gradio refuses every upload
        allowed_paths=[],  # no corpus file is served as it is: replies show the readable text
        theme=THEME,
        css=CSS,
        js=PAGE_JS,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        footer_links=["api", "settings"],
        show_error=False,
    )


def uploads_allowed(host: str, environ: dict[str, str] | None = None) -> bool:
    """Whether people may add documents from the page: by default only when the app listens
    on this machine alone or asks for a password (QA_AUTH, QA_AUTH_FILE); QA_UPLOADS=0 turns
    it off, QA_UPLOADS=1 on."""
    env = os.environ if environ is None else environ
    choice = env.get("QA_UPLOADS", "").strip()
    if choice in ("0", "1"):
        return choice == "1"
    return is_loopback(host) or bool(env.get("QA_AUTH") or env.get("QA_AUTH_FILE"))


def default_index() -> str:
    """The index folder: $QA_INDEX, else ``index``."""
    return os.environ.get("QA_INDEX") or "index"


def default_corpus() -> str:
    """The articles folder a missing index is built from: $QA_CORPUS, else ``seeds``."""
    return os.environ.get("QA_CORPUS") or "seeds"


def ensure_index(
    index_dir: str | os.PathLike[str],
    corpus_dir: str | os.PathLike[str],
    settings: Settings | None = None,
    echo: Callable[[str], None] | None = None,
    builder: BackgroundBuild | None = None,
) -> bool:
    """Build the index from ``corpus_dir`` when ``index_dir`` holds none; True if it built
    one (or, with ``builder``, started building it in the background: the page shows the
    progress meanwhile).

    Progress goes to ``echo`` (by default the terminal). A damaged or mismatched index is left
    alone: the page reports it.
    """
    say = echo if echo is not None else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        index_info(index_dir, settings=settings)
        return False
    except IndexNotFoundError:
        pass
    except QAError:
        return False
    say(f"No index in {index_dir}: building it from the articles in {corpus_dir} (first run)...")
    if builder is not None:
        builder.start(corpus_dir, index_dir, settings_or_env(settings), echo=say)
        return True
    shown = [-1]

    def progress(done: int, total: int) -> None:
        tenth = done * 10 // total if total else 10
        if tenth > shown[0]:
            shown[0] = tenth
            say(f"  embedding {done}/{total}")

    report = build_index(corpus_dir, index_dir, settings=settings, progress=progress)
    say(f"Indexed {report.files} articles ({report.chunks} passages) in {report.seconds:.1f}s.")
    return True


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options of ``python app.py``."""
    parser = argparse.ArgumentParser(description="Chat with the indexed articles in a browser.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on")
    parser.add_argument(
        "--index", default=default_index(), help="index folder (default: $QA_INDEX or 'index')"
    )
    parser.add_argument(
        "--corpus",
        default=default_corpus(),
        help="articles to build a missing index from (default: $QA_CORPUS or 'seeds')",
    )
    parser.add_argument(
        "--store",
        default=None,
        help="where the index lives: local (the --index folder; default, or $QA_STORE), "
        "milvus:PATH.db (a Milvus Lite file) or milvus:http://HOST:19530 (a Milvus server, "
        "its token in $QA_MILVUS_TOKEN)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, app: Any = None) -> None:
    """``python app.py``: build the index if there is none, then serve the chat.

    ``app`` is used when it was made over the same index folder (see ``app.py``).
    """
    stop_on_signals()  # until the server runs: SIGINT and SIGTERM stop the build, then it
    args = parse_args(argv)
    same_index = str(getattr(app, "qa_index", "")) == str(args.index)
    if not same_index or getattr(app, "qa_uploads", None) != uploads_allowed(args.host):
        app = None
    try:
        settings = Settings.from_env(store=args.store)
        if app is not None and getattr(app, "qa_settings", settings).store != settings.store:
            app = None  # made over another store
        serve(args.index, args.host, args.port, settings, app=app, corpus_dir=args.corpus)
    except QAError as exc:  # a bad setting, an unreadable corpus: one line, no traceback
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)


def serve(
    index_dir: str | os.PathLike[str] = "index",
    host: str = "127.0.0.1",
    port: int = 7860,
    settings: Settings | None = None,
    *,
    app: Any = None,
    corpus_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Serve ``app`` (by default a new page over ``index_dir``) until interrupted, loading the
    model in the background meanwhile. With ``corpus_dir``, a missing index is built from it
    in the background: the page comes up at once and shows the build's progress.
    ``QA_AUTH``/``QA_AUTH_FILE`` set the users allowed in (``read_auth``)."""
    cfg = settings_or_env(settings)
    auth = read_auth()  # a malformed QA_AUTH stops here, before anything is served
    if app is None:
        app = make_app(index_dir, cfg, uploads=uploads_allowed(host))
    if corpus_dir is not None:  # the page comes up at once and shows the build's progress
        ensure_index(index_dir, corpus_dir, cfg, builder=getattr(app, "qa_builder", None))
    warm_up(index_dir, cfg)
    stopping = threading.Event()
    stop_on_signals(_closer(app, stopping))  # SIGINT and SIGTERM close it, however started
    try:
        launch(app, host, port, auth=auth)
    except Exception:
        # A signal that closes the server while it starts fails Gradio's start-up check
        # ("localhost is not accessible"): that is the stop asked for, not an error.
        if not stopping.is_set():
            raise


def _closer(app: Any, stopping: threading.Event) -> Callable[[], None]:
    """Close the app, and again should it start serving after that: a signal may come while
    it starts, and Gradio's start marks it running once more (the thread is a daemon: it ends
    with the process). ``stopping`` is set first."""

    def close() -> None:
        stopping.set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if getattr(app, "is_running", False):
                app.close()
            time.sleep(0.1)

    return close
