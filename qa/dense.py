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
    approximate, logarithmic in the count."""

    kind = HNSW

    def __init__(self, index: Any, ef_search: int = HNSW_EF_SEARCH) -> None:
        super().__init__(index)
        index.hnsw.efSearch = ef_search

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
        return cls(_read(path))

    def params(self) -> dict[str, int]:
        hnsw = self._index.hnsw
        return {
            "m": int(hnsw.nb_neighbors(1)),
            "ef_construction": int(hnsw.efConstruction),
            "ef_search": int(hnsw.efSearch),
        }


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
