"""Separate article content from web boilerplate, keeping exact offsets (pure).

The cleaner never rewrites text: it returns the *segments* of the original text that are
article content. Everything between segments is boilerplate that scrapers of news sites carry
along: newsletter sign-up blocks, paywall lines, image credits, "also read" lists, teaser lists
of related articles ("-" / title / standfirst / "By X Published") and author bios at the foot of
the page. Metadata comes out too: the publication date where the file states one
(``date 2023-10-05`` at its top, or ``date:`` in front matter) and a title (front matter
``title:``, else the first content line, shortened to its first sentence when long).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sentences import split_sentences, trim
from .types import Span

_I = re.IGNORECASE

# A sentence matching one of these is boilerplate wherever it stands.
_BOILERPLATE_SENTENCE = [
    re.compile(p, _I)
    for p in (
        r"\bnewsletter\b",
        r"\bsign(?:ing)? up (?:to|for)\b",
        r"\bdirect to your inbox\b",
        r"\byour email address\b",
        r"\bcontact me with news and offers\b",
        r"\bverification email\b",
        r"^there was a problem\.?$",
        r"\bplease refresh the page\b",
        r"\bby submitting your information\b",
        r"\bterms (?:&|and) conditions\b",
        r"\bthank you for reading \d+ (?:free )?articles\b",
        r"\bjoin now for unlimited access\b",
        r"\b(?:enjoy|try) (?:your )?first month for just\b",
        r"\bfree articles? (?:per|a|this) month\b",
        r"\bwithout a subscription\b",
        r"\b(?:subscribe|log ?in|sign ?in) (?:now|today|here) (?:to|for)\b",
        r"\balready a subscriber\b",
        r"\(image credit:[^)]*\)\s*$",
        r"^(?:image|photo|picture) credit:",
        r"^[A-Z][\w’'.-]+(?: [A-Z][\w’'.-]+)? (?:has been|is) (?:writing|working|reporting) for\b",
    )
]
# A whole line matching one of these is boilerplate.
_SEPARATOR = re.compile(r"^\s*[-–—•*|]\s*$")
_BYLINE = re.compile(
    r"^\s*By [A-Z][\w’'.-]*(?: [A-Za-z][\w’'.-]*){0,4},? (?:Published|Last updated)\b.*$"
)
_LIST_HEADER = re.compile(
    r"^\s*(?:also read|read more|related(?: articles| stories)?|more from \w+|"
    r"you may also like|recommended(?: for you)?|most popular|trending)\s*:?\s*$",
    _I,
)
_BULLET = re.compile(r"^\s*(?:[-–•*]|\d+[.)])\s+\S")
_DATE_LINE = re.compile(r"^\s*date:?\s+(\d{4}-\d{2}-\d{2})\b[ \t]*", _I)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_FM_FIELD = re.compile(r"^(title|date):\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE | _I)
_HEADING_MARK = re.compile(r"^#{1,6}\s+")

TITLE_MAX_CHARS = 150
FOOTER_MAX_LINES = 3
FOOTER_MAX_SHARE = 0.15


@dataclass(frozen=True)
class Cleaned:
    segments: tuple[Span, ...]
    title: str
    date: str | None


@dataclass
class _Line:
    start: int
    end: int
    kept: list[Span]  # content pieces of the line; empty when the line is boilerplate or blank
    boilerplate: bool = False  # the line held something and all of it was removed


def _lines(text: str, start: int) -> list[_Line]:
    lines = []
    pos = start
    n = len(text)
    while pos <= n:
        nl = text.find("\n", pos)
        end = n if nl == -1 else nl
        lines.append(_Line(pos, end, []))
        if nl == -1:
            break
        pos = nl + 1
    return lines


def _classify_line(text: str, line: _Line) -> None:
    span = trim(text, line.start, line.end)
    if span is None:
        return
    raw = span.of(text)
    if _SEPARATOR.match(raw) or _BYLINE.match(raw) or _LIST_HEADER.match(raw):
        line.boilerplate = True
        return
    kept = [
        s
        for s in split_sentences(text, span.start, span.end)
        if not any(p.search(s.of(text)) for p in _BOILERPLATE_SENTENCE)
    ]
    if kept:
        line.kept = _merge_adjacent(text, kept)
    else:
        line.boilerplate = True


def _merge_adjacent(text: str, pieces: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for p in pieces:
        if merged and not text[merged[-1].end : p.start].strip():
            merged[-1] = Span(merged[-1].start, p.end)
        else:
            merged.append(p)
    return merged


def _drop(line: _Line) -> None:
    if line.kept:
        line.kept = []
        line.boilerplate = True


def _remove_lists(text: str, lines: list[_Line]) -> None:
    """Teaser lists: "Also read:" + bullets, and "-"/title/standfirst/"By X Published" groups."""
    for i, line in enumerate(lines):
        raw = text[line.start : line.end]
        if _LIST_HEADER.match(raw):
            j = i + 1
            while j < len(lines) and (
                _BULLET.match(text[lines[j].start : lines[j].end]) or not lines[j].kept
            ):
                if not lines[j].kept and not lines[j].boilerplate and j > i + 1:
                    break  # a blank line ends the list
                _drop(lines[j])
                j += 1
        elif _BYLINE.match(raw):
            j, dropped = i - 1, 0
            while j >= 0 and dropped < 2 and lines[j].kept:
                _drop(lines[j])
                dropped += 1
                j -= 1


def _remove_footer(lines: list[_Line], text: str) -> None:
    """Drop a short run of content (an author bio) wedged between footer boilerplate blocks."""
    total = sum(len(s) for line in lines for s in line.kept)
    if not total:
        return
    last_kept = max((i for i, line in enumerate(lines) if line.kept), default=-1)
    last_removed = max((i for i, line in enumerate(lines) if line.boilerplate), default=-1)
    if last_removed < last_kept:
        return  # the article ends with content: nothing is wedged
    for marker, line in enumerate(lines):
        if not line.boilerplate:
            continue
        after = [ln for ln in lines[marker + 1 :] if ln.kept]
        chars = sum(len(s) for ln in after for s in ln.kept)
        if after and len(after) <= FOOTER_MAX_LINES and chars <= FOOTER_MAX_SHARE * total:
            for ln in after:
                _drop(ln)
            return


def _title(text: str, segments: tuple[Span, ...]) -> str:
    if not segments:
        return ""
    first = segments[0]
    nl = text.find("\n", first.start, first.end)
    line = text[first.start : first.end if nl == -1 else nl].strip()
    line = _HEADING_MARK.sub("", line)
    if len(line) > TITLE_MAX_CHARS:
        sentences = split_sentences(line)
        if sentences:
            line = sentences[0].of(line)
    if len(line) > TITLE_MAX_CHARS:
        line = line[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    return line


def clean(text: str) -> Cleaned:
    """Find the content segments, title and date of an article's text."""
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
        _classify_line(text, line)
        if line.kept or line.boilerplate:
            seen_content += 1
    _remove_lists(text, lines)
    _remove_footer(lines, text)

    segments: list[Span] = []
    for line in lines:
        for piece in line.kept:
            gap = text[segments[-1].end : piece.start] if segments else "x"
            if segments and not gap.strip():
                segments[-1] = Span(segments[-1].start, piece.end)
            else:
                segments.append(piece)
    result = tuple(segments)
    return Cleaned(result, title or _title(text, result), date)
