"""The files of one index generation: what a build writes into it and what a query loads.

Files of a generation folder (qa.indexing.store writes the folder, its manifest and checksums)::

    manifest.json           qa.indexing.manifest: schema version, model, chunker settings, vector
    index,
                            the size, modification time and sha256 of every other file
    documents.jsonl         one JSON line a document (qa.indexing.manifest.DocumentRecord: content
                            hash, size, mtime, title, date, rows, pages, sections, removed
                            spans), in row order
    documents.npy           int64 byte offset of each of those lines, and of the end
    chunks.npy              int64 (7, chunks): per chunk its document, start and end offsets,
                            sentence rows, and where its text lies in chunks.txt
    chunks.txt              the chunks' texts, UTF-8, back to back
    vectors.npy             float32 L2-normalised chunk embeddings (kept for incremental reuse)
    sentences.npy           int64 (start, end) file offsets of every sentence of every chunk
    sentence_vectors.npy    float32 L2-normalised sentence embeddings (answer extraction)
    dense.faiss             the vector index over the chunk embeddings (qa.indexing.dense)
    dense.slots.npy         an HNSW graph kept by updates: the row of each node, -1 if deleted
    keyword/                bm25s index files (JSON + .npy)
    texts/<sha256>.txt      the text extracted from each HTML, PDF and DOCX file (UTF-8), keyed
                            by the file's content hash: the text that offsets point into

Loading reads the manifest and memory-maps the rest, except the vectors, whose rows are read
as a query asks for them (``RowFile``): no file is read in full, no per-chunk object is made (a
``Chunk`` is made when one is asked for), and the files are checked by size and modification
time (qa.indexing.store.check). Nothing is pickled.
"""

from __future__ import annotations

import errno
import mmap
import os
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import IndexCorruptError
from ..types import Chunk, Span
from . import dense as _dense
from .keyword import KeywordIndex
from .manifest import (
    DenseInfo,
    DocumentRecord,
    Manifest,
    document_from_json,
    document_prefix,
    document_to_json,
)
from .scratch import link, save_array
from .store import TEXTS, check, read_manifest, write_generation

DOCUMENTS = "documents.jsonl"
DOCUMENT_LINES = "documents.npy"
CHUNKS = "chunks.npy"
CHUNK_TEXTS = "chunks.txt"
VECTORS = "vectors.npy"
SENTENCES = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
DENSE = "dense.faiss"
KEYWORD = "keyword"
# Rows of chunks.npy.
DOC, START, END, SENTENCE_START, SENTENCE_END, TEXT_START, TEXT_END = range(7)
_REBUILD = "rebuild with `qa build --full`"

Progress = Callable[[int, int], None]
_READ_LIMIT = 1 << 30
# What os.copy_file_range raises where it cannot copy between these files (another file
# system on an older kernel, a file system or kernel without it).
_CANNOT_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}
_copy_file_range = getattr(os, "copy_file_range", None)  # Linux only


def _array(path: Path) -> np.ndarray:
    """A saved array, memory-mapped read-only (a plain ndarray view: indexing a np.memmap
    makes a memmap object each time, which costs more than the read)."""
    mapped: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    return mapped.view(np.ndarray)


