"""Vector search over the chunk embeddings (FAISS, inner product = cosine on unit vectors).

``DenseIndex`` is what retrieval and the store rely on; ``ExactIndex`` searches every vector.
FAISS is imported lazily, by the implementations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

EXACT = "exact"


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


def _rows(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1))


class ExactIndex:
    """Every vector compared with the query (faiss.IndexFlatIP): exact, linear in the count."""

    kind = EXACT

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def create(cls, dimension: int) -> ExactIndex:
        import faiss

        return cls(faiss.IndexFlatIP(dimension))

    @classmethod
    def load(cls, path: Path) -> ExactIndex:
        import faiss

        return cls(faiss.read_index(str(path)))

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
        import faiss

        faiss.write_index(self._index, str(path))


def kind_for(count: int) -> str:
    """The kind of index for ``count`` vectors."""
    return EXACT


def create(kind: str, dimension: int) -> DenseIndex:
    """An empty index of this kind for vectors of this dimension."""
    return ExactIndex.create(dimension)


def load(path: Path, kind: str) -> DenseIndex:
    """The index saved at path, of the kind the manifest records."""
    return ExactIndex.load(path)
