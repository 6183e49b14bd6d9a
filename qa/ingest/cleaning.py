"""Separate a document's content from web boilerplate, keeping exact offsets (pure).

The cleaner never rewrites text: it returns the *segments* of the original text that are
content, and the *removed* spans between them. Metadata comes out too: the publication date
where the file states one (``date 2023-10-05`` at its top, or ``date:`` in front matter) and a
title (front matter ``title:``, else the first content line when it reads like a headline, past
any photo caption above it, else the first sentence cut at a clause boundary).

People point ``qa`` at any folder, so most documents are not web pages, and ordinary text uses
the words that sign-up boxes use ("newsletter", "terms and conditions", "sign up for"). So the
cleaner first looks for *web-page signals*, each a whole line or a sentence in a form that only
scraped pages have:

* ``signup``: a newsletter sign-up box ("Get The Leadout Newsletter", "... direct to your
  inbox!", "You will receive a verification email shortly.");
* ``paywall``: "Thank you for reading 20 articles this month", "Join now for unlimited access",
  "Enjoy your first month for just £1";
* ``byline``: "By Jane Doe Published" under a teaser headline;
* ``credit``: a caption ending "(Image credit: Getty Images)", or a short "Photo credit: X" line;
* ``teaser``: "Also read:" / "You may also like" / "Related articles" and the bullets under it.

Mode ``auto`` (the default) treats a document as a web page only when the signals agree: two
kinds or more, or three signal lines of one kind (a sign-up box or a teaser list is several
lines; one sentence is never enough). Mode ``web`` always applies the web rules, ``none`` never.
On a web page the cleaner removes only what the signals mark: the signal lines and sentences,
separator lines ("-"), the headline and standfirst above each byline, the bullets of a teaser
list, and a short run of lines (an author bio) wedged between the sign-up or paywall boxes and
the teasers at the foot of the page. Everything else, on any page, is kept.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..config import check_mode
from ..types import Span
from .sentences import split_sentences, trim

_I = re.IGNORECASE

# Sentences that only scraped web pages hold, by kind of signal. Each is anchored or specific
# enough that an ordinary sentence using the same words ("Our weekly newsletter goes out every
# Friday", "Sign up for the on-call rota") does not match.
_SENTENCE_SIGNALS: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = tuple(
    (kind, tuple(re.compile(p, _I) for p in patterns))
    for kind, patterns in (
        (
            "signup",
            (
                r"^(?:get|join|subscribe to|sign up (?:to|for))\b.{0,60}\bnewsletters?\s*[!.]?$",
                r"^newsletter sign[- ]?up\s*[!.]?$",
                r"\bdirect to your inbox\b",
                r"\bcontact me with news and offers\b",
                r"\bthank you for signing up\b",
                r"\byou will receive a verification email\b",
                r"^there was a problem\.?$",
                r"^please refresh the page and try again\.?$",
                r"\bby submitting your information\b",
            ),
        ),
        (
            "paywall",
            (
                r"\bthank you for reading \d+ (?:free )?articles\b",
                r"\b(?:join|subscribe)(?: now| today)? for unlimited access\b",
                r"\bfirst month for (?:just|only) [£$€]\s?\d",
                r"\b\d+ free articles? (?:per|a|each|this) month\b",
                r"^already a subscriber\b",
                r"\bsubscribe (?:now |today )?to (?:continue|keep) reading\b",
            ),
        ),
        (
            "credit",
            (
                r"\((?:image|photo|picture) credits?:[^)]*\)\s*$",
                r"^(?:image|photo|picture)s? credits?:\s*(?:\S+ ){0,5}\S+$",
            ),
        ),
    )
)
# Whole lines.
_SEPARATOR = re.compile(r"^\s*[-–—•*|]\s*$")
_BYLINE = re.compile(
    r"^\s*By [A-Z][\w’'.-]*(?: [A-Za-z][\w’'.-]*){0,4},? (?:Published|Last updated)\b.*$"
)
# Headers of teaser lists. Only phrasings that notes do not use for their own lists: "Related:",
# "Read more:", "Recommended:" and "See also:" head lists that people write themselves.
_LIST_HEADER = re.compile(
    r"^\s*(?:also read|related (?:articles|stories)|you (?:may|might) also like|"
    r"recommended for you|most (?:read|popular (?:articles|stories))|trending (?:now|stories))"
    r"\s*:?\s*$",
    _I,
)
_BULLET = re.compile(r"^\s*(?:[-–•*]|\d+[.)])\s+\S")
_DATE_LINE = re.compile(r"^\s*date:?\s+(\d{4}-\d{2}-\d{2})\b[ \t]*", _I)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_FM_FIELD = re.compile(r"^(title|date):\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE | _I)
_HEADING_MARK = re.compile(r"^#{1,6}\s+")

TITLE_MAX_CHARS = 150  # a headline line longer than this is cut
TITLE_SOFT_CHARS = 100  # a first sentence used as the title is cut to about this
TITLE_MIN_CHARS = 30  # ... but not shorter than this
TITLE_LOOK_LINES = 4  # content lines looked at for a headline (captions above it skipped)
# Where a long first sentence may be cut to make a title.
_TITLE_BREAK = re.compile(r"[,;:] | [–—-] ")
_TITLE_CLAUSE = re.compile(r" (?:when|after|while|because|but|which|who|where|and|to) ")
_SENTENCE_END = (".", ",", ";", ":")
# A photo caption above the headline: a credit, a "Photo:" label, or a caption's set phrases.
_CAPTION = re.compile(
    r"\((?:image|photo|picture)s? credits?:|^(?:image|photo|picture|photograph)s?(?: credits?)?:|"
    r"\b(?:pictured|in action|looks on)\b|\bcelebrat(?:es|ing) (?:after|victory)\b",
    _I,
)
FOOTER_MAX_LINES = 3
FOOTER_MAX_SHARE = 0.15
# A web page needs signals of this many kinds, or this many signal lines of one kind.
WEB_MIN_KINDS = 2
WEB_MIN_LINES = 3
# Boilerplate lines that can open the foot of a page (a caption cannot).
_FOOTER_KINDS = frozenset({"signup", "paywall", "separator", "teaser", "byline"})


@dataclass(frozen=True)
class Cleaned:
    segments: tuple[Span, ...]  # content, in order; whitespace trimmed at both ends
    title: str
    date: str | None
    removed: tuple[Span, ...] = ()  # boilerplate, in order; blank text between segments is not
    web_page: bool = False  # whether the web rules were applied
    signals: tuple[tuple[str, int], ...] = ()  # (kind, lines or sentences) of web-page signal


@dataclass
class _Line:
    start: int
    end: int
    span: Span | None = None  # the line without surrounding whitespace; None when blank
    kind: str = ""  # the signal or rule that marks the whole line as boilerplate
    sentences: list[tuple[Span, str]] = field(default_factory=list)  # (sentence, signal kind)
    kept: list[Span] = field(default_factory=list)  # content pieces of the line

    @property
    def boilerplate(self) -> bool:
        return self.span is not None and not self.kept


def visible_chars(text: str, start: int = 0, end: int | None = None) -> int:
    """Characters of ``text[start:end]`` that are not whitespace (nor a byte-order mark)."""
    piece = text[start:end]
    return sum(map(len, piece.split())) - piece.count("\ufeff")


def _lines(text: str, start: int) -> list[_Line]:
    lines = []
    pos = start
    n = len(text)
    while pos <= n:
        nl = text.find("\n", pos)
        end = n if nl == -1 else nl
        lines.append(_Line(pos, end))
        if nl == -1:
            break
        pos = nl + 1
    return lines


def _sentence_signal(sentence: str) -> str:
    for kind, patterns in _SENTENCE_SIGNALS:
        if any(p.search(sentence) for p in patterns):
            return kind
    return ""


def _classify(text: str, line: _Line) -> None:
    """Find the line's own signals: a whole boilerplate line, or signal sentences in it."""
    line.span = trim(text, line.start, line.end)
    if line.span is None:
        return
    raw = line.span.of(text)
    if _SEPARATOR.match(raw):
        line.kind = "separator"
    elif _BYLINE.match(raw):
        line.kind = "byline"
    elif _LIST_HEADER.match(raw):
        line.kind = "teaser"
    else:
        line.sentences = [
            (s, _sentence_signal(s.of(text)))
            for s in split_sentences(text, line.span.start, line.span.end)
        ]
        if line.sentences and all(kind for _, kind in line.sentences):
            line.kind = line.sentences[0][1]