class RowFile:
    """The rows of a saved 2-D array (.npy), read with ``os.pread`` as they are asked for.

    For the vectors, which are the bulk of an index: memory-mapping them would count every
    page a query touched (and the pages the kernel maps around it) in the query process's
    memory, until the whole file sits there; read like this, they stay in the kernel's page
    cache. A query reads its candidates' rows, most of them in runs (a chunk's sentences are
    consecutive rows)."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as f:
            fmt = np.lib.format
            major, _ = fmt.read_magic(f)
            read_header = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            self._offset = f.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{path.name} is not a 2-D C-ordered array")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)
        self._closer = weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self._row_bytes

    def _run(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, self.shape[1]), self.dtype)
        self.read_into(start, out)
        return out

    def read_into(self, start: int, out: np.ndarray) -> None:
        """Read rows ``start`` to ``start + len(out)`` into ``out`` (C-ordered, of this dtype
        and width: a memory-mapped array's slice is filled straight from the file)."""
        if out.shape[1:] != self.shape[1:] or out.dtype != self.dtype:
            raise ValueError(f"rows of {self.shape[1]} {self.dtype} expected")
        at = self._byte_of(start, len(out))
        if out.size == 0:
            return
        view = memoryview(out.data).cast("B")  # the rows' bytes, written in place
        while view:  # one read returns at most about 2 GB
            got = os.preadv(self._fd, [view[:_READ_LIMIT]], at)
            if got == 0:
                raise self._ends_early(start, len(out))
            view, at = view[got:], at + got

    def _byte_of(self, start: int, count: int) -> int:
        """Where row ``start`` begins in the file, once rows ``start`` to ``start + count``
        are known to be rows of it."""
        if start < 0 or start + count > self.shape[0]:
            raise IndexError("row out of range")
        return self._offset + start * self._row_bytes

    @staticmethod
    def _ends_early(start: int, count: int) -> IndexCorruptError:
        return IndexCorruptError(f"an index file ends early (rows {start}:{start + count})")

    def copy_into(self, start: int, count: int, fd: int, at: int) -> bool:
        """Copy rows ``start`` to ``start + count`` into the file open as ``fd``, from its
        byte ``at``, within the kernel (``os.copy_file_range``): their bytes never pass
        through this process (a 1% rebuild of 20,000 files copies 630 MB of vectors: 0.1 s so,
        0.5-1.0 s read into a memory-mapped array). False where the system cannot copy so;
        the target's bytes are then undefined."""
        left, source = count * self._row_bytes, self._byte_of(start, count)
        if _copy_file_range is None:
            return False
        try:
            while left:
                done = _copy_file_range(self._fd, fd, left, source, at)
                if done == 0:
                    raise self._ends_early(start, count)
                left, source, at = left - done, source + done, at + done
        except OSError as exc:
            if exc.errno not in _CANNOT_COPY:
                raise
            return False
        return True

    def __getitem__(self, rows: slice | Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows by a slice (step 1) or by a sequence of row numbers, in that order."""
        if isinstance(rows, slice):
            start, stop, step = rows.indices(self.shape[0])
            if step != 1:
                raise ValueError("rows can be sliced with step 1 only")
            return self._run(start, max(start, stop))
        wanted = np.asarray(rows, dtype=np.int64).reshape(-1)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= self.shape[0]):
            raise IndexError("row out of range")
        order = np.argsort(wanted, kind="stable")
        ranked = wanted[order]
        out = np.empty((wanted.size, self.shape[1]), self.dtype)
        # Runs of consecutive (or repeated) rows are read in one call each.
        breaks = np.flatnonzero(np.diff(ranked) > 1) + 1
        for run in np.split(np.arange(ranked.size), breaks):
            if run.size:
                lo, hi = int(ranked[run[0]]), int(ranked[run[-1]]) + 1
                out[order[run]] = self._run(lo, hi)[ranked[run] - lo]
        return out


class Blob:
    """A file of texts read a piece at a time with ``os.pread`` (for the reason RowFile gives),
    or bytes already in memory."""

    def __init__(self, source: Path | bytes) -> None:
        self._bytes = source if isinstance(source, bytes) else None
        self._path = source if isinstance(source, Path) else None
        self._fd = -1
        if self._path is not None:
            self._fd = os.open(self._path, os.O_RDONLY)
            weakref.finalize(self, os.close, self._fd)

    def read(self, start: int, stop: int) -> bytes:
        if self._bytes is not None:
            return self._bytes[start:stop]
        data = os.pread(self._fd, stop - start, start)
        if len(data) != stop - start:
            raise IndexCorruptError(f"{self._path} ends early (bytes {start}:{stop})")
        return data

    def find(self, needle: bytes) -> int:
        """Where needle first occurs (-1: nowhere); maps the file for the search only."""
        if self._bytes is not None:
            return self._bytes.find(needle)
        assert self._path is not None
        if self._path.stat().st_size == 0:
            return -1
        with mmap.mmap(self._fd, 0, access=mmap.ACCESS_READ) as whole:
            return whole.find(needle)


class DocumentTable:
    """The documents of a generation, read one line at a time as they are asked for."""

    def __init__(self, lines: Blob, offsets: np.ndarray) -> None:
        self._lines = lines
        self._offsets = offsets  # len(self) + 1 byte offsets
        self._parsed: dict[int, DocumentRecord] = {}  # the last few asked for

    @classmethod
    def open(cls, gen_dir: Path) -> DocumentTable:
        offsets = _array(gen_dir / DOCUMENT_LINES)
        return cls(Blob(gen_dir / DOCUMENTS), offsets)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def record(self, i: int) -> DocumentRecord:
        record = self._parsed.get(i)
        if record is None:
            if len(self._parsed) >= 4096:
                self._parsed.clear()
            a, b = int(self._offsets[i]), int(self._offsets[i + 1])
            record = self._parsed[i] = document_from_json(self._lines.read(a, b))
        return record

    def __iter__(self) -> Iterator[DocumentRecord]:
        return (self.record(i) for i in range(len(self)))

    def find(self, source: str) -> DocumentRecord | None:
        """The document of that source, found by its line's start without parsing the rest."""
        prefix = document_prefix(source)
        if len(self) == 0:
            return None
        if self._lines.read(0, min(len(prefix), int(self._offsets[1]))) == prefix:
            at = 0
        else:
            at = self._lines.find(b"\n" + prefix) + 1  # JSON lines hold no raw newline
            if at == 0:
                return None
        return self.record(int(np.searchsorted(self._offsets, at, side="right")) - 1)


class ChunkTable:
    """The chunks of a generation as columns (chunks.npy) and texts (chunks.txt); a Chunk is
    made only when one is asked for."""

    def __init__(self, columns: np.ndarray, texts: Blob, documents: DocumentTable) -> None:
        self.columns = columns  # (7, n) int64, rows DOC ... TEXT_END
        self.texts = texts
        self.documents = documents

    @classmethod
    def open(cls, gen_dir: Path, documents: DocumentTable) -> ChunkTable:
        columns = _array(gen_dir / CHUNKS)
        return cls(columns, Blob(gen_dir / CHUNK_TEXTS), documents)

    def __len__(self) -> int:
        return int(self.columns.shape[1])

    def __iter__(self) -> Iterator[Chunk]:
        return (self[row] for row in range(len(self)))

    @property
    def sentence_first(self) -> np.ndarray:
        """Chunk i holds sentence rows sentence_first[i]:sentence_stop[i]."""
        return np.asarray(self.columns[SENTENCE_START])

    @property
    def sentence_stop(self) -> np.ndarray:
        return np.asarray(self.columns[SENTENCE_END])

    def text(self, row: int) -> str:
        a, b = int(self.columns[TEXT_START, row]), int(self.columns[TEXT_END, row])
        return self.texts.read(a, b).decode("utf-8")

    def document(self, row: int) -> DocumentRecord:
        return self.documents.record(int(self.columns[DOC, row]))

    def __getitem__(self, row: int) -> Chunk:
        if not 0 <= row < len(self):
            raise IndexError(f"chunk row {row} out of range")
        doc = self.document(row)
        start, end = int(self.columns[START, row]), int(self.columns[END, row])
        return Chunk(
            doc.source,
            start,
            end,
            self.text(row),
            doc.title,
            doc.date,
            doc.sha256,
            int(self.columns[SENTENCE_START, row]),
            int(self.columns[SENTENCE_END, row]),
            doc.page_at(start),
            doc.section_at(start),
        )


@dataclass(frozen=True)
class StoredIndex:
    """One loaded generation: chunks, their vectors and indexes, and the sentence table. The
    arrays are memory-mapped, read-only, and the vectors read as they are asked for."""

    path: Path  # the generation folder
    generation: str
    manifest: Manifest
    chunks: ChunkTable
    vectors: RowFile  # (n, dim) float32
    dense: _dense.DenseIndex
    keyword: KeywordIndex
    sentence_spans: np.ndarray  # (m, 2) int64 file offsets
    sentence_vectors: RowFile  # (m, dim) float32

    @property
    def model(self) -> str:
        return self.manifest.model.id

    @property
    def documents(self) -> DocumentTable:
        return self.chunks.documents

    @property
    def sentence_first(self) -> np.ndarray:
        return self.chunks.sentence_first

    @property
    def sentence_stop(self) -> np.ndarray:
        return self.chunks.sentence_stop

    def sentence_text(self, sentence_row: int) -> str:
        # The last chunk starting at or before the sentence holds it: a chunk's sentence rows
        # follow the previous chunk's, overlapping by at most the shared ones.
        owner = int(np.searchsorted(self.sentence_first, sentence_row, side="right")) - 1
        a, b = self.sentence_spans[sentence_row]
        return _text_of(self.chunks.text(owner), int(self.chunks.columns[START, owner]), a, b)

    def sentence_texts(self, row: int) -> tuple[list[Span], list[str]]:
        """The sentences of chunk ``row``: file-offset spans and texts."""
        text, start = self.chunks.text(row), int(self.chunks.columns[START, row])
        rows = slice(int(self.sentence_first[row]), int(self.sentence_stop[row]))
        spans = [Span(int(a), int(b)) for a, b in self.sentence_spans[rows]]
        return spans, [_text_of(text, start, sp.start, sp.end) for sp in spans]

    def sentences(self, row: int) -> tuple[list[Span], list[str], np.ndarray]:
        """The sentences of chunk ``row``: file-offset spans, texts, and their vectors."""
        spans, texts = self.sentence_texts(row)
        first = int(self.sentence_first[row])
        return spans, texts, self.sentence_vectors[first : first + len(spans)]


def _text_of(chunk_text: str, chunk_start: int, start: int, end: int) -> str:
    """The text at file offsets start:end, taken from a chunk that holds them."""
    return chunk_text[start - chunk_start : end - chunk_start]


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class ChunkRows:
    """Chunks to be written: the chunk table's (7, n) columns, and a file holding their texts
    where the columns say (linked, or else copied, into the generation as chunks.txt)."""

    columns: np.ndarray
    texts: Path

    @classmethod
    def write(
        cls, chunks: Sequence[Chunk], documents: Sequence[DocumentRecord], texts: Path
    ) -> ChunkRows:
        """The rows of chunks (whose sources are among documents), their texts written to
        the file ``texts``."""
        doc_of = {record.source: i for i, record in enumerate(documents)}
        columns = np.zeros((7, len(chunks)), dtype=np.int64)
        with texts.open("wb") as f:
            for row, c in enumerate(chunks):
                at = f.tell()
                f.write(c.text.encode("utf-8"))
                columns[:, row] = (
                    doc_of[c.source],
                    c.start,
                    c.end,
                    c.sentence_start,
                    c.sentence_end,
                    at,
                    f.tell(),
                )
        return cls(columns, texts)

    def __len__(self) -> int:
        return int(self.columns.shape[1])


@dataclass(frozen=True)
class IndexData:
    """What a build hands over to be written: every row, in order."""

    documents: Sequence[DocumentRecord]  # in row order; every chunk's document among them
    chunks: ChunkRows
    vectors: np.ndarray
    keyword: KeywordIndex
    sentence_spans: np.ndarray
    sentence_vectors: np.ndarray
    texts: Mapping[str, Path]  # file name under texts/ -> a file of a document's extracted text
    # The previous index's vector index, and each row's row in it or -1 (an update): an HNSW
    # graph is kept and added to (qa.indexing.dense.updated) rather than built again.
    reuse: tuple[_dense.DenseIndex, np.ndarray] | None = None


def _write_documents(folder: Path, documents: Sequence[DocumentRecord]) -> None:
    offsets = np.zeros(len(documents) + 1, dtype=np.int64)
    with (folder / DOCUMENTS).open("wb") as f:
        for i, record in enumerate(documents):
            f.write(document_to_json(record).encode("utf-8") + b"\n")
            offsets[i + 1] = f.tell()
    np.save(folder / DOCUMENT_LINES, offsets, allow_pickle=False)


def _save_vectors(path: Path, vectors: np.ndarray) -> None:
    """vectors as float32 .npy at path: the file of a build's scratch array is linked (its
    pages written out first), not copied."""
    save_array(path, vectors if vectors.dtype == np.float32 else vectors.astype(np.float32))


def _write_chunks(folder: Path, chunks: ChunkRows) -> None:
    link(chunks.texts, folder / CHUNK_TEXTS)
    np.save(folder / CHUNKS, np.asarray(chunks.columns, np.int64), allow_pickle=False)


def _write_files(
    folder: Path, data: IndexData, dense: _dense.DenseIndex, step: Callable[[], None]
) -> None:
    _write_documents(folder, data.documents)
    _write_chunks(folder, data.chunks)
    step()
    _save_vectors(folder / VECTORS, data.vectors)
    step()
    np.save(folder / SENTENCES, np.asarray(data.sentence_spans, np.int64), allow_pickle=False)
    step()
    _save_vectors(folder / SENTENCE_VECTORS, data.sentence_vectors)
    step()
    dense.save(folder / DENSE)
    step()
    data.keyword.save(folder / KEYWORD)
    step()
    if data.texts:
        (folder / TEXTS).mkdir()
    for name, path in data.texts.items():
        link(path, folder / TEXTS / name)
        step()


def save_index(
    index_dir: Path, manifest: Manifest, data: IndexData, progress: Progress | None = None
) -> str:
    """Write a new generation holding data and make it live. Returns the generation name.

    The vector index is exact or HNSW by the number of chunks (qa.indexing.dense.kind_for); an
    update
    keeps the previous HNSW graph when it can (``data.reuse``).
    ``progress(done, total)`` follows the steps (the vector index, one a file written, then
    the checksums).
    """
    total, done = 8 + len(data.texts), 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    count = len(data.chunks)
    dense = _dense.updated(*data.reuse, data.vectors) if data.reuse is not None else None
    if dense is None:
        dense = _dense.create(_dense.kind_for(count), int(data.vectors.shape[1]))
        dense.add(data.vectors)
    step()
    described = replace(
        manifest,
        files=len(data.documents),
        dense=DenseInfo(dense.kind, count, params=dense.params()),
    )
    generation = write_generation(
        index_dir, described, lambda folder: _write_files(folder, data, dense, step)
    )
    step()
    return generation


# ---------------------------------------------------------------------------------------------
# Loading


def _read(gen_dir: Path, manifest: Manifest) -> StoredIndex:
    kind = manifest.dense.kind if manifest.dense is not None else _dense.EXACT
    return StoredIndex(
        gen_dir,
        gen_dir.name,
        manifest,
        ChunkTable.open(gen_dir, DocumentTable.open(gen_dir)),
        RowFile(gen_dir / VECTORS),
        _dense.load(gen_dir / DENSE, kind),
        KeywordIndex.load(gen_dir / KEYWORD),
        _array(gen_dir / SENTENCES),
        RowFile(gen_dir / SENTENCE_VECTORS),
    )


def _consistent(index: StoredIndex) -> bool:
    dim = index.manifest.model.dimension
    n, m = len(index.chunks), len(index.sentence_spans)
    first, stop = index.sentence_first, index.sentence_stop
    docs = index.chunks.columns[DOC]
    return bool(
        index.chunks.columns.shape == (7, n)
        and len(index.documents) == index.manifest.files
        and index.vectors.shape == (n, dim)
        and index.dense.ntotal == n
        and index.dense.dimension == dim
        and len(index.keyword) == n
        and index.sentence_spans.shape == (m, 2)
        and index.sentence_vectors.shape == (m, dim)
        and np.all((first >= 0) & (first < stop) & (stop <= m))
        and np.all((docs >= 0) & (docs < len(index.documents)))
    )


def load_index(index_dir: Path) -> StoredIndex:
    """Open the live generation: files checked by size and time, then memory-mapped."""
    generation, manifest = read_manifest(index_dir)
    gen_dir = index_dir / generation
    check(gen_dir, manifest)
    try:
        index = _read(gen_dir, manifest)
        consistent = _consistent(index)
    except Exception as exc:  # checked files that still fail to parse
        raise IndexCorruptError(f"index {index_dir} is damaged: {exc}; {_REBUILD}") from exc
    if not consistent:
        raise IndexCorruptError(
            f"index {index_dir} is inconsistent (chunks {len(index.chunks)}, vectors "
            f"{index.vectors.shape}, dense {index.dense.ntotal}x{index.dense.dimension}, "
            f"keyword {len(index.keyword)}); {_REBUILD}"
        )
    return index


def open_documents(index_dir: Path) -> tuple[str, Manifest, DocumentTable]:
    """The live generation's name, manifest and documents, without loading the rest."""
    generation, manifest = read_manifest(index_dir)
    gen_dir = index_dir / generation
    check(gen_dir, manifest)
    try:
        return generation, manifest, DocumentTable.open(gen_dir)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index {index_dir} is damaged: {exc}; {_REBUILD}") from exc
