"""HTML for the web chat: answers, citations, passages and the index header (no Gradio); the
plain text a reader copies; the whole article as the index read it.

Every piece of text that comes from a document, an index or a person is passed through
``html.escape`` before it is put in HTML, so an article holding ``<script>`` shows as text. The
chat component renders these strings as HTML (Markdown off) and sanitizes them again; the
escaping here does not rely on that. The sanitizer drops ``data-*`` attributes, so what the
page's script needs rides on class names (``qa-n1`` for citation 1) and hidden elements.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from collections.abc import Callable, Sequence, Set
from dataclasses import replace
from typing import Any

from ..answer.extractive import status_line
from ..answer.generate import MARKER
from ..types import Answer, Citation, Document, Hit

NOTHING_RELEVANT = "The articles don't say"
ARTICLE_LIMIT = 200_000  # characters of an article shown in full; longer ones are cut
ECHO_CHARS = 300  # characters of a question echoed in the chat; the rest is counted

# source -> the article as the index read it (text, content segments, removed boilerplate), or
# None when the file is gone or unreadable
ArticleReader = Callable[[str], Document | None]

# A blank line or more (a paragraph break): one modest gap, however many blank lines there were.
_PARAGRAPH_BREAK = re.compile(r"[ \t]*\n(?:[ \t]*\n)+[ \t]*")
GAP = '<span class="qa-gap"></span>'


def esc(text: str) -> str:
    """Text as HTML: escaped, line breaks kept, a run of blank lines one paragraph gap."""
    return _PARAGRAPH_BREAK.sub(GAP, html.escape(text, quote=True)).replace("\n", "<br>")


def highlight(text: str, spans: Sequence[tuple[int, int, int]]) -> str:
    """``text`` as HTML with each ``(start, end, number)`` span wrapped in ``<mark>``.

    Offsets index ``text``; spans outside it are clipped, overlapping ones after the first skipped.
    """
    out: list[str] = []
    pos = 0
    for start, end, number in sorted(spans):
        start, end = max(start, pos), min(end, len(text))
        if start >= end:
            continue
        out.append(esc(text[pos:start]))
        out.append(f'<mark class="qa-mark qa-n{number}">{esc(text[start:end])}</mark>')
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def _locate(text: str, start: int, end: int, quote: str) -> tuple[int, int] | None:
    """Where ``quote`` stands in ``text``: at [start, end) when it is there, else searched for."""
    if 0 <= start <= end <= len(text) and text[start:end] == quote:
        return start, end
    found = text.find(quote) if quote else -1
    return (found, found + len(quote)) if found >= 0 else None


def _meta(
    source: str,
    title: str,
    date: str | None,
    page: int | None = None,
    section: str | None = None,
    site: str | None = None,
) -> str:
    """Where a text comes from, for readers: the title first, its publisher and date, the page
    and section where the format has them, the file name small."""
    parts = [f'<span class="qa-title">{esc(title or source)}</span>']
    if site:
        parts.append(f'<span class="qa-site">{esc(site)}</span>')
    if date:
        parts.append(f'<span class="qa-date">{esc(date)}</span>')
    if page is not None:
        parts.append(f'<span class="qa-page">p. {page}</span>')
    if section:
        parts.append(f'<span class="qa-section">§ {esc(section)}</span>')
    parts.append(f'<small class="qa-source">{esc(source)}</small>')
    return " · ".join(parts)


def _passage_spans(hit: Hit, citations: Sequence[Citation]) -> list[tuple[int, int, int]]:
    """The cited sentences that lie inside the passage, as offsets into ``hit.text``."""
    spans = []
    for c in citations:
        if c.source != hit.source or not (hit.start <= c.start and c.end <= hit.end):
            continue
        where = _locate(hit.text, c.start - hit.start, c.end - hit.start, c.text)
        if where is not None:
            spans.append((where[0], where[1], c.number))
    return spans


# A passage is a near-copy of an earlier one when at least this share of its word 5-grams (of
# the shorter's) are in the earlier one: the same quote or syndicated text, told once.
NEAR_COPY = 0.5
_SHINGLE = 5


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + _SHINGLE]) for i in range(max(1, len(words) - _SHINGLE + 1))}


def near_copies(texts: Sequence[str], share: float = NEAR_COPY) -> list[int | None]:
    """For each text, the earlier text it nearly repeats (the first such), else None (pure)."""
    kept: list[tuple[int, set[tuple[str, ...]]]] = []
    out: list[int | None] = []
    for i, text in enumerate(texts):
        mine = _shingles(text)
        like = next(
            (j for j, theirs in kept if len(mine & theirs) >= share * min(len(mine), len(theirs))),
            None,
        )
        out.append(like)
        if like is None:
            kept.append((i, mine))
    return out


def fold_near_copies(hits: Sequence[Hit], cited: Set[int] = frozenset()) -> list[Hit]:
    """The passages with each near-copy of an earlier one left out, and named under it ("also
    in"). A passage holding a cited sentence (its position in ``cited``) is always kept."""
    like = near_copies([h.text for h in hits])
    also: dict[int, list[str]] = {}
    for i, j in enumerate(like):
        if j is not None and i not in cited:
            also.setdefault(j, []).append(_label(hits[i]))
    return [
        replace(h, also_in=(*h.also_in, *also.get(i, ())))
        for i, h in enumerate(hits)
        if like[i] is None or i in cited
    ]


def _label(hit: Hit) -> str:
    """A passage's article as a reader knows it: its title, else its file name."""
    return hit.title or hit.source


def render_passage(hit: Hit, citations: Sequence[Citation] = ()) -> str:
    """A retrieved passage: where it comes from, its text with cited sentences marked.

    The rank and score are kept out of sight, in a tooltip.
    """
    also = ""
    if hit.also_in:
        also = f' · <span class="qa-also">also in {esc("; ".join(hit.also_in))}</span>'
    return (
        f'<div class="qa-passage" data-rank="{hit.rank}">'
        f'<div class="qa-meta" title="passage #{hit.rank}, score {hit.score:.3f}">'
        f"{_meta(hit.source, hit.title, hit.date, hit.page, hit.section, hit.site)}{also}</div>"
        f'<div class="qa-passage-text">{highlight(hit.text, _passage_spans(hit, citations))}</div>'
        "</div>"
    )


def render_passages(
    hits: Sequence[Hit], citations: Sequence[Citation] = (), *, label: str, open_: bool
) -> str:
    if not hits:
        return ""
    body = "\n".join(render_passage(h, citations) for h in hits)
    flag = " open" if open_ else ""
    return (
        f'<details class="qa-passages"{flag}><summary>{esc(label)} ({len(hits)})</summary>\n'
        f"{body}\n</details>"
    )


def _left_out(chars: int) -> str:
    """What stands where the cleaner removed boilerplate: a dim note, not the text."""
    return (
        f'<span class="qa-removed" title="removed by the cleaner: sign-up box, caption, teasers '
        f'or similar">[{chars:,} characters of web-page boilerplate left out]</span>'
    )


def _article_html(doc: Document, spans: Sequence[tuple[int, int, int]]) -> tuple[str, bool]:
    """The article's content as HTML, cited sentences marked, and whether it was cut.

    Only the content segments are shown, a paragraph gap between them; where the cleaner took
    out boilerplate (a sign-up box, a caption, teasers) a short dim note stands in its place.
    """
    out: list[str] = []
    pos, shown = 0, 0
    removed = sorted(doc.removed)
    for seg in doc.segments:
        left_out = sum(len(r) for r in removed if pos <= r.start < seg.start)
        if left_out:
            out.append(_left_out(left_out))
        elif out:
            out.append(GAP)
        end = min(seg.end, seg.start + ARTICLE_LIMIT - shown)
        local = [
            (a - seg.start, b - seg.start, n) for a, b, n in spans if a < end and b > seg.start
        ]
        out.append(highlight(doc.text[seg.start : end], local))
        shown += end - seg.start
        pos = seg.end
        if end < seg.end:
            return "".join(out), True
    left_out = sum(len(r) for r in removed if r.start >= pos)
    if left_out:
        out.append(_left_out(left_out))
    return "".join(out), False


def render_article(doc: Document | None, citations: Sequence[Citation]) -> str:
    """A collapsed view of the whole source article, as cleaned (readable: no page furniture),
    with its cited sentences marked. The raw file is never linked: it would show the page's
    boilerplate, and its address the server's folders."""
    numbers = " ".join(f"[{c.number}]" for c in citations)
    summary = f"Read the whole article with {numbers} marked"
    if doc is None:
        body = '<p class="qa-note">The article file could not be read (moved or deleted?).</p>'
    else:
        spans, lost = [], []
        for c in citations:
            where = _locate(doc.text, c.start, c.end, c.text)
            if where is None:
                lost.append(c.number)
            else:
                spans.append((where[0], where[1], c.number))
        note = ""
        if lost:
            note = (
                '<p class="qa-note">The article changed since it was indexed: '
                f"{' '.join(f'[{n}]' for n in lost)} is no longer in it. Rebuild the index.</p>"
            )
        text, was_cut = _article_html(doc, spans)
        cut = f'<p class="qa-note">(cut after {ARTICLE_LIMIT:,} characters)</p>' if was_cut else ""
        body = f'{note}<div class="qa-article-text">{text}</div>{cut}'
    return f'<details class="qa-article"><summary>{summary}</summary>{body}</details>'


def render_citations(
    citations: Sequence[Citation],
    read_article: ArticleReader | None,
    passages: Sequence[Hit] = (),
) -> str:
    """The numbered sources of the answer, each by title, publisher (the ``site`` of its
    passage) and date; the first citation of each article can open it."""
    sites = {h.source: h.site for h in passages if h.site}
    items = []
    shown: set[str] = set()
    for c in citations:
        article = ""
        if read_article is not None and c.source not in shown:
            shown.add(c.source)
            same = [d for d in citations if d.source == c.source]
            article = render_article(read_article(c.source), same)
        items.append(
            f'<li class="qa-citation qa-n{c.number}">'
            f'<span class="qa-ref">[{c.number}]</span> '
            f"{_meta(c.source, c.title, c.date, c.page, c.section, sites.get(c.source))}"
            f"{article}</li>"
        )
    return '<ol class="qa-citations">' + "".join(items) + "</ol>"


def _lead_and_more(answer: Answer) -> str:
    """The passage of the first cited sentence, shown, then the others collapsed."""
    if not answer.passages:
        return ""
    lead = answer.citations[0].passage if answer.citations else 0
    if not 0 <= lead < len(answer.passages):
        lead = 0
    order = [lead, *(i for i in range(len(answer.passages)) if i != lead)]
    cited = {order.index(c.passage) for c in answer.citations if c.passage in order}
    shown = fold_near_copies([answer.passages[i] for i in order], cited)
    first, rest = shown[0], shown[1:]
    return "\n".join(
        p
        for p in (
            render_passage(first, answer.citations),
            render_passages(rest, answer.citations, label="More passages", open_=False),
        )
        if p
    )


def _marker(number: int) -> str:
    """A citation marker in the answer: a button that opens the source at the cited sentence
    (the page's script does that, see ``qa.web.ui.PAGE_JS``)."""
    return (
        f'<button type="button" class="qa-ref qa-cite qa-n{number}" '
        f'title="Show source [{number}] with the sentence marked">[{number}]</button>'
    )


def _with_markers(text: str) -> str:
    """Generated text, escaped, its [n] and [n, m] citations turned into markers."""
    out, last = [], 0
    for m in MARKER.finditer(text):
        out.append(esc(text[last : m.start()]))
        out.append(" ".join(_marker(int(n)) for n in m.group(1).split(",")))
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


def render_draft(text: str, model: str) -> str:
    """A generated answer while it is being written (escaped; markers resolve at the end)."""
    return (
        '<div class="qa-reply qa-draft" data-status="writing">'
        f'<p class="qa-generated-by">{esc(model)} is writing…</p>'
        f'<p class="qa-answer">{esc(text)}</p></div>'
    )


def render_stopped(draft_html: str) -> str:
    """A reply stopped before it was finished: what had arrived, marked as stopped."""
    return draft_html.replace(
        "is writing…</p>", "was stopped; the answer below is unfinished and unchecked.</p>", 1
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def answer_text(answer: Answer) -> str:
    """The answer as plain text to copy: its sentences with their markers, then one line a
    citation, "[1] Title — date — file". No HTML."""
    if answer.origin == "generated":
        sentences = _one_line(answer.text)
    else:
        sentences = " ".join(f"{_one_line(c.text)} [{c.number}]" for c in answer.citations)
    sources = []
    for c in answer.citations:
        parts = [_one_line(c.title or c.source), *([c.date] if c.date else []), c.source]
        sources.append(f"[{c.number}] " + " — ".join(parts))
    return "\n\n".join([sentences, "\n".join(sources)]) if sources else sentences


def render_answer(
    answer: Answer,
    *,
    question: str | None = None,
    read_article: ArticleReader | None = None,
) -> str:
    """The chat reply to a question, by the answer's status (see ``qa.types.Answer``):

    * ``answered``: the quoted sentence(s), each with a citation marker that opens its source,
      the citations, a "Copy answer" button (plain text: ``answer_text``), then the passage of
      the first one, the other passages collapsed under "More passages";
    * ``passages``: that it is not certain, then the likeliest sentence quoted as an answer is,
      with the same marker, citations and Copy button, then its passage first, open;
    * ``not_found``: that nothing answers it, then the closest passages, collapsed.

    ``question`` is what the person typed; when the search ran on something else (a follow-up
    carrying terms of the previous question) the reply says what was searched for.
    """
    # Classes, not data-* attributes: Gradio's sanitiser keeps only the former.
    kind = f"qa-status-{answer.status} qa-{answer.origin}"
    parts = [f'<div class="qa-reply {kind}" data-status="{answer.status}">']
    if answer.note:
        parts.append(f'<p class="qa-note">{esc(answer.note)}</p>')
    typed = answer.question if question is None else question
    searched = ""
    if question is not None and answer.question != question.strip():
        searched = f'<p class="qa-query">Searched for: <q>{esc(answer.question)}</q></p>'
    if answer.status == "answered" and answer.origin == "generated":
        parts.append(
            f'<p class="qa-generated-by">Written by {esc(answer.generator or "")} from the '
            "passages below; each [n] opens the passage it cites.</p>"
        )
        parts.append(f'<p class="qa-answer">{_with_markers(answer.text)}</p>')
    elif answer.status == "passages":  # said first: the quote is the closest, not an answer
        parts.append(
            f'<p class="qa-uncertain">{esc(status_line(answer.status, answer.missing, typed))}</p>'
        )
    if answer.status in ("answered", "passages"):  # the same actions for either
        if answer.origin != "generated":
            sentences = " ".join(
                f'<span class="qa-sentence">{esc(c.text)}</span> {_marker(c.number)}'
                for c in answer.citations
            )
            parts.append(f'<p class="qa-answer">{sentences}</p>')
        parts.append(render_citations(answer.citations, read_article, answer.passages))
        label = "Copy answer" if answer.status == "answered" else "Copy"
        parts.append(
            f'<p class="qa-tools"><button type="button" class="qa-copy">{label}</button>'
            f'<span class="qa-plain">{html.escape(answer_text(answer))}</span></p>'
        )
        parts.append(searched)
        parts.append(_lead_and_more(answer))
    else:
        line = status_line(answer.status, answer.missing, typed).removeprefix(
            f"{NOTHING_RELEVANT}. "
        )
        parts.append(f'<p class="qa-nothing"><strong>{NOTHING_RELEVANT}.</strong> {esc(line)}</p>')
        parts.append(searched)
        closest = fold_near_copies(answer.passages)
        parts.append(render_passages(closest, label="Closest passages", open_=False))
    parts.append("</div>")
    return "\n".join(p for p in parts if p)


def render_hint(message: str) -> str:
    """A line under the question box: why the question was not sent."""
    return f'<p class="qa-hint" role="alert">{esc(message)}</p>'


def render_error(message: str) -> str:
    """A library error (one line) as a friendly chat reply, as a sentence."""
    sentence = message[:1].upper() + message[1:]
    return (
        '<div class="qa-reply qa-error"><strong>Sorry, I could not answer that.</strong> '
        f"{esc(sentence)}</div>"
    )


def render_user(question: str) -> str:
    """The person's question as it shows in the chat: a very long one is cut after
    ``ECHO_CHARS`` characters, with a note of how many more it had."""
    if len(question) <= ECHO_CHARS:
        return f'<span class="qa-user">{esc(question)}</span>'
    shown = question[:ECHO_CHARS]
    if " " in shown[ECHO_CHARS // 2 :]:
        shown = shown.rsplit(" ", 1)[0]  # at a word boundary when there is one near the end
    more = len(question) - len(shown)
    return (
        f'<span class="qa-user">{esc(shown)}… '
        f'<span class="qa-more">({more:,} more characters)</span></span>'
    )


def _when(created_at: str | None) -> str:
    if not created_at:
        return "at an unknown time"
    try:
        when = _dt.datetime.fromisoformat(created_at)
    except ValueError:
        return created_at
    if when.tzinfo is not None:
        when = when.astimezone(_dt.UTC)
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M")


def _date_range(first: str | None, last: str | None) -> str:
    if not first or not last:
        return ""
    return f"dated {first}" if first == last else f"dated {first} to {last}"


def render_index_info(info: dict[str, Any]) -> str:
    """What the collection holds (how many articles, their dates), when the index was built,
    and whether it is out of date. The model and passage count are in a tooltip."""
    files = int(info.get("files") or 0)
    size = f"{files} article" + ("" if files == 1 else "s")
    dates = _date_range(info.get("first_date"), info.get("last_date"))
    details = f"model {info.get('model', '')}"
    if info.get("chunks"):
        details += f", {info['chunks']} passages"
    line = (
        f'<strong class="qa-size">{esc(size)}</strong>'
        + (f' <span class="qa-dates">{esc(dates)}</span>' if dates else "")
        + f' · <span title="index folder {esc(str(info.get("index_dir", "")))}; {esc(details)}">'
        f"updated {esc(_when(info.get('created_at')))}</span>"
    )
    stale = ""
    if info.get("stale"):
        changed = len(info.get("changed_files") or [])
        missing = len(info.get("missing_files") or [])
        stale = (
            f'<p class="qa-stale">The articles changed since this index was built ({changed} '
            f"changed, {missing} missing): run <code>qa build</code> to update it.</p>"
        )
    return f'<div class="qa-index"><p>{line}</p>{stale}</div>'


def render_generator(model: str, host: str) -> str:
    """The header line that says a language model writes the answers, and where it runs."""
    return (
        f'<p class="qa-llm">Answers are written by <strong>{esc(model)}</strong>, a language '
        f"model at <code>{esc(host)}</code>: the question and the top passages are sent there. "
        "Every [n] is checked against the passages.</p>"
    )


_PHASES = {"read": "reading files", "embed": "embedding passages", "write": "writing the index"}


def render_upload(
    added: Sequence[str], refused: Sequence[str], state: str, phase: str, done: int, total: int
) -> str:
    """What "Add documents" did: files added and refused, then the index update's progress
    (``state``: running, done, failed, idle) or its failure message in ``phase``."""
    lines = []
    if added:
        lines.append(f"Added {len(added)} file(s): {esc(', '.join(added))}.")
    if refused:
        items = "".join(f"<li>{esc(r)}</li>" for r in refused)
        lines.append(f"Not added:<ul>{items}</ul>")
    if state == "running":
        count = f" {done:,} of {total:,}" if total else ""
        lines.append(f"Updating the index: {_PHASES.get(phase, phase)}{count}…")
    elif state == "done":
        lines.append("The index is up to date: ask about the new documents.")
    elif state == "failed":
        lines.append(f"The index could not be updated: {esc(phase)}. The previous one answers.")
    return '<div class="qa-upload">' + "".join(f"<p>{line}</p>" for line in lines) + "</div>"


def render_building(phase: str, done: int, total: int, *, held: bool = False) -> str:
    """The page while its first index is being built: nothing to answer from yet. ``held``:
    in the reply to a question asked meanwhile, which is answered once the index is ready."""
    count = f" {done:,} of {total:,}" if total else ""
    then = (
        "Your question is kept: it is answered as soon as the index is ready."
        if held
        else "Questions asked now are answered when it is done; this page updates by itself."
    )
    return (
        '<div class="qa-index qa-building"><p><strong>Building the index of the articles…'
        f"</strong> {_PHASES.get(phase, esc(phase))}{count}. {then}</p></div>"
    )


def render_index_error(message: str) -> str:
    return (
        '<div class="qa-index qa-error"><p><strong>No usable index.</strong> '
        f"{esc(message)}</p></div>"
    )
