"""Embeddings of a build in progress, saved in batches, so that a killed build resumes where
it stopped instead of embedding everything again.

Layout of ``index/checkpoint/`` (present only while a build runs, or after one died)::

    meta.json               {"model": ..., "dimension": ...}: whose vectors these are
    batch-<n>.bin           one batch: n sha256 digests of the embedded texts, then their n
                            float32 vectors, then the sha256 of all of that

A vector is found again by the digest of the exact text that was embedded, so a batch is
valid whatever changed in the corpus meanwhile; a batch whose texts are no longer wanted is
deleted. Each batch is written to a temporary name and renamed, and its trailing digest is
checked on reading: a torn or damaged batch is dropped, never trusted. A finished build
removes the folder. The build lock (qa.indexing.store) keeps two builds from sharing it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..encode.embedding import encode_stream
from .spool import picked

if TYPE_CHECKING:
    from ..encode.embedding import Embedder

FOLDER = "checkpoint"
META = "meta.json"
# Texts embedded between two saves, at 64 a batch. A kill costs at most about two saves' worth:
# the texts gathered for the next save, and those of the save being written.
BATCH_TEXTS = 2048
_DIGEST = 32
_BLOCK = 1024  # texts read at a time


def text_key(text: str) -> bytes:
    """The digest a vector is filed under: of the exact text embedded."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def encode_batch(keys: Sequence[bytes], vectors: np.ndarray) -> bytes:
    """One batch file's bytes (pure)."""
    body = b"".join(keys) + np.ascontiguousarray(vectors, dtype="<f4").tobytes()
    return body + hashlib.sha256(body).digest()


def decode_batch(data: bytes, dimension: int) -> tuple[list[bytes], np.ndarray] | None:
    """The keys and vectors of a batch file's bytes; None when they are torn or damaged."""
    if len(data) < _DIGEST:
        return None
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if len(body) % (_DIGEST + 4 * dimension) or hashlib.sha256(body).digest() != digest:
        return None
    n = len(body) // (_DIGEST + 4 * dimension)
    keys = [body[i * _DIGEST : (i + 1) * _DIGEST] for i in range(n)]
    vectors = np.frombuffer(body, dtype="<f4", offset=n * _DIGEST).reshape(n, dimension)
    return keys, vectors.astype(np.float32)


