"""Token-aware, sentence-aligned chunking with overlap (pure).

Within each content segment, whole sentences are packed into chunks of at most ``max_tokens``
tokens. The next chunk starts with the trailing whole sentences of the previous one that fit in
``overlap`` tokens (never all of them, so every chunk moves forward). A sentence longer than
``max_tokens`` is cut at word boundaries. Chunks never cross a segment boundary, so a chunk's
span holds content only: ``text[chunk.start:chunk.end]`` is the passage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..types import Span
from .sentences import split_sentences

_WORD = re.compile(r"\S+")


def _cut_word(
    text: str, start: int, end: int, count: Callable[[str], int], max_tokens: int
) -> list[Span]:
    """Cut one giant "word" into the longest pieces of at most max_tokens (binary search)."""
    pieces = []
    while start < end:
        lo, hi = start + 1, end  # the piece text[start:cut] with the largest fitting cut
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(text[start:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(Span(start, lo))
        start = lo
    return pieces


def _split_long(text: str, span: Span, count: Callable[[str], int], max_tokens: int) -> list[Span]:
    """Cut an over-long sentence into pieces of at most max_tokens at word boundaries."""
    pieces: list[Span] = []
    start = end = span.start
    used = 0
    for m in _WORD.finditer(text, span.start, span.end):
        n = count(" " + m.group())
        if n > max_tokens:  # one "word" longer than a chunk (a URL, a data blob): cut by chars
            if used:
                pieces.append(Span(start, end))
            pieces.extend(_cut_word(text, m.start(), m.end(), count, max_tokens))
            start, end, used = m.end(), m.end(), 0
            continue
        if used and used + n > max_tokens:
            pieces.append(Span(start, end))
            start, used = m.start(), 0
        if not used:
            start = m.start()
        end = m.end()
        used += n
    if used:
        pieces.append(Span(start, end))
    return pieces


@dataclass(frozen=True)
class Chunked:
    """A document's chunks, as ranges over its sentence units.

    ``units`` are the sentences (and pieces of over-long sentences) of the content, in order;
    chunk ``c`` holds ``units[c.start:c.end]`` and spans their text.
    """

    units: tuple[Span, ...]
    ranges: tuple[Span, ...]  # unit index ranges [start, end), one per chunk

    def spans(self) -> list[Span]:
        return [Span(self.units[r.start].start, self.units[r.end - 1].end) for r in self.ranges]


def _units(
    text: str, segment: Span, count: Callable[[str], int], max_tokens: int
) -> list[tuple[Span, int]]:
    units: list[tuple[Span, int]] = []
    prev_end: int | None = None
    for sentence in split_sentences(text, segment.start, segment.end):
        # Count the whitespace before a sentence with it: line breaks are tokens too.
        lead = sentence.start if prev_end is None else prev_end
        prev_end = sentence.end
        n = count(text[lead : sentence.end])
        if n <= max_tokens:
            units.append((sentence, n))
        else:
            units.extend(
                (p, count(p.of(text))) for p in _split_long(text, sentence, count, max_tokens)
            )
    return units


def _pack(sizes: Sequence[int], max_tokens: int, overlap: int) -> list[Span]:
    """Greedy packing of unit sizes into [start, end) ranges with a whole-unit overlap."""
    ranges: list[Span] = []
    i = 0
    while i < len(sizes):
        j, used = i, 0
        while j < len(sizes) and (j == i or used + sizes[j] <= max_tokens):
            used += sizes[j]
            j += 1
        ranges.append(Span(i, j))
        if j >= len(sizes):
            break
        # Step back over trailing sentences that fit in the overlap, but always move forward.
        k, carried = j, 0
        while k - 1 > i and carried + sizes[k - 1] <= overlap:
            carried += sizes[k - 1]
            k -= 1
        # The carried sentences must leave room for the next one, or the next chunk would be
        # nothing but a copy of them.
        while k < j and carried + sizes[j] > max_tokens:
            carried -= sizes[k]
            k += 1
        i = k
    return ranges


def chunk_document(
    text: str,
    segments: Sequence[Span],
    count: Callable[[str], int],
    max_tokens: int,
    overlap: int,
) -> Chunked:
    """Chunk every content segment of ``text``; chunks never cross a segment boundary."""
    units: list[Span] = []
    ranges: list[Span] = []
    for segment in segments:
        seg_units = _units(text, segment, count, max_tokens)
        base = len(units)
        units.extend(u for u, _ in seg_units)
        ranges.extend(
            Span(base + r.start, base + r.end)
            for r in _pack([n for _, n in seg_units], max_tokens, overlap)
        )
    return Chunked(tuple(units), tuple(ranges))
