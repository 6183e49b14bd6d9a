"""BM25 keyword retrieval over the chunks (bm25s), with English stemming and stopwords.

Saved as bm25s's own files (JSON and ``.npy`` arrays, no pickle) in the index generation.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_STEMMER = "english"
_STOPWORDS = "en"
# What the index records about its keyword search (the manifest's ``keyword``).
DESCRIPTION = {"engine": "bm25s", "stemmer": _STEMMER, "stopwords": _STOPWORDS}
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_TOKEN = re.compile(_TOKEN_PATTERN)

logging.getLogger("bm25s").setLevel(logging.WARNING)


@functools.cache
def _stopwords() -> frozenset[str]:
    import bm25s

    return frozenset(bm25s.stopwords.STOPWORDS_EN)


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer(_STEMMER)


class KeywordIndex:
    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever
        self._stem = _stemmer()
        self._vocab: dict[str, int] = retriever.vocab_dict
        self._n = int(retriever.scores["num_docs"])

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        import bm25s

        tokens = bm25s.tokenize(
            list(texts), stopwords=_STOPWORDS, stemmer=_stemmer(), show_progress=False
        )
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

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

    def top(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the (at most) k chunks that score highest for the query, best first,
        and their BM25 scores; only chunks holding a query term (bm25s's own top-k)."""
        ids = self._term_ids(query)
        k = min(k, self._n)
        if not ids or k < 1:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        rows, scores = self._retriever.retrieve(
            [ids], k=k, sorted=True, show_progress=False, n_threads=0, return_as="tuple"
        )
        rows, scores = np.asarray(rows[0], np.int64), np.asarray(scores[0], np.float32)
        keep = scores > 0
        return rows[keep], scores[keep]

    def scores_of(self, query: str, rows: np.ndarray) -> np.ndarray:
        """The BM25 score of the given chunk rows for the query (0 where no term matches),
        read from each query term's postings: no score is computed for any other chunk."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        index = self._retriever.scores
        for term in self._term_ids(query):  # a term said twice counts twice, as in bm25s
            a, b = int(index["indptr"][term]), int(index["indptr"][term + 1])
            if a == b:
                continue
            postings = index["indices"][a:b]  # chunk rows holding the term, ascending
            at = np.minimum(np.searchsorted(postings, rows), b - a - 1)
            found = postings[at] == rows
            out[found] += index["data"][a:b][at[found]]
        return out

    def __len__(self) -> int:
        return self._n
