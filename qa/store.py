"""The saved index: a folder that describes itself, written atomically.

Layout of ``index/``::

    CURRENT                 name of the live generation (replaced atomically)
    .lock                   held by a running build
    gen-<time>-<id>/        one complete, immutable index
        manifest.json       schema version, model, dimension, chunker settings, documents
                            (content hash, size, mtime, title, date, chunk rows), and the
                            size and sha256 of every other file below
        chunks.jsonl        one JSON record per chunk (row order = vector order)
        vectors.npy         float32 L2-normalised chunk embeddings (kept for incremental reuse)
        sentences.npy       int64 (start, end) file offsets of every sentence of every chunk
        sentence_vectors.npy  float32 L2-normalised sentence embeddings (answer extraction)
        dense.faiss         FAISS inner-product index over the vectors
        keyword/            bm25s index files (JSON + .npy)
        texts/<sha256>.txt  the text extracted from each HTML, PDF and DOCX file (UTF-8), keyed
                            by the file's content hash: the text that offsets point into

A build writes a new generation next to the live one and then swaps ``CURRENT``; a build that
dies half-way leaves the previous generation live. Every file is verified against its checksum
before it is loaded. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .answertype import held
from .config import SCHEMA_VERSION
from .errors import (
    BuildInProgressError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
)
from .keyword import KeywordIndex
from .types import Chunk, Span

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors.npy"
SENTENCES = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
DENSE = "dense.faiss"
KEYWORD = "keyword"
TEXTS = "texts"
KEEP_GENERATIONS = 2
_WORD = re.compile(r"\w+")


@dataclass
class StoredIndex:
    path: Path  # the generation folder
    generation: str
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    dense: Any  # faiss.Index
    keyword: KeywordIndex
    sentence_spans: np.ndarray  # (n, 2) int64 file offsets
    sentence_vectors: np.ndarray  # (n, dim) float32
    # Sentence rows of each chunk: chunk i holds sentences sentence_first[i]:sentence_stop[i].
    sentence_first: np.ndarray = field(init=False, repr=False)
    sentence_stop: np.ndarray = field(init=False, repr=False)

    # Per sentence, filled in on first use: the answer kinds it holds (qa.answertype bit
    # mask) and its word count; -1 = not yet computed.
    _kinds: np.ndarray = field(init=False, repr=False)
    _words: np.ndarray = field(init=False, repr=False)
    _owner: np.ndarray = field(init=False, repr=False)  # a chunk holding each sentence

    def __post_init__(self) -> None:
        self.sentence_first = np.array([c.sentence_start for c in self.chunks], dtype=np.int64)
        self.sentence_stop = np.array([c.sentence_end for c in self.chunks], dtype=np.int64)
        self._kinds = np.full(len(self.sentence_spans), -1, dtype=np.int8)
        self._words = np.full(len(self.sentence_spans), -1, dtype=np.int32)
        self._owner = np.zeros(len(self.sentence_spans), dtype=np.int64)
        for i, c in enumerate(self.chunks):
            self._owner[c.sentence_start : c.sentence_end] = i

    def sentence_text(self, sentence_row: int) -> str:
        a, b = self.sentence_spans[sentence_row]
        return _text_of(self.chunks[int(self._owner[sentence_row])], int(a), int(b))

    def sentence_kinds(self, sentence_rows: np.ndarray) -> np.ndarray:
        """The answer-kind bit mask of each sentence row (computed once per sentence)."""
        for row in sentence_rows[self._kinds[sentence_rows] < 0]:
            self._kinds[row] = held(self.sentence_text(int(row)))
        return np.asarray(self._kinds[sentence_rows], dtype=np.int8)

    def sentence_words(self, sentence_rows: np.ndarray) -> np.ndarray:
        """The word count of each sentence row (computed once per sentence)."""
        for row in sentence_rows[self._words[sentence_rows] < 0]:
            self._words[row] = len(_WORD.findall(self.sentence_text(int(row))))
        return np.asarray(self._words[sentence_rows], dtype=np.int32)

    @property
    def model(self) -> str:
        return str(self.manifest["model"]["id"])

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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's build lock, or raise BuildInProgressError. Holding it, remove
    what killed builds left half-written."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        f = (index_dir / ".lock").open("a+")
    except OSError as exc:
        raise _write_error(index_dir, exc) from exc
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildInProgressError(
                f"another build is running on {index_dir}; wait for it to finish"
            ) from exc
        for leftover in index_dir.glob(".tmp-gen-*"):  # of killed builds: no build runs now
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _write_error(index_dir: Path, exc: OSError) -> IndexWriteError:
    return IndexWriteError(
        f"cannot write the index in {index_dir} ({exc.strerror or exc}); free disk space or "
        "make the folder writable, then build again (the previous index is still in use)"
    )


def current_generation(index_dir: Path) -> str | None:
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {index_dir / CURRENT}: {exc}") from exc
    return name or None


def _chunk_record(chunk: Chunk) -> str:
    return json.dumps(asdict(chunk), ensure_ascii=False)


def write_index(
    index_dir: Path,
    manifest: dict[str, Any],
    chunks: list[Chunk],
    vectors: np.ndarray,
    keyword: KeywordIndex,
    sentence_spans: np.ndarray,
    sentence_vectors: np.ndarray,
    texts: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Write a new generation and make it live. Returns the generation name.

    ``texts`` maps a file name under ``texts/`` to a document's extracted text.
    ``progress(done, total)`` follows the steps (one a file written, then the checksums).
    """
    import faiss

    texts = texts or {}
    total, done = 7 + len(texts), 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    # Microseconds: names sort in the order builds finished, even several in one second.
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    generation = f"gen-{stamp}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".tmp-{generation}"
    try:
        tmp.mkdir(parents=True)
        with (tmp / CHUNKS).open("w", encoding="utf-8") as f:
            for chunk in chunks:
                f.write(_chunk_record(chunk) + "\n")
        step()
        np.save(tmp / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
        step()
        np.save(tmp / SENTENCES, np.asarray(sentence_spans, dtype=np.int64), allow_pickle=False)
        step()
        np.save(
            tmp / SENTENCE_VECTORS,
            np.ascontiguousarray(sentence_vectors, dtype=np.float32),
            allow_pickle=False,
        )
        step()
        dense = faiss.IndexFlatIP(int(vectors.shape[1]))
        if len(vectors):
            dense.add(np.ascontiguousarray(vectors, dtype=np.float32))
        try:
            faiss.write_index(dense, str(tmp / DENSE))
        except RuntimeError as exc:  # how faiss reports a failed write (a full disk)
            why = re.search(r"\(([^()]*)\)\s*$", str(exc))
            raise OSError(errno.EIO, why[1] if why else f"{DENSE} could not be written") from exc
        step()
        keyword.save(tmp / KEYWORD)
        step()
        if texts:
            (tmp / TEXTS).mkdir()
        for name, text in texts.items():
            (tmp / TEXTS / name).write_bytes(text.encode("utf-8"))
            step()

        artifacts = {}
        for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
            _fsync_file(path)
            artifacts[path.relative_to(tmp).as_posix()] = {
                "bytes": path.stat().st_size,
                "sha256": _sha256(path),
            }
        step()
        manifest = {**manifest, "generation": generation, "artifacts": artifacts}
        manifest["index"] = {"type": "flat-ip", "count": len(chunks), "metric": "inner_product"}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")
        _fsync_file(tmp / MANIFEST)
        _fsync_dir(tmp)
        os.rename(tmp, index_dir / generation)
        pointer = index_dir / f".{CURRENT}.tmp"
        pointer.write_text(generation + "\n", encoding="utf-8")
        _fsync_file(pointer)
        os.replace(pointer, index_dir / CURRENT)
        _fsync_dir(index_dir)
    except OSError as exc:  # disk full, read-only folder: the previous index stays live
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(index_dir, exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(index_dir, generation)
    return generation


def _prune(index_dir: Path, live: str) -> None:
    """Remove leftovers of dead builds and all but the newest KEEP_GENERATIONS generations."""
    for tmp in index_dir.glob(".tmp-gen-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    gens = sorted((p for p in index_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.name)
    keep = {live} | {p.name for p in gens[-KEEP_GENERATIONS:]}
    for p in gens:
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def read_manifest(index_dir: Path) -> tuple[str, dict[str, Any]]:
    """The live generation's name and manifest. Raises if there is no valid index."""
    if not index_dir.is_dir():
        raise IndexNotFoundError(f"no index at {index_dir}: build one with `qa build`")
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexNotFoundError(f"no index at {index_dir}: build one with `qa build`")
    path = index_dir / generation / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(
            f"index {index_dir} is damaged: {generation}/{MANIFEST} is missing; "
            "rebuild with `qa build --full`"
        ) from exc
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"index {index_dir} is damaged: {MANIFEST} is unreadable ({exc}); "
            "rebuild with `qa build --full`"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("schema_version") != SCHEMA_VERSION:
        found = manifest.get("schema_version") if isinstance(manifest, dict) else None
        raise IndexMismatchError(
            f"index {index_dir} has schema version {found!r}, this program reads "
            f"{SCHEMA_VERSION}; rebuild with `qa build --full`"
        )
    return generation, manifest


def read_stored_text(gen_dir: Path, name: str, sha256: str) -> str:
    """A document's extracted text as the generation stores it, checked against its hash."""
    path = gen_dir / TEXTS / name
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"index {gen_dir.parent} is damaged: {TEXTS}/{name} is unreadable ({exc}); "
            "rebuild with `qa build --full`"
        ) from exc
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != sha256:
        raise IndexCorruptError(
            f"index {gen_dir.parent} is damaged: {TEXTS}/{name} fails its checksum; "
            "rebuild with `qa build --full`"
        )
    return text


def _verify(gen_dir: Path, manifest: dict[str, Any]) -> None:
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, dict) or not artifacts:
        raise IndexCorruptError(f"index {gen_dir.parent} is damaged: manifest lists no files")
    for rel, meta in artifacts.items():
        path = gen_dir / rel
        problem = None
        if not path.is_file():
            problem = "is missing"
        elif path.stat().st_size != meta.get("bytes"):
            problem = f"has {path.stat().st_size} bytes, expected {meta.get('bytes')}"
        elif _sha256(path) != meta.get("sha256"):
            problem = "fails its checksum"
        if problem:
            raise IndexCorruptError(
                f"index {gen_dir.parent} is damaged: {rel} {problem}; "
                "rebuild with `qa build --full`"
            )


def _one_thread_per_query() -> None:
    """Queries come one at a time and their matrix products are small: numpy's OpenBLAS thread
    pool only spins against torch's threads that encode the next question. Measured on 2 cores,
    SciFact, 300 passages deep: 107 ms per query with it, 20 ms without. Only BLAS is limited:
    OpenMP (FAISS) shares its setting with torch, and one OpenMP thread halves embedding speed."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def load_index(index_dir: Path) -> StoredIndex:
    """Load and verify the live generation."""
    import faiss

    generation, manifest = read_manifest(index_dir)
    gen_dir = index_dir / generation
    _verify(gen_dir, manifest)
    _one_thread_per_query()
    try:
        chunks = []
        with (gen_dir / CHUNKS).open(encoding="utf-8") as f:
            for line in f:
                chunks.append(Chunk(**json.loads(line)))
        vectors = np.load(gen_dir / VECTORS, allow_pickle=False)
        dense = faiss.read_index(str(gen_dir / DENSE))
        keyword = KeywordIndex.load(gen_dir / KEYWORD)
        sentence_spans = np.load(gen_dir / SENTENCES, allow_pickle=False)
        sentence_vectors = np.load(gen_dir / SENTENCE_VECTORS, allow_pickle=False)
    except Exception as exc:  # verified files that still fail to parse
        raise IndexCorruptError(
            f"index {index_dir} is damaged: {exc}; rebuild with `qa build --full`"
        ) from exc
    dim = int(manifest["model"]["dimension"])
    n = len(chunks)
    m = len(sentence_spans)
    if (
        vectors.shape != (n, dim)
        or dense.ntotal != n
        or dense.d != dim
        or len(keyword) != n
        or sentence_spans.shape != (m, 2)
        or sentence_vectors.shape != (m, dim)
        or any(not 0 <= c.sentence_start < c.sentence_end <= m for c in chunks)
    ):
        raise IndexCorruptError(
            f"index {index_dir} is inconsistent (chunks {n}, vectors {vectors.shape}, "
            f"faiss {dense.ntotal}x{dense.d}, keyword {len(keyword)}); "
            "rebuild with `qa build --full`"
        )
    return StoredIndex(
        gen_dir,
        generation,
        manifest,
        chunks,
        vectors,
        dense,
        keyword,
        sentence_spans,
        sentence_vectors,
    )
