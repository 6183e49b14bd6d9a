"""Tests of qa.ingest.chunking: hand-computed chunks with a word counter, real tokens on the
seeds."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.config import Settings
from qa.ingest.chunking import chunk_document
from qa.ingest.documents import load_corpus
from qa.ingest.sentences import split_sentences
from qa.ingest.tokens import token_counter
from qa.types import Chunk, Span

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def words(text: str) -> int:
    """A deterministic token counter: one token per whitespace-separated word."""
    return len(text.split())


def fives(text: str) -> int:
    """One token per started 5 characters of each word, so a long word is many tokens."""
    return sum(-(-len(w) // 5) for w in text.split())


def whole(text: str) -> Span:
    return Span(0, len(text))


def pieces(text: str, spans: list[Span]) -> list[str]:
    return [s.of(text) for s in spans]


# --- hand-computed cases (word counter) ------------------------------------------------------

# Sentences of 3, 2, 4 and 1 words.
TEXT = "One two three. Four five. Six seven eight nine. Ten."


def test_packing_with_overlap_exact_spans() -> None:
    chunks = chunk_document(TEXT, [whole(TEXT)], words, 6, 2).spans()
    assert chunks == [Span(0, 25), Span(15, 47), Span(48, 52)]
    assert pieces(TEXT, chunks) == [
        "One two three. Four five.",
        "Four five. Six seven eight nine.",  # the trailing 2-word sentence is carried over
        "Ten.",
    ]


def test_packing_without_overlap() -> None:
    chunks = chunk_document(TEXT, [whole(TEXT)], words, 6, 0).spans()
    assert pieces(TEXT, chunks) == ["One two three. Four five.", "Six seven eight nine. Ten."]
    assert chunks == [Span(0, 25), Span(26, 52)]


def test_overlap_carries_only_what_fits() -> None:
    # The trailing sentence has 2 words: an overlap of 1 carries nothing.
    chunks = chunk_document(TEXT, [whole(TEXT)], words, 6, 1).spans()
    assert pieces(TEXT, chunks) == ["One two three. Four five.", "Six seven eight nine. Ten."]


def test_overlap_carries_several_trailing_sentences() -> None:
    text = "A b c d. E f. G h. I j k l."  # 4, 2, 2, 4 words
    chunks = chunk_document(text, [whole(text)], words, 8, 4).spans()
    assert pieces(text, chunks) == ["A b c d. E f. G h.", "E f. G h. I j k l."]


def test_everything_fits_in_one_chunk() -> None:
    assert chunk_document(TEXT, [whole(TEXT)], words, 100, 10).spans() == [Span(0, len(TEXT))]


def test_overlong_sentence_cut_at_word_boundaries() -> None:
    text = "a b c d e f g."
    chunks = chunk_document(text, [whole(text)], words, 3, 1).spans()
    assert chunks == [Span(0, 5), Span(6, 11), Span(12, 14)]
    assert pieces(text, chunks) == ["a b c", "d e f", "g."]
    assert all(words(p) <= 3 for p in pieces(text, chunks))


def test_overlong_sentence_between_short_ones() -> None:
    text = "Short one. This sentence has exactly eight words in it. End here."
    chunks = chunk_document(text, [whole(text)], words, 5, 0).spans()
    assert pieces(text, chunks) == [
        "Short one.",
        "This sentence has exactly eight",
        "words in it. End here.",
    ]


def test_single_giant_word_is_cut_by_characters() -> None:
    word = "x" * 40  # 8 tokens under `fives`
    text = "Start. " + word + " end."
    chunks = chunk_document(text, [whole(text)], fives, 3, 1).spans()
    assert chunks == [Span(0, 6), Span(7, 22), Span(22, 37), Span(37, 52)]
    assert pieces(text, chunks) == ["Start.", "x" * 15, "x" * 15, "x" * 10 + " end."]
    assert all(fives(p) <= 3 for p in pieces(text, chunks))


def test_giant_word_alone() -> None:
    text = "y" * 23  # 5 tokens under `fives`; max 2 -> the longest pieces of 2 tokens: 10 chars
    chunks = chunk_document(text, [whole(text)], fives, 2, 0).spans()
    assert chunks == [Span(0, 10), Span(10, 20), Span(20, 23)]


def test_chunks_never_cross_segment_boundaries() -> None:
    text = "A b. C d.\n\nBOILERPLATE HERE\n\nE f. G h."
    segments = [Span(0, 9), Span(text.index("E f"), len(text))]
    chunks = chunk_document(text, segments, words, 100, 10).spans()
    assert pieces(text, chunks) == ["A b. C d.", "E f. G h."]
    assert "BOILERPLATE" not in " ".join(pieces(text, chunks))


def test_chunks_are_in_segment_order() -> None:
    text = "One two. Three four. Five six.\nSeven eight. Nine ten."
    seg1 = Span(0, 30)
    seg2 = Span(31, len(text))
    chunks = chunk_document(text, [seg1, seg2], words, 4, 0).spans()
    assert pieces(text, chunks) == ["One two. Three four.", "Five six.", "Seven eight. Nine ten."]


def test_empty_segment_gives_no_chunks() -> None:
    text = "   \n  "
    assert chunk_document(text, [whole(text)], words, 10, 2).spans() == []
    assert chunk_document("anything", [], words, 10, 2).spans() == []


def test_no_chunk_is_contained_in_its_predecessor() -> None:
    text = "One two three. Four five. Six seven eight nine ten."  # 3, 2, 5 words
    chunks = chunk_document(text, [whole(text)], words, 6, 2).spans()
    for prev, cur in itertools.pairwise(chunks):
        assert cur.end > prev.end, (pieces(text, [prev]), pieces(text, [cur]))


# --- real tokenizer on the seeds -------------------------------------------------------------


@pytest.fixture(scope="module")
def cl100k():
    return token_counter("cl100k_base")


@pytest.fixture(scope="module")
def seed_corpus():
    return load_corpus(SEEDS, Settings())


def test_seed_documents_offsets_match_read_text(seed_corpus) -> None:
    assert len(seed_corpus.documents) == 5
    for doc in seed_corpus.documents:
        assert doc.text == (SEEDS / doc.source).read_text(encoding="utf-8")


@pytest.mark.parametrize("max_tokens,overlap", [(200, 40), (64, 16), (32, 8)])
def test_seed_chunks(seed_corpus, cl100k, max_tokens: int, overlap: int) -> None:
    for doc in seed_corpus.documents:
        text = (SEEDS / doc.source).read_text(encoding="utf-8")
        spans = chunk_document(text, doc.segments, cl100k, max_tokens, overlap).spans()
        assert spans
        chunks = [
            Chunk(doc.source, s.start, s.end, s.of(text), doc.title, doc.date, doc.sha256)
            for s in spans
        ]
        for c in chunks:
            assert text[c.start : c.end] == c.text
            assert c.text == c.text.strip()
            assert cl100k(c.text) <= max_tokens + 5, (doc.source, c.text)
            assert any(seg.start <= c.start and c.end <= seg.end for seg in doc.segments)
        for seg in doc.segments:
            for sentence in split_sentences(text, seg.start, seg.end):
                if cl100k(sentence.of(text)) <= max_tokens:
                    assert any(
                        c.start <= sentence.start and sentence.end <= c.end for c in chunks
                    ), (doc.source, sentence.of(text))
                else:  # cut into pieces: covered by the union of chunks
                    _assert_covered(text, sentence, spans)


def test_seed_chunk_counts_at_default_settings(seed_corpus, cl100k) -> None:
    counts = {
        doc.source[:3]: len(chunk_document(doc.text, doc.segments, cl100k, 200, 40).ranges)
        for doc in seed_corpus.documents
    }
    # Each seed is 1,000-2,000 tokens of content: several chunks, none tiny in number.
    assert all(3 <= n <= 15 for n in counts.values()), counts


def test_overlap_repeats_text_between_seed_chunks(seed_corpus, cl100k) -> None:
    doc = next(d for d in seed_corpus.documents if d.source.startswith("000"))
    spans = chunk_document(doc.text, doc.segments, cl100k, 200, 40).spans()
    assert len(spans) >= 2
    overlapping = sum(1 for a, b in itertools.pairwise(spans) if b.start < a.end)
    assert overlapping >= 1


def test_lines_without_punctuation_stay_within_budget(cl100k) -> None:
    text = ("Stage result line for rider\n" * 100).rstrip()
    spans = chunk_document(text, [whole(text)], cl100k, 200, 40).spans()
    # Actual: chunks of 239 tokens.
    assert max(cl100k(s.of(text)) for s in spans) <= 205


def test_giant_word_with_uneven_density_stays_within_budget(cl100k) -> None:
    text = "€" * 300 + "a" * 3000
    spans = chunk_document(text, [whole(text)], cl100k, 200, 40).spans()
    # Actual: the first piece has 386 tokens.
    assert max(cl100k(s.of(text)) for s in spans) <= 205


# --- properties (word counter) ---------------------------------------------------------------

_TOKENS = st.sampled_from(
    [
        "word",
        "Word",
        "A",
        "ab",
        "Dr.",
        "J.",
        "end.",
        "Yes!",
        "why?",
        "“Quote.”",
        "9",
        ".",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\t",
    ]
)
_TEXT = st.one_of(
    st.lists(_TOKENS, max_size=120).map(lambda t: " ".join(t)),
    st.text(alphabet=st.characters(exclude_characters="\ufeff"), max_size=200),
)


@st.composite
def _case(draw: st.DrawFn) -> tuple[str, list[Span], int, int]:
    text = draw(_TEXT)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    bounds = [0, *cuts, len(text)]
    segments = []
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        if (i % 2 == 0 or draw(st.booleans())) and b > a:
            segments.append(Span(a, b))
    # Adjacent spans would merge content across a boundary; keep them apart.
    segments = [s for i, s in enumerate(segments) if i == 0 or segments[i - 1].end < s.start]
    max_tokens = draw(st.integers(1, 12))
    overlap = draw(st.integers(0, max_tokens))
    return text, segments, max_tokens, overlap


@settings(max_examples=200, deadline=None)
@given(_case())
def test_property_chunks(case: tuple[str, list[Span], int, int]) -> None:
    text, segments, max_tokens, overlap = case
    chunks = chunk_document(text, segments, words, max_tokens, overlap).spans()
    by_segment: dict[int, list[Span]] = {}
    for c in chunks:
        owners = [i for i, s in enumerate(segments) if s.start <= c.start and c.end <= s.end]
        assert len(owners) == 1, f"chunk {c} is not inside exactly one segment"
        by_segment.setdefault(owners[0], []).append(c)
        piece = c.of(text)
        assert piece and not piece[0].isspace() and not piece[-1].isspace()
        assert words(piece) <= max_tokens or len(piece.split()) == 1
    for seg_chunks in by_segment.values():
        assert seg_chunks == sorted(seg_chunks)
        for a, b in itertools.pairwise(seg_chunks):
            assert b.start > a.start
    # Chunks come in segment order.
    owner_order = [
        next(i for i, s in enumerate(segments) if s.start <= c.start and c.end <= s.end)
        for c in chunks
    ]
    assert owner_order == sorted(owner_order)
    for seg in segments:
        _assert_covered(text, seg, chunks)


def _assert_covered(text: str, span: Span, chunks: list[Span]) -> None:
    for i in range(span.start, span.end):
        if not text[i].isspace() and text[i] != "\ufeff":
            assert any(c.start <= i < c.end for c in chunks), f"{text[i]!r} at {i} not chunked"


@settings(max_examples=100, deadline=None)
@given(st.integers(4, 12), st.data())
def test_property_sentence_packing(max_tokens: int, data: st.DataObject) -> None:
    """Sentences that each fit: chunks are whole sentences, packed greedily up to max_tokens."""
    lengths = data.draw(st.lists(st.integers(1, max_tokens), min_size=1, max_size=30))
    overlap = data.draw(st.integers(0, max_tokens // 2))
    # Each sentence starts with a capital and ends with a full stop.
    text = " ".join(" ".join(["Word"] + ["w"] * (n - 1)) + "." for n in lengths)
    sentences = split_sentences(text)
    assert [words(s.of(text)) for s in sentences] == lengths
    chunks = chunk_document(text, [whole(text)], words, max_tokens, overlap).spans()
    starts = [s.start for s in sentences]
    ends = [s.end for s in sentences]
    for c in chunks:
        assert words(c.of(text)) <= max_tokens
        first, last = starts.index(c.start), ends.index(c.end)  # aligned to sentences
        if last + 1 < len(lengths):  # greedy: the next sentence would not have fitted
            assert sum(lengths[first : last + 2]) > max_tokens
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
