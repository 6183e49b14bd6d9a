"""The chunk and sentence rows of a new index, as a build lays them out document by document.

Columns grow as compact int64 buffers (8 bytes a number, no object a row); texts go to files
as they come (qa.indexing.spool): the chunks' texts straight into the chunk-table layout a
generation
stores (qa.indexing.index), the texts to embed (each new chunk as it is embedded, and its sentences)
into a spool. Documents that are unchanged take their rows from the previous index, several
neighbours at once: columns shifted, chunk texts copied as runs of bytes, nothing decoded.
"""

from __future__ import annotations

import contextlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..types import Span
from .index import (
    DOC,
    SENTENCE_END,
    SENTENCE_START,
    TEXT_END,
    TEXT_START,
    Blob,
    ChunkRows,
    StoredIndex,
)
from .spool import Spool, Spooled
from .store import TEXTS, write_error


class _Ints:
    """A growing int64 array, ``width`` numbers a row (8 bytes a number: no object a row)."""

    def __init__(self, width: int = 1) -> None:
        self._data = array("q")
        self._width = width

    def add(self, rows: np.ndarray) -> None:
        self._data.frombytes(np.ascontiguousarray(rows, dtype=np.int64).tobytes())

    def get(self) -> np.ndarray:
        flat = np.frombuffer(self._data, dtype=np.int64).copy() if self._data else _EMPTY
        return flat.reshape(-1, self._width) if self._width > 1 else flat


_EMPTY = np.zeros(0, dtype=np.int64)
_PIECE = 1 << 24  # bytes of chunk text copied at a time


@dataclass(frozen=True)
class Laid:
    """The rows as laid out. A row's ``*_from`` is its row in the previous index, whose
    vector it reuses, or -1: embed it. ``to_embed`` holds the texts to embed: those of the
    chunks to embed (in row order), then those of the sentences."""

    chunks: ChunkRows
    chunk_from: np.ndarray  # (chunks,) int64
    sentence_spans: np.ndarray  # (sentences, 2) int64
    sentence_from: np.ndarray  # (sentences,) int64
    to_embed: Spooled

    @property
    def new_chunks(self) -> np.ndarray:
        """The rows of the chunks to embed."""
        return np.flatnonzero(self.chunk_from < 0)

    @property
    def new_sentences(self) -> np.ndarray:
        return np.flatnonzero(self.sentence_from < 0)

    @property
    def new_chunk_texts(self) -> Spooled:
        """The texts of the chunks to embed, as embedded."""
        return self.to_embed.take(np.arange(int((self.chunk_from < 0).sum())))


@dataclass
class _Run:
    """Reused rows not laid out yet: documents next to one another in the previous index and in
    the new one, from (old) rows first_chunk and first_sentence, the first of them new row
    doc_row (old row old_doc), its first sentence new row new_sentence."""

    previous: StoredIndex
    doc_row: int
    old_doc: int
    first_chunk: int
    first_sentence: int
    new_sentence: int
    docs: int = 0
    chunks: int = 0
    sentences: int = 0

    def follows(
        self,
        previous: StoredIndex,
        doc_row: int,
        old_doc: int,
        first_chunk: int,
        first_sentence: int,
    ) -> bool:
        """Whether a document with these rows comes next, in both indexes."""
        return (
            previous is self.previous
            and (doc_row, old_doc) == (self.doc_row + self.docs, self.old_doc + self.docs)
            and first_chunk == self.first_chunk + self.chunks
            and first_sentence == self.first_sentence + self.sentences
        )


