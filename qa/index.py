"""The files of one index generation: what a build writes into it and what a query loads.

Files of a generation folder (qa.store writes the folder and its manifest)::

    manifest.json           qa.manifest: schema version, model, chunker settings, documents
                            (content hash, size, mtime, title, date, rows), checksums
    chunks.jsonl            one JSON record per chunk (row order = vector order)
    vectors.npy             float32 L2-normalised chunk embeddings (kept for incremental reuse)
    sentences.npy           int64 (start, end) file offsets of every sentence of every chunk
    sentence_vectors.npy    float32 L2-normalised sentence embeddings (answer extraction)
    dense.faiss             the vector index over the chunk embeddings (qa.dense)
    keyword/                bm25s index files (JSON + .npy)
    texts/<sha256>.txt      the text extracted from each HTML, PDF and DOCX file (UTF-8), keyed
                            by the file's content hash: the text that offsets point into

Every file is verified against its checksum before it is loaded. Nothing is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from . import dense as _dense
from .errors import IndexCorruptError
from .keyword import KeywordIndex
from .manifest import DenseInfo, Manifest
from .store import TEXTS, read_manifest, verify, write_generation
from .types import Chunk, Span

CHUNKS = "chunks.jsonl"
VECTORS = "vectors.npy"
SENTENCES = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
DENSE = "dense.faiss"
KEYWORD = "keyword"
_REBUILD = "rebuild with `qa build --full`"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StoredIndex:
    """One loaded generation: chunks, their vectors and indexes, and the sentence table."""

    path: Path  # the generation folder
    generation: str
    manifest: Manifest
    chunks: Sequence[Chunk]
    vectors: np.ndarray  # (n, dim) float32
    dense: _dense.DenseIndex
    keyword: KeywordIndex
    sentence_spans: np.ndarray  # (m, 2) int64 file offsets
    sentence_vectors: np.ndarray  # (m, dim) float32
    # Sentence rows of each chunk: chunk i holds sentences sentence_first[i]:sentence_stop[i].
    sentence_first: np.ndarray = field(init=False, repr=False)
    sentence_stop: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        first = np.array([c.sentence_start for c in self.chunks], dtype=np.int64)
        stop = np.array([c.sentence_end for c in self.chunks], dtype=np.int64)
        object.__setattr__(self, "sentence_first", first)
        object.__setattr__(self, "sentence_stop", stop)

    @property
    def model(self) -> str:
        return self.manifest.model.id

    def sentence_text(self, sentence_row: int) -> str:
        # The last chunk starting at or before the sentence holds it: a chunk's sentence rows
        # follow the previous chunk's, overlapping by at most the shared ones.
        owner = int(np.searchsorted(self.sentence_first, sentence_row, side="right")) - 1
        a, b = self.sentence_spans[sentence_row]
        return _text_of(self.chunks[owner], int(a), int(b))

    def sentences(self, row: int) -> tuple[list[Span], list[str], np.ndarray]:
        """The sentences of chunk ``row``: file-offset spans, texts, and their vectors."""
        chunk = self.chunks[row]
        rows = slice(chunk.sentence_start, chunk.sentence_end)
        spans = [Span(int(a), int(b)) for a, b in self.sentence_spans[rows]]
        texts = [_text_of(chunk, sp.start, sp.end) for sp in spans]
        return spans, texts, self.sentence_vectors[rows]


def _text_of(chunk: Chunk, start: int, end: int) -> str:
    """The text at file offsets start:end, taken from a chunk that holds them."""
    return chunk.text[start - chunk.start : end - chunk.start]


@dataclass(frozen=True)
class IndexData:
    """What a build hands over to be written: every row, in order."""

    chunks: Sequence[Chunk]
    vectors: np.ndarray
    keyword: KeywordIndex
    sentence_spans: np.ndarray
    sentence_vectors: np.ndarray
    texts: Mapping[str, str]  # file name under texts/ -> a document's extracted text


def _write_files(
    folder: Path, data: IndexData, dense: _dense.DenseIndex, step: Callable[[], None]
) -> None:
    with (folder / CHUNKS).open("w", encoding="utf-8") as f:
        for chunk in data.chunks:
            f.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    step()
    np.save(folder / VECTORS, np.ascontiguousarray(data.vectors, np.float32), allow_pickle=False)
    step()
    np.save(folder / SENTENCES, np.asarray(data.sentence_spans, np.int64), allow_pickle=False)
    step()
    np.save(
        folder / SENTENCE_VECTORS,
        np.ascontiguousarray(data.sentence_vectors, np.float32),
        allow_pickle=False,
    )
    step()
    dense.save(folder / DENSE)
    step()
    data.keyword.save(folder / KEYWORD)
    step()
    if data.texts:
        (folder / TEXTS).mkdir()
    for name, text in data.texts.items():
        (folder / TEXTS / name).write_bytes(text.encode("utf-8"))
        step()


def save_index(
    index_dir: Path, manifest: Manifest, data: IndexData, progress: Progress | None = None
) -> str:
    """Write a new generation holding data and make it live. Returns the generation name.

    The vector index is exact or HNSW by the number of chunks (qa.dense.kind_for).
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
    dense = _dense.create(_dense.kind_for(count), int(data.vectors.shape[1]))
    dense.add(data.vectors)
    step()
    described = replace(manifest, dense=DenseInfo(dense.kind, count, params=dense.params()))
    generation = write_generation(
        index_dir, described, lambda folder: _write_files(folder, data, dense, step)
    )
    step()
    return generation


def _read(gen_dir: Path, manifest: Manifest) -> StoredIndex:
    chunks = []
    with (gen_dir / CHUNKS).open(encoding="utf-8") as f:
        for line in f:
            chunks.append(Chunk(**json.loads(line)))
    kind = manifest.dense.kind if manifest.dense is not None else _dense.EXACT
    return StoredIndex(
        gen_dir,
        gen_dir.name,
        manifest,
        chunks,
        np.load(gen_dir / VECTORS, allow_pickle=False),
        _dense.load(gen_dir / DENSE, kind),
        KeywordIndex.load(gen_dir / KEYWORD),
        np.load(gen_dir / SENTENCES, allow_pickle=False),
        np.load(gen_dir / SENTENCE_VECTORS, allow_pickle=False),
    )


def _check(index: StoredIndex, index_dir: Path) -> None:
    """Raise unless the loaded parts agree with each other and with the manifest."""
    dim = index.manifest.model.dimension
    n, m = len(index.chunks), len(index.sentence_spans)
    if (
        index.vectors.shape != (n, dim)
        or index.dense.ntotal != n
        or index.dense.dimension != dim
        or len(index.keyword) != n
        or index.sentence_spans.shape != (m, 2)
        or index.sentence_vectors.shape != (m, dim)
        or any(not 0 <= c.sentence_start < c.sentence_end <= m for c in index.chunks)
    ):
        raise IndexCorruptError(
            f"index {index_dir} is inconsistent (chunks {n}, vectors {index.vectors.shape}, "
            f"dense {index.dense.ntotal}x{index.dense.dimension}, keyword {len(index.keyword)}); "
            f"{_REBUILD}"
        )


def load_index(index_dir: Path) -> StoredIndex:
    """Load and verify the live generation."""
    generation, manifest = read_manifest(index_dir)
    gen_dir = index_dir / generation
    verify(gen_dir, manifest)
    try:
        index = _read(gen_dir, manifest)
    except Exception as exc:  # verified files that still fail to parse
        raise IndexCorruptError(f"index {index_dir} is damaged: {exc}; {_REBUILD}") from exc
    _check(index, index_dir)
    return index
