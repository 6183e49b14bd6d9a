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

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when no term matches)."""
        terms = self.query_terms(query)
        if not terms:
            return np.zeros(self._n, dtype=np.float32)
        ids = [self._vocab[t] for t in terms]
        return np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)

    def __len__(self) -> int:
        return self._n