class RowLayout:
    """Lays out rows in ``folder`` (the scratch folder of the index in ``index_dir``): ``new``
    and ``reused`` a document at a time, in order. A write that fails (a full disk) raises
    IndexWriteError."""

    def __init__(self, folder: Path, index_dir: Path) -> None:
        self._index_dir = index_dir
        self._folder = folder
        with self._writing():
            self._texts_path = folder / "chunks.txt"
            self._texts = self._texts_path.open("wb")
            self._embed = Spool(folder / "embed.txt")
        self._at = 0  # bytes of chunk text written
        self._embed_chunks = _Ints()  # their rows in the spool
        self._embed_sentences = _Ints()
        self._columns = _Ints(7)  # a chunk a row (the chunk table's columns, transposed)
        self._chunk_from = _Ints()
        self._spans = _Ints(2)
        self._sentence_from = _Ints()
        self._run: _Run | None = None  # reused rows not laid out yet
        self.chunks = 0  # rows laid out, and those of the run
        self.sentences = 0

    def new(
        self,
        doc_row: int,
        text: str,
        units: Sequence[Span],
        ranges: Sequence[Span],
        embedded: Sequence[str],
    ) -> None:
        """A new document's rows: its sentence ``units``, and chunks over ``ranges`` of them;
        ``embedded``: each chunk's text as it is embedded (qa.indexing.build.indexed_text)."""
        self._flush()
        spans = np.array([(u.start, u.end) for u in units], dtype=np.int64).reshape(-1, 2)
        first = self.sentences
        columns = np.zeros((7, len(ranges)), dtype=np.int64)
        at = len(self._embed)
        with self._writing():
            for c, r in enumerate(ranges):
                start, end = int(spans[r.start, 0]), int(spans[r.end - 1, 1])
                begin = self._at
                self._at += self._texts.write(text[start:end].encode("utf-8"))
                columns[:, c] = (
                    doc_row,
                    start,
                    end,
                    first + r.start,
                    first + r.end,
                    begin,
                    self._at,
                )
            self._embed.add(embedded)
            self._embed.add([text[a:b] for a, b in spans.tolist()])
        self._embed_chunks.add(np.arange(at, at + len(ranges)))
        self._embed_sentences.add(np.arange(at + len(ranges), len(self._embed)))
        self._add(columns, np.full(len(ranges), -1), spans, np.full(len(spans), -1))
        self.chunks += len(ranges)
        self.sentences += len(spans)

    def stored_text(self, name: str, text: str) -> Path:
        """Write a document's extracted text as a generation stores it (texts/``name``)."""
        path = self._folder / TEXTS / name
        if not path.exists():  # (documents with the same content share it)
            with self._writing():
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(text.encode("utf-8"))
        return path

    def reused(
        self, doc_row: int, previous: StoredIndex, first_chunk: int, chunks: int,
        first_sentence: int, sentences: int,
    ) -> None:  # fmt: skip
        """An unchanged document's rows: those of the previous index from ``first_chunk`` and
        ``first_sentence``, whose vectors are reused. Documents next to one another in both
        indexes are laid out together, as one run of rows."""
        old_doc = int(previous.chunks.columns[DOC, first_chunk]) if chunks else -1
        run = self._run
        if run is None or not run.follows(previous, doc_row, old_doc, first_chunk, first_sentence):
            self._flush()
            run = _Run(previous, doc_row, old_doc, first_chunk, first_sentence, self.sentences)
            self._run = run
        run.docs += 1
        run.chunks += chunks
        run.sentences += sentences
        self.chunks += chunks
        self.sentences += sentences

    def _flush(self) -> None:
        """Lay out the run of reused rows not laid out yet."""
        run, self._run = self._run, None
        if run is None:
            return
        chunks = slice(run.first_chunk, run.first_chunk + run.chunks)
        columns = np.array(run.previous.chunks.columns[:, chunks])
        columns[DOC] += run.doc_row - run.old_doc
        columns[[SENTENCE_START, SENTENCE_END]] += run.new_sentence - run.first_sentence
        with self._writing():
            self._copy_texts(run.previous.chunks.texts, columns)
        sentences = slice(run.first_sentence, run.first_sentence + run.sentences)
        spans = np.array(run.previous.sentence_spans[sentences], dtype=np.int64).reshape(-1, 2)
        self._add(
            columns,
            np.arange(chunks.start, chunks.stop),
            spans,
            np.arange(sentences.start, sentences.stop),
        )

    def _copy_texts(self, texts: Blob, columns: np.ndarray) -> None:
        """Copy the texts of chunk ``columns`` from ``texts``, pointing the columns at them."""
        starts, stops = columns[TEXT_START], columns[TEXT_END]
        if len(starts) and np.array_equal(starts[1:], stops[:-1]):  # back to back: one run
            first, last = int(starts[0]), int(stops[-1])
            for at in range(first, last, _PIECE):
                self._texts.write(texts.read(at, min(at + _PIECE, last)))
            columns[[TEXT_START, TEXT_END]] += self._at - first
            self._at += last - first
            return
        for c in range(len(starts)):
            data = texts.read(int(starts[c]), int(stops[c]))
            columns[TEXT_START, c] = self._at
            self._at += self._texts.write(data)
            columns[TEXT_END, c] = self._at

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise write_error(self._index_dir, exc) from exc

    def _add(
        self, columns: np.ndarray, chunk_from: np.ndarray, spans: np.ndarray, sentences: np.ndarray
    ) -> None:
        self._columns.add(columns.T)
        self._chunk_from.add(chunk_from)
        self._spans.add(spans)
        self._sentence_from.add(sentences)

    def close(self) -> Laid:
        self._flush()
        with self._writing():
            self._texts.close()
            spooled = self._embed.close()
        rows = np.concatenate([self._embed_chunks.get(), self._embed_sentences.get()])
        return Laid(
            ChunkRows(np.ascontiguousarray(self._columns.get().T), self._texts_path),
            self._chunk_from.get(),
            self._spans.get(),
            self._sentence_from.get(),
            spooled.take(rows),
        )
