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
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr
from gradio.events import api as gr_api

from .api import ask, build_index, index_info, search
from .config import Settings
from .errors import IndexNotFoundError, QAError
from .followup import expand_followup
from .render import (
    article_reader,
    render_answer,
    render_error,
    render_index_error,
    render_index_info,
    render_user,
)

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
)

# After a question or an answer is added: scroll the chat so that the latest question starts at
# the top, its answer right below it (a reply is long: the passages come after the answer).
SCROLL_JS = """
async () => {
  await new Promise((resolve) => setTimeout(resolve, 150));  // let the chat render first
  const items = document.querySelectorAll("#qa-chat .qa-user");
  const last = items[items.length - 1];
  if (!last) return;
  let box = last.parentElement;
  while (box && !(box.scrollHeight > box.clientHeight + 1 &&
                  /(auto|scroll)/.test(getComputedStyle(box).overflowY))) {
    box = box.parentElement;
  }
  if (!box) return;
  const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top;
  box.scrollTo({top: box.scrollTop + top - 40, behavior: "smooth"});
}
"""

CSS = """
.qa-header h1 { margin: 0 0 .2em 0; font-size: 1.6em; }
.qa-index p { margin: .1em 0; color: var(--body-text-color-subdued); font-size: .92em; }
.qa-stale, .qa-error { color: var(--error-text-color, #b91c1c); }
.qa-reply p { margin: .3em 0; }
.qa-answer { font-size: 1.08em; line-height: 1.5; }
.qa-reply mark { background: #fde68a; color: #1f2937; padding: 0 .15em; border-radius: 3px; }
.qa-ref { color: var(--link-text-color, #2563eb); font-weight: 600; }
.qa-citations { margin: .4em 0 .6em 0; padding-left: 0; list-style: none; }
.qa-citation { margin: .2em 0; }
.qa-title { font-weight: 600; }
.qa-date, .qa-source, .qa-dates, .qa-also, .qa-query, .qa-note {
  color: var(--body-text-color-subdued); }
.qa-source { font-size: .82em; }
.qa-query { font-size: .92em; }
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


def _index_header(index_dir: str) -> str:
    try:
        return render_index_info(index_info(index_dir))
    except QAError as exc:
        return render_index_error(str(exc))
    except Exception as exc:  # a header must never take the page down
        log.exception("reading the index manifest failed")
        return render_index_error(f"the index could not be read ({type(exc).__name__})")


def reply_html(
    question: str,
    previous: str | None,
    k: int,
    index_dir: str,
    settings: Settings,
) -> tuple[str, str]:
    """The chat reply to ``question`` as HTML, and the text searched for.

    A follow-up carries the key terms of ``previous`` (the previous question as typed, not
    the text searched for it). Library errors become a friendly message; nothing raises.
    """
    query = expand_followup(question, previous)
    if len(query) > settings.max_question_chars:
        query = question.strip()
    try:
        answer = ask(query, k=k, index_dir=index_dir, settings=settings)
    except QAError as exc:
        return render_error(str(exc)), ""
    except Exception as exc:
        log.exception("answering %r failed", query)
        return (
            render_error(f"something went wrong on the server ({type(exc).__name__}); see its log"),
            "",
        )
    reader = None
    try:
        reader = article_reader(index_info(index_dir)["corpus_dir"])
    except Exception:  # the answer still shows, without the full-article view
        log.exception("finding the corpus folder failed")
    return render_answer(answer, question=question, read_article=reader), query


def answer_turn(
    question: str,
    history: list[Any],
    k: Any,
    last_question: str,
    index_dir: str,
    settings: Settings,
) -> tuple[list[Any], str]:
    """The chat with the answer to ``question`` added, and the question the next one may lean
    on: this one as typed (never its expansion), or the previous one when this one failed."""
    if not question:
        return history, last_question
    html, query = reply_html(question, last_question or None, _k(k), index_dir, settings)
    remembered = question.strip() if query else last_question
    return [*history, {"role": "assistant", "content": html}], remembered


def make_app(index_dir: str | os.PathLike[str] = "index", settings: Settings | None = None) -> Any:
    """The chat page over the index in ``index_dir`` (a ``gr.Blocks``, queued, not launched)."""
    index = str(index_dir)
    cfg = settings if settings is not None else Settings.from_env()

    def add_user(question: str, history: list[Any]) -> tuple[str, list[Any], str]:
        """Show the question in the chat at once; the answer follows."""
        q = (question or "").strip()
        if not q:
            return "", history, ""
        return "", [*history, {"role": "user", "content": render_user(q)}], q

    def respond(
        pending: str, history: list[Any], k: Any, last_question: str
    ) -> tuple[list[Any], str]:
        return answer_turn(pending, history, k, last_question, index, cfg)

    def ask_api(question: str, k: int = DEFAULT_K) -> dict[str, Any]:
        """Answer a question from the indexed articles.

        Returns the answer sentence(s), whether the articles answer it at all, the citations
        (source file, title, date, character offsets) and the top k passages.
        """
        n: Any = k
        if isinstance(n, float) and n.is_integer():
            n = int(n)  # JSON clients may send 5.0
        try:
            answer = ask(question, k=n, index_dir=index, settings=cfg)
        except QAError as exc:
            raise gr.Error(str(exc)) from None
        return answer.to_dict()

    # No buttons: "share" would send the chat off this machine, and Gradio's "copy"/"copy_all"
    # copy a reply's raw HTML rather than its text. A reader selects and copies text instead.
    chat_buttons: list[Any] = []
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        with gr.Column(elem_classes="qa-header"):
            gr.HTML(f"<h1>{TITLE}</h1>")
            header = gr.HTML(_index_header(index), elem_id="qa-index")
        chatbot = gr.Chatbot(
            label="Answers",
            elem_id="qa-chat",
            height=660,
            autoscroll=False,  # SCROLL_JS shows the start of each new message instead
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
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                placeholder="Ask a question about the articles…",
                show_label=False,
                lines=1,
                max_lines=4,
                scale=8,
                autofocus=False,  # focusing it would scroll the page down on load
                elem_id="qa-question",
            )
            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="qa-send")
        with gr.Row(equal_height=True):
            k = gr.Slider(
                1, MAX_K, value=DEFAULT_K, step=1, label="Passages to show", elem_id="qa-k"
            )
            clear = gr.Button("New conversation", scale=0, min_width=160, elem_id="qa-clear")

        pending = gr.State("")
        last_question = gr.State("")
        private: dict[str, Any] = {"api_visibility": "private"}
        answering: dict[str, Any] = {
            "concurrency_id": "qa",
            "concurrency_limit": CONCURRENCY,
            **private,
        }

        def answer_after(event: Any) -> None:
            """Scroll to the question, answer it, scroll to the answer."""
            event.then(None, js=SCROLL_JS, **private).then(
                respond, [pending, chatbot, k, last_question], [chatbot, last_question], **answering
            ).then(None, js=SCROLL_JS, **private)

        for trigger in (question.submit, send.click):
            answer_after(
                trigger(
                    add_user,
                    [question, chatbot],
                    [question, chatbot, pending],
                    queue=False,
                    **private,
                )
            )
        for button, text in zip(examples, EXAMPLES, strict=True):
            answer_after(
                button.click(
                    lambda history, text=text: add_user(text, history),
                    [chatbot],
                    [question, chatbot, pending],
                    queue=False,
                    **private,
                )
            )
        clear.click(lambda: ([], "", ""), None, [chatbot, last_question, pending], **private)
        chatbot.clear(lambda: ("", ""), None, [last_question, pending], **private)
        demo.load(lambda: _index_header(index), None, header, **private)
        gr_api(ask_api, api_name="ask", concurrency_id="qa", concurrency_limit=CONCURRENCY)

    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    demo.qa_index = index  # type: ignore[attr-defined]
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


def launch(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> Any:
    """Serve the app on host:port: never shared, no monitoring, no MCP, system fonts."""
    return app.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        theme=THEME,
        css=CSS,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        footer_links=["api", "settings"],
        show_error=False,
    )


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
) -> bool:
    """Build the index from ``corpus_dir`` when ``index_dir`` holds none; True if it built one.

    Progress goes to ``echo`` (by default the terminal). A damaged or mismatched index is left
    alone: the page reports it.
    """
    say = echo if echo is not None else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        index_info(index_dir)
        return False
    except IndexNotFoundError:
        pass
    except QAError:
        return False
    say(f"No index in {index_dir}: building it from the articles in {corpus_dir} (first run)...")
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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, app: Any = None) -> None:
    """``python app.py``: build the index if there is none, then serve the chat.

    ``app`` is used when it was made over the same index folder (see ``app.py``).
    """
    args = parse_args(argv)
    if app is not None and str(getattr(app, "qa_index", "")) != str(args.index):
        app = None
    serve(args.index, args.host, args.port, app=app, corpus_dir=args.corpus)


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
    first."""
    cfg = settings if settings is not None else Settings.from_env()
    if corpus_dir is not None:
        ensure_index(index_dir, corpus_dir, cfg)
    if app is None:
        app = make_app(index_dir, cfg)
    warm_up(index_dir, cfg)
    launch(app, host, port)