class Checkpoint:
    """The checkpoint folder of one index, for one model. Saving is best effort: when the
    folder cannot be written (disk full, read-only), the build goes on without it."""

    def __init__(self, index_dir: Path, model: str, dimension: int) -> None:
        self.folder = index_dir / FOLDER
        self.dimension = dimension
        self._meta = {"model": model, "dimension": dimension}
        self._writable = True
        self._next = 0
        if self._read_meta() != self._meta:  # another model's vectors, or none: start afresh
            discard(index_dir)
        for torn in self.folder.glob(".tmp-batch-*"):  # a kill mid-write left it
            torn.unlink(missing_ok=True)

    def _read_meta(self) -> object:
        try:
            return json.loads((self.folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _batches(self) -> list[Path]:
        return sorted(self.folder.glob("batch-*.bin"))

    def _found(
        self, texts: Sequence[str]
    ) -> Iterator[tuple[Path, list[tuple[list[int], np.ndarray]]]]:
        """Each saved batch, with what it holds for ``texts``: the rows of the texts each of its
        vectors is for, and the vector (a text's rows come with the first batch holding it;
        a torn or unreadable batch holds nothing)."""
        batches = self._batches()
        if not batches:  # nothing saved: no text needs its digest yet (save() takes it)
            return
        wanted: dict[bytes, list[int]] = {}
        for i, text in enumerate(texts):
            wanted.setdefault(text_key(text), []).append(i)
        for path in batches:
            self._next = max(self._next, _number(path) + 1)
            try:
                batch = decode_batch(path.read_bytes(), self.dimension)
            except OSError:
                batch = None
            held: list[tuple[list[int], np.ndarray]] = []
            if batch is not None:
                keys, vectors = batch
                for row, key in enumerate(keys):
                    rows = wanted.pop(key, None)
                    if rows:
                        held.append((rows, vectors[row]))
            yield path, held

    def take(self, texts: Sequence[str], out: Rows | None = None) -> tuple[np.ndarray, Rows]:
        """For each text, whether a saved vector was found, and the vectors, in ``out`` when
        given (rows of texts not found are left as they were). Batches holding none of these
        texts are deleted."""
        found = np.zeros(len(texts), dtype=bool)
        if out is None:
            out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for path, held in self._found(texts):
            for rows, vector in held:
                out[rows] = vector
                found[rows] = True
            if not held:
                path.unlink(missing_ok=True)
        return found, out

    def holds(self, texts: Sequence[str]) -> np.ndarray:
        """For each text, whether a saved vector is found (none is read into memory but a
        batch's at a time; nothing is deleted)."""
        found = np.zeros(len(texts), dtype=bool)
        for _, held in self._found(texts):
            for rows, _ in held:
                found[rows] = True
        return found

    def save(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """File a batch of embedded texts (atomically: a kill leaves it whole or absent)."""
        self.save_keys([text_key(t) for t in texts], vectors)

    def save_keys(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """``save``, given the texts' digests (``text_key``) rather than the texts."""
        if not self._writable or not len(keys):
            return
        tmp = self.folder / f".tmp-batch-{self._next:06d}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not (self.folder / META).exists():
                (self.folder / META).write_text(json.dumps(self._meta), encoding="utf-8")
            tmp.write_bytes(encode_batch(keys, vectors))
            tmp.rename(self.folder / f"batch-{self._next:06d}.bin")
            self._next += 1
        except OSError:
            self._writable = False
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def _number(path: Path) -> int:
    try:
        return int(path.stem.removeprefix("batch-"))
    except ValueError:
        return 0


def discard(index_dir: Path) -> None:
    """Remove the checkpoint of an index folder (a finished build has no use for it)."""
    shutil.rmtree(index_dir / FOLDER, ignore_errors=True)


class Rows(Protocol):
    """Where vectors go, a row a text: a numpy array, or rows spread over several arrays
    (qa.indexing.build's); rows are given as integer arrays or lists."""

    def __getitem__(self, rows: np.ndarray, /) -> np.ndarray: ...

    def __setitem__(self, rows: np.ndarray | list[int], values: np.ndarray, /) -> None: ...


class _Saver:
    """Files embedded texts in batches of ``size`` from a thread of its own, so that the model
    is not kept waiting on the disk. One batch is written while the next gathers; should the
    disk fall behind, the model waits for it: no more are held, and a kill loses at most
    those two. ``close`` files what is left and waits for the thread."""

    def __init__(self, checkpoint: Checkpoint, size: int) -> None:
        self._checkpoint = checkpoint
        self._size = size
        self._texts: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="qa-checkpoint")
        self._filing: deque[Future[None]] = deque()

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._texts.extend(texts)
        self._vectors.append(vectors)
        if len(self._texts) >= self._size:
            self._file()

    def _file(self) -> None:
        if self._texts:
            vectors = np.concatenate(self._vectors)
            self._filing.append(self._thread.submit(self._checkpoint.save, self._texts, vectors))
            while len(self._filing) > 1:
                self._filing.popleft().result()
        self._texts, self._vectors = [], []

    def close(self) -> None:
        self._file()
        self._thread.shutdown(wait=True)


def _first_copies(texts: Sequence[str], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``rows``, the first of them whose text is the same, and its text's length.
    Texts are told apart by a hash each, 8 bytes a text, and by the texts themselves, read
    again, where hashes meet: no text is held (they may be read from disk, qa.indexing.spool)."""
    hashes = np.empty(len(rows), dtype=np.int64)
    lengths = np.empty(len(rows), dtype=np.int64)
    these = picked(texts, rows)
    for start in range(0, len(rows), _BLOCK):
        for n, text in enumerate(these[start : start + _BLOCK], start):
            hashes[n], lengths[n] = hash(text), len(text)
    first = np.arange(len(rows), dtype=np.int64)  # positions in rows
    order = np.argsort(hashes, kind="stable")  # equal hashes side by side, first rows first
    starts = np.flatnonzero(np.diff(hashes[order], prepend=hashes[order[:1]] - 1) != 0)
    sizes = np.diff(starts, append=len(order))
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        seen: dict[str, int] = {}  # the same text, or (rarely) texts whose hashes meet
        for n in order[start : start + size].tolist():
            first[n] = seen.setdefault(these[n], n)
    return rows[first], lengths


def _pending(
    texts: Sequence[str], found: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Of the texts not ``found``: their rows (missing), for each the first of them whose
    text is the same, whether it is that first one (distinct), and the rows to embed: each
    distinct text once, longest first."""
    missing = np.flatnonzero(~found)
    first, lengths = _first_copies(texts, missing)
    distinct = first == missing  # a text's first row
    todo = missing[distinct][np.argsort(-lengths[distinct], kind="stable")]  # longest first
    return missing, first, distinct, todo


def to_embed(texts: Sequence[str], checkpoint: Checkpoint) -> tuple[int, np.ndarray]:
    """How many of texts ``checkpoint`` holds, and the rows of those it lacks, each distinct
    text once, longest first: what ``encode_resumable`` would embed, in its order."""
    found = checkpoint.holds(texts)
    return int(found.sum()), _pending(texts, found)[3]


@dataclass(frozen=True)
class Resumed:
    vectors: Rows  # a row a text, in the texts' order
    taken: int  # texts whose vectors a killed build had saved
    truncated: np.ndarray  # a bool a text: the model read it cut short


def encode_resumable(
    embedder: Embedder,
    texts: Sequence[str],
    index_dir: Path,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
    out: Rows | None = None,
) -> Resumed:
    """Vectors of texts: those a killed build saved are taken back, the rest embedded, longest
    first, in one feed, and saved every BATCH_TEXTS texts (more with a GPU's larger batches)
    while the model goes on. Each distinct text is embedded once. The vectors are written in
    ``out`` when given (a row a text)."""
    checkpoint = Checkpoint(index_dir, embedder.model_id, embedder.dimension)
    found, out = checkpoint.take(texts, out)
    truncated = np.zeros(len(texts), dtype=bool)
    if found.any():  # the model's token counts say which of the saved texts it read cut
        taken = np.flatnonzero(found)
        counts = embedder.token_counts([texts[i] for i in taken.tolist()])
        truncated[taken] = np.asarray(counts, dtype=np.int64) > embedder.max_tokens
    if progress:
        progress(int(found.sum()))
    missing, first, distinct, todo = _pending(texts, found)
    feed = picked(texts, todo)
    per_save = BATCH_TEXTS * max(1, batch_size // 64)
    saver = _Saver(checkpoint, per_save)
    try:
        done = 0
        for vectors, cut in encode_stream(embedder, feed, batch_size, per_save, progress):
            rows = todo[done : done + len(vectors)]
            out[rows] = vectors
            truncated[rows] = cut
            saver.add(feed[done : done + len(vectors)], vectors)
            done += len(vectors)
    finally:  # what was embedded is saved, also when the model failed midway
        saver.close()
    copies = np.flatnonzero(~distinct)  # a text met again takes its first row's vector
    truncated[missing[copies]] = truncated[first[copies]]
    for start in range(0, len(copies), _BLOCK):  # a block at a time: no copy of them all
        block = copies[start : start + _BLOCK]
        out[missing[block]] = out[first[block]]
    if progress and len(copies):
        progress(len(copies))
    return Resumed(out, int(found.sum()), truncated)
