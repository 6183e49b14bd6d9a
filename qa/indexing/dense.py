"""Vector search over the chunk embeddings (FAISS, inner product = cosine on unit vectors).

``DenseIndex`` is what retrieval and the index files rely on. Two kinds, chosen by size
(``kind_for``), as txtai's ANN factory does:

* ``exact`` (faiss.IndexFlatIP) compares the query with every vector: exact, and fast enough
  below ``HNSW_FROM`` vectors;
* ``hnsw`` (faiss.IndexHNSWFlat, inner product) walks a graph of neighbours: approximate, with
  a cost that grows with the logarithm of the count.

Both are saved as FAISS files and loaded memory-mapped (``IO_FLAG_MMAP_IFC``): loading reads
no vectors, and only the pages a search touches come into memory. FAISS is imported lazily.

The HNSW numbers below were measured on SciFact embeddings perturbed to 5k-1M vectors
(``benchmarks/scale.py`` reports them again: docs/benchmarks.md).
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any, Protocol

import numpy as np

EXACT = "exact"
HNSW = "hnsw"
# Chosen on SciFact embeddings perturbed to 5k-1M vectors (query: a SciFact claim, 100
# candidates, as retrieval asks), on this 2-core machine. Exact search costs about 60 µs per
# 1,000 vectors on one core (3 ms at 50k, 6 ms at 100k, 420 ms at 1M on two busy cores) and up
# to 3x that when its OpenMP threads meet the other work of the machine. From 50k vectors on,
# it is the slower part of a query, so HNSW takes over there: its graph takes 256 bytes a
# vector and builds in about 25 s at 50k and 200-300 s at 1M, small beside embedding the
# chunks. Recall@10 against exact search with the numbers below: 0.997 at 50k-100k; at 1M,
# 0.977 with 16 perturbed copies of each of 61k SciFact vectors, and 0.966 (ef_search 256:
# 0.872, 512: 0.923, 768: 0.952, 1536: 0.977 in 2.8 ms) with 85 copies of each of 11.8k,
# where the true 10th and 11th neighbours differ by 0.0008 in cosine (benchmarks/scale.py).
HNSW_FROM = 50_000
HNSW_M = 32  # neighbours per node (64 on the base layer): 256 bytes a vector
HNSW_EF_CONSTRUCTION = 40  # faiss's default; 80 doubled the build for +0.001 recall at 100k
HNSW_EF_SEARCH = 1024  # candidates kept while searching (at least k are): 1.9 ms at 1M


class DenseIndex(Protocol):
    """A vector index: vectors are added in row order and found by inner product."""

    kind: str  # as the manifest records it

    @property
    def ntotal(self) -> int: ...

    @property
    def dimension(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each (len(vectors), k), best first; rows of -1 pad a short result."""
        ...

    def save(self, path: Path) -> None: ...

    def params(self) -> dict[str, int]:
        """Its settings, as the manifest records them (an HNSW index's ef_search is a query
        setting: the one in force is HNSW_EF_SEARCH, whatever the manifest says)."""
        ...


def _rows(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1))


def _faiss() -> Any:
    """The faiss module, untyped: its type stubs lack the HNSW search parameters and the
    ``hnsw`` attribute of an index read from a file, which ``updated`` and a kept graph use
    (the other functions import it where they need it)."""
    import faiss

    return faiss


def _read(path: Path) -> Any:
    import faiss

    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)


class _Faiss:
    """What both kinds share: a FAISS index, added to, searched and saved."""

    kind = ""

    def __init__(self, index: Any) -> None:
        self._index = index

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def add(self, vectors: np.ndarray) -> None:
        if len(vectors):
            self._index.add(_rows(vectors))

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, rows = self._index.search(_rows(vectors), k)
        return scores, rows

    def save(self, path: Path) -> None:
        """Write the index; a failed write (a full disk) is an OSError, as for other files."""
        import faiss

        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as exc:  # how FAISS reports it: "... (No space left on device)"
            why = re.search(r"\(([^()]*)\)\s*$", str(exc))
            raise OSError(
                errno.EIO, why[1] if why else f"{path.name} could not be written"
            ) from exc

    def params(self) -> dict[str, int]:
        return {}


class ExactIndex(_Faiss):
    """Every vector compared with the query (faiss.IndexFlatIP): exact, linear in the count."""

    kind = EXACT

    @classmethod
    def create(cls, dimension: int) -> ExactIndex:
        import faiss

        return cls(faiss.IndexFlatIP(dimension))

    @classmethod
    def load(cls, path: Path) -> ExactIndex:
        return cls(_read(path))


