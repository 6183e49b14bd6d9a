"""The rows a build lays out (qa.indexing.rows): new documents' chunks and sentences written as the
chunk table stores them, reused documents' rows copied from a previous index with their
offsets moved, and the texts to embed in row order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa import Settings, build_index
from qa.errors import IndexWriteError
from qa.indexing.index import (
    DOC,
    SENTENCE_END,
    SENTENCE_START,
    TEXT_END,
    TEXT_START,
    Blob,
    load_index,
)
from qa.indexing.rows import RowLayout
from qa.types import Span

TEXT = "Cavendish won. He will race in 2024. Astana agreed. The end."
UNITS = [Span(0, 14), Span(15, 36), Span(37, 51), Span(52, 60)]
RANGES = [Span(0, 2), Span(1, 3), Span(3, 4)]  # chunk 1 shares sentence 1 with chunk 0


def _texts(columns: np.ndarray, path: Path) -> list[str]:
    blob = Blob(path)
    return [
        blob.read(int(a), int(b)).decode()
        for a, b in zip(columns[TEXT_START], columns[TEXT_END], strict=True)
    ]


def test_new_documents_lay_out_chunks_sentences_and_texts_to_embed(tmp_path: Path) -> None:
    layout = RowLayout(tmp_path, tmp_path)
    layout.new(0, TEXT, UNITS, RANGES, ["T\nA", "T\nB", "T\nC"])
    layout.new(1, "", [], [], [])  # a document with no chunk lays out nothing
    layout.new(2, "Short one.", [Span(0, 10)], [Span(0, 1)], ["Short one."])
    laid = layout.close()
    columns = laid.chunks.columns
    assert columns[DOC].tolist() == [0, 0, 0, 2]
    assert columns[[TEXT_START, TEXT_END]].tolist() == [[0, 36, 72, 80], [36, 72, 80, 90]]
    assert _texts(columns, laid.chunks.texts) == [
        TEXT[0:36],
        TEXT[15:51],
        TEXT[52:60],
        "Short one.",
    ]
    assert columns[SENTENCE_START].tolist() == [0, 1, 3, 4]
    assert columns[SENTENCE_END].tolist() == [2, 3, 4, 5]
    assert laid.sentence_spans.tolist() == [[0, 14], [15, 36], [37, 51], [52, 60], [0, 10]]
    assert (laid.chunk_from == -1).all() and (laid.sentence_from == -1).all()
    sentences = [TEXT[a:b] for a, b in laid.sentence_spans[:4].tolist()] + ["Short one."]
    assert list(laid.to_embed) == ["T\nA", "T\nB", "T\nC", "Short one.", *sentences]
    assert list(laid.new_chunk_texts) == ["T\nA", "T\nB", "T\nC", "Short one."]


def test_reused_rows_are_copied_with_their_offsets_moved(
    tmp_path: Path, hash_settings: Settings
) -> None:
    """Rows taken from a previous index keep their texts and point at the previous rows."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, body in (("a.txt", TEXT), ("b.txt", "Another article. With two sentences.")):
        (corpus / name).write_text(body, encoding="utf-8")
    build_index(corpus, tmp_path / "index", settings=hash_settings)
    previous = load_index(tmp_path / "index")
    layout = RowLayout(tmp_path, tmp_path)
    layout.new(0, "New one.", [Span(0, 8)], [Span(0, 1)], ["New one."])
    b = previous.documents.find("b.txt")
    assert b is not None
    layout.reused(1, previous, b.first_chunk, b.chunks, b.first_sentence, b.sentences)
    laid = layout.close()
    old_rows = range(b.first_chunk, b.first_chunk + b.chunks)
    assert _texts(laid.chunks.columns, laid.chunks.texts)[1:] == [
        previous.chunks.text(r) for r in old_rows
    ]
    assert laid.chunk_from.tolist() == [-1, *old_rows]
    assert laid.chunks.columns[DOC, 1:].tolist() == [1] * b.chunks
    old_sentences = range(b.first_sentence, b.first_sentence + b.sentences)
    assert laid.sentence_from.tolist() == [-1, *old_sentences]
    assert laid.sentence_spans[1:].tolist() == previous.sentence_spans[old_sentences].tolist()
    assert laid.chunks.columns[SENTENCE_START, 1] == 1  # after the new document's sentence
    assert list(laid.to_embed) == ["New one.", "New one."]  # only the new rows


def test_a_failed_write_is_an_index_write_error(tmp_path: Path) -> None:
    layout = RowLayout(tmp_path, tmp_path)
    full_disk = open("/dev/full", "wb", buffering=0)  # noqa: SIM115
    layout._texts = full_disk  # type: ignore[assignment]  # every write fails: ENOSPC
    with pytest.raises(IndexWriteError):
        layout.new(0, TEXT, UNITS, RANGES, ["a", "b", "c"])


def test_documents_next_to_one_another_are_reused_as_one_run(
    tmp_path: Path, hash_settings: Settings
) -> None:
    """Reused documents are laid out together while they follow one another in both indexes;
    a new document or a gap ends the run. Rows and texts are as reused one by one."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, name in enumerate("abcde"):
        body = f"Article {name}. " + " ".join(f"Sentence {j} of {name}." for j in range(i + 2))
        (corpus / f"{name}.txt").write_text(body, encoding="utf-8")
    build_index(corpus, tmp_path / "index", settings=hash_settings)
    previous = load_index(tmp_path / "index")
    records = [previous.documents.find(f"{n}.txt") for n in "abcde"]
    layout = RowLayout(tmp_path, tmp_path)
    plan = [records[0], records[1], None, records[3], records[2], records[4]]
    for doc_row, record in enumerate(plan):
        if record is None:
            layout.new(doc_row, "New one.", [Span(0, 8)], [Span(0, 1)], ["New one."])
            continue
        layout.reused(
            doc_row, previous, record.first_chunk, record.chunks, record.first_sentence,
            record.sentences,
        )  # fmt: skip
        assert layout.chunks == sum(r.chunks if r else 1 for r in plan[: doc_row + 1])
    laid = layout.close()
    columns = laid.chunks.columns
    texts = _texts(columns, laid.chunks.texts)
    row = 0
    for doc_row, record in enumerate(plan):
        if record is None:
            assert texts[row] == "New one." and laid.chunk_from[row] == -1
            row += 1
            continue
        for old in range(record.first_chunk, record.first_chunk + record.chunks):
            assert texts[row] == previous.chunks.text(old)
            assert (columns[DOC, row], laid.chunk_from[row]) == (doc_row, old)
            first = int(columns[SENTENCE_START, row])
            spans = laid.sentence_spans[first : int(columns[SENTENCE_END, row])]
            old_first = int(previous.chunks.sentence_first[old])
            old_spans = previous.sentence_spans[old_first : int(previous.chunks.sentence_stop[old])]
            assert spans.tolist() == old_spans.tolist()
            assert laid.sentence_from[first] == old_first
            row += 1
    assert row == len(texts)
