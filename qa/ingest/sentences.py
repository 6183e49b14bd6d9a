"""Sentence splitting with exact character offsets (pure, no dependencies).

A sentence ends at ``.``, ``!``, ``?`` or ``…`` (plus closing quotes or brackets) followed by
whitespace and a capital letter, digit or opening quote, unless the word before the full stop
is a known abbreviation or an initial. A line break also ends a sentence, except where the
next line starts in lower case (a hard-wrapped paragraph). A blank line always ends one.
"""

from __future__ import annotations

import re

from ..types import Span

_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st jr sr vs etc e.g i.e inc ltd co corp no fig mt gen sen rep gov
    lt col capt sgt rev hon jan feb mar apr jun jul aug sep sept oct nov dec approx dept est
    u.s u.k u.n a.m p.m al""".split()  # noqa: SIM905
)
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_OPENERS = "\"'“‘([«"
_TERMINAL = ".!?…:\"'”’)]"


def _is_abbreviation(block: str, dot_at: int) -> bool:
    word_start = dot_at
    while word_start > 0 and not block[word_start - 1].isspace():
        word_start -= 1
    word = block[word_start:dot_at].lstrip(_OPENERS)
    if not word:
        return False
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: "J. Smith"
    return word.lower() in _ABBREVIATIONS


def _starts_sentence(block: str, pos: int) -> bool:
    """Whether the first non-space character at or after pos can begin a sentence."""
    n = len(block)
    while pos < n and block[pos].isspace():
        pos += 1
    while pos < n and block[pos] in _OPENERS:
        pos += 1
    return pos < n and (block[pos].isupper() or block[pos].isdigit())


def _split_block(text: str, start: int, end: int, out: list[Span]) -> None:
    block = text[start:end]
    cut = 0
    for m in _BOUNDARY.finditer(block):
        if not _starts_sentence(block, m.end()):
            continue
        if (
            block[m.start()] == "."
            and m.end() - m.start() == 1
            and _is_abbreviation(block, m.start())
        ):
            continue
        _emit(text, start + cut, start + m.end(), out)
        cut = m.end()
    _emit(text, start + cut, end, out)


def trim(text: str, start: int, end: int) -> Span | None:
    """``[start, end)`` without leading/trailing whitespace (and a leading BOM); None if empty."""
    while start < end and (text[start].isspace() or text[start] == "\ufeff"):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def _emit(text: str, start: int, end: int, out: list[Span]) -> None:
    span = trim(text, start, end)
    if span is not None:
        out.append(span)


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    lines = []
    pos = start
    while pos <= end:
        nl = text.find("\n", pos, end)
        if nl == -1:
            lines.append((pos, end))
            break
        lines.append((pos, nl))
        pos = nl + 1
    return lines


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Split ``text[start:end]`` into sentence spans (offsets into ``text``), whitespace trimmed."""
    end = len(text) if end is None else end
    out: list[Span] = []
    block_start: int | None = None
    block_end = start
    prev_line = ""
    for line_start, line_end in _lines(text, start, end):
        line = text[line_start:line_end].strip()
        if not line:
            if block_start is not None:
                _split_block(text, block_start, block_end, out)
            block_start, prev_line = None, ""
            continue
        continues = (
            block_start is not None
            and line[0].islower()
            and not prev_line.endswith(tuple(_TERMINAL))
        )
        if block_start is not None and not continues:
            _split_block(text, block_start, block_end, out)
            block_start = None
        if block_start is None:
            block_start = line_start
        block_end = line_end
        prev_line = line
    if block_start is not None:
        _split_block(text, block_start, block_end, out)
    return out