class HNSWIndex(_Faiss):
    """A hierarchical navigable small-world graph (faiss.IndexHNSWFlat, inner product):
    approximate, logarithmic in the count.

    An update keeps the graph (``updated``): a node is a row of the new index, or a deleted
    one that searches pass through but never return, and new rows are added as nodes. The
    node of each row is then kept in a file beside the graph's (``slots``)."""

    kind = HNSW

    def __init__(
        self,
        index: Any,
        slots: np.ndarray | None = None,
        path: Path | None = None,
        ef_search: int = HNSW_EF_SEARCH,
    ) -> None:
        super().__init__(index)
        index.hnsw.efSearch = ef_search
        self._slots = slots  # the row each node stands for, -1 if deleted; None: node i, row i
        self._path = path  # where it was loaded from
        self._params: Any = None  # search parameters that skip the deleted nodes
        self._live = int(np.count_nonzero(slots >= 0)) if slots is not None else 0
        if slots is not None and self._live < len(slots):
            faiss = _faiss()
            self._bitmap = np.packbits(slots >= 0, bitorder="little")
            self._params = faiss.SearchParametersHNSW()
            self._params.efSearch = ef_search
            self._params.sel = faiss.IDSelectorBitmap(len(slots), faiss.swig_ptr(self._bitmap))

    @property
    def ntotal(self) -> int:
        """The rows it finds (deleted nodes left out)."""
        return int(self._index.ntotal) if self._slots is None else self._live

    def add(self, vectors: np.ndarray) -> None:
        if self._slots is not None:
            raise ValueError("rows are added to an updated HNSW index by updated() only")
        super().add(vectors)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._slots is None:
            return super().search(vectors, k)
        scores, nodes = self._index.search(_rows(vectors), k, params=self._params)
        return scores, np.where(nodes >= 0, self._slots[np.maximum(nodes, 0)], -1)

    def save(self, path: Path) -> None:
        super().save(path)
        if self._slots is not None:
            np.save(_slots_path(path), self._slots.astype(np.int64), allow_pickle=False)

    @classmethod
    def create(
        cls, dimension: int, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION
    ) -> HNSWIndex:
        import faiss

        index = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> HNSWIndex:
        slots = None
        if _slots_path(path).is_file():
            slots = np.load(_slots_path(path), allow_pickle=False)
            live = np.sort(slots[slots >= 0])
            if slots.ndim != 1 or not np.array_equal(live, np.arange(len(live))):
                raise ValueError(f"{_slots_path(path).name} does not give each row one node")
        return cls(_read(path), slots, path)

    def params(self) -> dict[str, int]:
        hnsw = self._index.hnsw
        return {
            "m": int(hnsw.nb_neighbors(1)),
            "ef_construction": int(hnsw.efConstruction),
            "ef_search": int(hnsw.efSearch),
            "deleted": int(self._index.ntotal) - self.ntotal,
        }


def _slots_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.slots.npy")


# An update keeps an HNSW graph while at most this share of its nodes would be deleted ones;
# past it the graph is built afresh (searches pass through deleted nodes: they cost time).
MAX_DELETED = 0.2


def updated(old: DenseIndex, sources: np.ndarray, vectors: np.ndarray) -> DenseIndex | None:
    """The previous index ``old`` made to find the rows of a new one: row i is old row
    ``sources[i]`` (its node kept) or new (-1: its vector, ``vectors[i]``, added as a node).
    Old rows no row keeps become deleted nodes; an old row kept twice gets a second node.
    None when the index is better built afresh: not an HNSW graph read from a file, fewer
    rows than HNSW_FROM, or more than MAX_DELETED of its nodes deleted."""
    if not isinstance(old, HNSWIndex) or old._path is None or kind_for(len(sources)) != HNSW:
        return None
    node_rows = old._slots if old._slots is not None else np.arange(old.ntotal)
    kept = np.flatnonzero(sources >= 0)
    firsts, at = np.unique(sources[kept], return_index=True)  # first row keeping each old row
    new_row = np.full(old.ntotal, -1, dtype=np.int64)
    new_row[firsts] = kept[at]
    slots = np.where(node_rows >= 0, new_row[np.maximum(node_rows, 0)], -1)
    placed = np.zeros(len(sources), dtype=bool)
    placed[slots[slots >= 0]] = True
    adding = np.flatnonzero(~placed)
    nodes = len(slots) + len(adding)
    if np.count_nonzero(slots < 0) > MAX_DELETED * nodes:
        return None
    try:
        index = _faiss().read_index(str(old._path))  # into memory: a mapped graph cannot grow
    except (RuntimeError, OSError):  # unreadable since it was opened: build it afresh
        return None
    if int(index.ntotal) != len(node_rows):
        return None
    index.hnsw.efConstruction = int(old._index.hnsw.efConstruction)
    if len(adding):
        index.add(_rows(vectors[adding]))
    return HNSWIndex(index, np.concatenate((slots, adding)))


def kind_for(count: int) -> str:
    """The kind of index for ``count`` vectors: exact below HNSW_FROM, HNSW from there on."""
    return HNSW if count >= HNSW_FROM else EXACT


def create(kind: str, dimension: int) -> DenseIndex:
    """An empty index of this kind for vectors of this dimension."""
    if kind == HNSW:
        return HNSWIndex.create(dimension)
    return ExactIndex.create(dimension)


def load(path: Path, kind: str) -> DenseIndex:
    """The index saved at path, of the kind the manifest records, memory-mapped."""
    if kind == HNSW:
        return HNSWIndex.load(path)
    return ExactIndex.load(path)
