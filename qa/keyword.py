"""BM25 keyword retrieval over the chunks (bm25s), with English stemming and stopwords.

Saved as bm25s's own files (JSON and ``.npy`` arrays, no pickle) in the index generation.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .pool import Workers

_STEMMER = "english"
_STOPWORDS = "en"
# What the index records about its keyword search (the manifest's ``keyword``).
DESCRIPTION = {"engine": "bm25s", "stemmer": _STEMMER, "stopwords": _STOPWORDS}
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_TOKEN = re.compile(_TOKEN_PATTERN)

logging.getLogger("bm25s").setLevel(logging.WARNING)


# Optional accelerators that bm25s imports when they are installed, for retrieval paths qa does
# not take (qa reads the postings itself: KeywordIndex.top). JAX, on import, runs a top-k that
# starts its GPU backend, which takes 75% of the GPU's memory (105 GiB on an H200, seen: the
# model then ran out of memory) and seconds; numba costs a second to import.
_NOT_FOR_BM25S = ("jax", "numba")


def _bm25s() -> Any:
    """bm25s, imported without the accelerators of _NOT_FOR_BM25S (unless this process already
    imported them for its own use)."""
    if "bm25s" in sys.modules:
        return sys.modules["bm25s"]
    blocked = [name for name in _NOT_FOR_BM25S if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        import bm25s
    finally:
        for name in blocked:
            sys.modules.pop(name, None)
    return bm25s


@functools.cache
def _stopwords() -> frozenset[str]:
    bm25s = _bm25s()
    return frozenset(bm25s.stopwords.STOPWORDS_EN)


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer(_STEMMER)


def bm25_of(texts: Sequence[str]) -> Any:
    """The bm25s index of texts: a plain object, so a worker process may build it."""
    bm25s = _bm25s()
    tokens = bm25s.tokenize(
        list(texts), stopwords=_STOPWORDS, stemmer=_stemmer(), show_progress=False
    )
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    return retriever


def keyword_index_later(texts: Sequence[str], workers: Workers) -> Callable[[], KeywordIndex]:
    """KeywordIndex.build(texts), started now in a worker process when there are many texts;
    the returned function waits for it."""
    _bm25s()  # the worker's bm25s object is unpickled here, which imports bm25s: without JAX
    retriever = workers.later(bm25_of, texts, len(texts))
    return lambda: KeywordIndex(retriever())


class KeywordIndex:
    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever
        self._stem = _stemmer()
        self._vocab: dict[str, int] = retriever.vocab_dict
        self._n = int(retriever.scores["num_docs"])

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        return cls(bm25_of(texts))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        bm25s = _bm25s()
        # Memory-mapped: a query reads the postings of its own terms only.
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False, allow_pickle=False))

    def stems(self, text: str) -> list[str]:
        """The stemmed words of a text, stopwords left out, in order."""
        words = [w.lower() for w in _TOKEN.findall(text)]
        return list(self._stem.stemWords([w for w in words if w not in _stopwords()]))

    def query_terms(self, query: str) -> list[str]:
        """The stemmed query terms that occur in the index."""
        return [s for s in self.stems(query) if s in self._vocab]

    @property
    def vocabulary(self) -> Collection[str]:
        """Every stem that occurs in the indexed texts."""
        return self._vocab.keys()

    def _term_ids(self, query: str) -> list[int]:
        return [self._vocab[t] for t in self.query_terms(query)]

    def _postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """The chunk rows holding a term (ascending) and the term's BM25 score in each."""
        index = self._retriever.scores
        a, b = int(index["indptr"][term]), int(index["indptr"][term + 1])
        return index["indices"][a:b], index["data"][a:b]

    def top(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the (at most) k chunks that score highest for the query, best first,
        and their BM25 scores; only chunks holding a query term.

        Read from the postings of the query's terms and summed in one numpy pass, then
        selected among the chunks that matched. (bm25s's own retrieve() selects with
        ``np.argpartition(scores, -k)``, which numpy makes slow on a score vector that is
        mostly zeros: 15 ms at 100k chunks, measured, against 1 ms for this.)
        """
        ids = self._term_ids(query)
        if not ids or k < 1:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        rows, scores = zip(*(self._postings(term) for term in ids), strict=True)
        summed = np.bincount(np.concatenate(rows), np.concatenate(scores), minlength=self._n)
        found = np.flatnonzero(summed)
        if len(found) > k:
            found = found[np.argpartition(-summed[found], k - 1)[:k]]
        found = found[np.argsort(-summed[found], kind="stable")]
        return found.astype(np.int64), summed[found].astype(np.float32)

    def scores_of(self, query: str, rows: np.ndarray) -> np.ndarray:
        """The BM25 score of the given chunk rows for the query (0 where no term matches),
        read from each query term's postings: no score is computed for any other chunk."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        for term in self._term_ids(query):  # a term said twice counts twice, as in bm25s
            holding, scores = self._postings(term)
            if len(holding) == 0:
                continue
            at = np.minimum(np.searchsorted(holding, rows), len(holding) - 1)
            found = holding[at] == rows
            out[found] += scores[at[found]]
        return out

    def __len__(self) -> int:
        return self._n