def _mark_teaser_lists(text: str, lines: list[_Line]) -> None:
    """The bullets under a teaser-list header are teasers too; a blank line ends the list."""
    for i, line in enumerate(lines):
        if line.span is None or not _LIST_HEADER.match(line.span.of(text)):
            continue
        for j in range(i + 1, len(lines)):
            item = lines[j]
            if item.span is None:
                if j > i + 1:
                    break
                continue
            if _BULLET.match(item.span.of(text)):
                item.kind = item.kind or "teaser"
            elif not item.kind:
                break


def _signals(lines: list[_Line]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in lines:
        sentences = [kind for _, kind in line.sentences if kind]
        if sentences:
            counts.update(sentences)  # a sign-up box run into one line is several signals
        elif line.kind and line.kind != "separator":
            counts[line.kind] += 1
    return counts


def is_web_page(signals: Counter[str]) -> bool:
    """Whether the signals of a document agree that it is a scraped web page."""
    return len(signals) >= WEB_MIN_KINDS or max(signals.values(), default=0) >= WEB_MIN_LINES


def _merge_adjacent(text: str, pieces: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for p in pieces:
        if merged and not text[merged[-1].end : p.start].strip():
            merged[-1] = Span(merged[-1].start, p.end)
        else:
            merged.append(p)
    return merged


def _apply_web_rules(text: str, lines: list[_Line]) -> None:
    for line in lines:
        if line.span is None or line.kind:
            continue
        kept = [s for s, kind in line.sentences if not kind]
        line.kept = _merge_adjacent(text, kept)
    # The headline and standfirst above a byline are a teaser of another article.
    for i, line in enumerate(lines):
        if line.kind != "byline":
            continue
        j, dropped = i - 1, 0
        while j >= 0 and dropped < 2 and lines[j].kept:
            lines[j].kept, lines[j].kind = [], "teaser"
            dropped += 1
            j -= 1
    _remove_footer(lines)


def _remove_footer(lines: list[_Line]) -> None:
    """Drop a short run of content (an author bio) wedged between footer boilerplate blocks."""
    total = sum(len(s) for line in lines for s in line.kept)
    if not total:
        return
    last_kept = max((i for i, line in enumerate(lines) if line.kept), default=-1)
    last_removed = max((i for i, line in enumerate(lines) if line.boilerplate), default=-1)
    if last_removed < last_kept:
        return  # the page ends with content: nothing is wedged
    for marker, line in enumerate(lines):
        if not (line.boilerplate and line.kind in _FOOTER_KINDS):
            continue
        after = [ln for ln in lines[marker + 1 :] if ln.kept]
        chars = sum(len(s) for ln in after for s in ln.kept)
        if after and len(after) <= FOOTER_MAX_LINES and chars <= FOOTER_MAX_SHARE * total:
            for ln in after:
                ln.kept, ln.kind = [], "footer"
            return


def _removed(text: str, lines: list[_Line]) -> tuple[Span, ...]:
    """The non-blank text of the lines that is not kept, joined across blank gaps."""
    pieces: list[Span] = []
    for line in lines:
        if line.span is None:
            continue
        pos = line.span.start
        for keep in [*line.kept, Span(line.span.end, line.span.end)]:
            gap = trim(text, pos, keep.start)
            if gap is not None:
                pieces.append(gap)
            pos = keep.end
    return tuple(_merge_adjacent(text, pieces))


def _lead_lines(text: str, segments: tuple[Span, ...]) -> list[tuple[Span, int]]:
    """The first few non-blank content lines, each with the end of its segment."""
    lines: list[tuple[Span, int]] = []
    for seg in segments:
        pos = seg.start
        while pos < seg.end and len(lines) < TITLE_LOOK_LINES:
            nl = text.find("\n", pos, seg.end)
            end = seg.end if nl == -1 else nl
            line = trim(text, pos, end)
            if line is not None:
                lines.append((line, seg.end))
            pos = end + 1
        if len(lines) >= TITLE_LOOK_LINES:
            break
    return lines


def _shorten(sentence: str) -> str:
    """A first sentence cut down to a title: at its first comma, semicolon, colon or dash past
    ``TITLE_MIN_CHARS``, else before its last clause word (when, after, who, and, to...), else
    at a word, marked with "…"."""
    if len(sentence) <= TITLE_SOFT_CHARS:
        return sentence
    for m in _TITLE_BREAK.finditer(sentence, TITLE_MIN_CHARS, TITLE_SOFT_CHARS):
        return sentence[: m.start()]
    cuts = [m.start() for m in _TITLE_CLAUSE.finditer(sentence, TITLE_MIN_CHARS, TITLE_SOFT_CHARS)]
    if cuts:
        return sentence[: cuts[-1]]
    return sentence[:TITLE_SOFT_CHARS].rsplit(" ", 1)[0] + "…"


def _title(text: str, segments: tuple[Span, ...]) -> str:
    """The article's headline: its first content line when that reads like one (short, not
    ending like a sentence), past any photo caption above it; else its first sentence, cut to
    title length at a clause boundary."""
    lines = _lead_lines(text, segments)
    if not lines:
        return ""
    i = 0
    while i < len(lines) - 1 and _CAPTION.search(lines[i][0].of(text)):
        i += 1
    line, seg_end = lines[i]
    sentences = split_sentences(text, line.start, seg_end)
    first = sentences[0].of(text) if sentences else line.of(text)
    first = " ".join(_HEADING_MARK.sub("", first).split())
    if first.rstrip("\"'”’)").endswith(_SENTENCE_END):
        return _shorten(first)
    if len(first) > TITLE_MAX_CHARS:
        return first[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    return first


def clean(text: str, mode: str = "auto") -> Cleaned:
    """Find the content segments, removed boilerplate, title and date of a document's text.

    ``mode``: ``auto`` applies the web rules only to a document whose signals say it is a
    scraped web page, ``web`` always, ``none`` never (every non-blank line is kept).
    """
    check_mode(mode)
    start, title, date = 0, "", None
    fm = _FRONT_MATTER.match(text)
    if fm:
        for key, value in _FM_FIELD.findall(fm.group(1)):
            if key.lower() == "title":
                title = value.strip()
            elif re.match(r"\d{4}-\d{2}-\d{2}", value):
                date = value[:10]
        start = fm.end()
    lines = _lines(text, start)
    seen_content = 0
    for line in lines:
        if seen_content < 5 and date is None:
            m = _DATE_LINE.match(text, line.start, line.end)
            if m:
                date = m.group(1)
                line.start = m.end()
        _classify(text, line)
        if line.span is not None:
            seen_content += 1
    _mark_teaser_lists(text, lines)
    signals = _signals(lines)
    web = mode == "web" or (mode == "auto" and is_web_page(signals))
    if web:
        _apply_web_rules(text, lines)
    else:
        for line in lines:
            line.kind = ""
            line.kept = [] if line.span is None else [line.span]

    segments: list[Span] = []
    for line in lines:
        for piece in line.kept:
            if segments and not text[segments[-1].end : piece.start].strip():
                segments[-1] = Span(segments[-1].start, piece.end)
            else:
                segments.append(piece)
    result = tuple(segments)
    return Cleaned(
        result,
        title or _title(text, result),
        date,
        _removed(text, lines),
        web,
        tuple(sorted(signals.items())),
    )
