"""BM25 keyword retrieval over the chunks, with English stemming and stopwords, as bm25s
indexes them (the scoring: qa.bm25).

Saved as bm25s's own files (JSON and ``.npy`` arrays, no pickle) in the index generation,
with each posting's term count and each chunk's length beside them: an update tokenizes only
its new chunks. A query reads the postings of its own terms, memory-mapped.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import bm25
from .pool import Workers

_STEMMER = "english"
_STOPWORDS = "en"
# What the index records about its keyword search (the manifest's ``keyword``).
DESCRIPTION = {"engine": "bm25s", "stemmer": _STEMMER, "stopwords": _STOPWORDS}
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_TOKEN = re.compile(_TOKEN_PATTERN)
# bm25s's files in a keyword folder, and the term counts and row lengths qa keeps beside them.
_DATA, _INDICES, _INDPTR = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
_VOCAB, _PARAMS = "vocab.index.json", "params.index.json"
_TF, _LENGTHS = "tf.npy", "lengths.npy"
BLOCK = 2048  # texts tokenized at a time

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


class _Terms:
    """Term ids of texts as bm25s's ``tokenize`` makes them (lower-cased, words of two or more
    word characters, stopwords out, stemmed), over a vocabulary that grows as stems appear."""

    def __init__(self, vocabulary: Sequence[str] = ()) -> None:
        self.vocabulary = list(vocabulary)
        self._ids = {term: i for i, term in enumerate(self.vocabulary)}
        self._word_ids: dict[str, int] = {}  # word -> the term id of its stem
        self._stem = _stemmer()

    def counts(self, texts: Sequence[str]) -> bm25.Counts:
        """The term counts of texts, tokenized BLOCK texts at a time: the words of every text
        at once would be a string object a word (gigabytes for a large corpus)."""
        blocks = range(0, len(texts), BLOCK)
        return bm25.stacked([bm25.count(self.of(texts[i : i + BLOCK])) for i in blocks])

    def of(self, texts: Sequence[str]) -> list[list[int]]:
        stop = _stopwords()
        words = [[w for w in _TOKEN.findall(text.lower()) if w not in stop] for text in texts]
        # New words in the order they first occur: term ids, and so the saved index, do not
        # depend on the process's string hash seed (a set's order would).
        unknown = list(dict.fromkeys(w for ws in words for w in ws if w not in self._word_ids))
        for word, stem in zip(unknown, self._stem.stemWords(unknown), strict=True):
            if stem not in self._ids:
                self._ids[stem] = len(self.vocabulary)
                self.vocabulary.append(stem)
            self._word_ids[word] = self._ids[stem]
        return [[self._word_ids[w] for w in ws] for ws in words]


# A job for a worker: the texts of the rows to tokenize; for an update, each row's row in the
# previous index or -1 (the rows whose texts are given), and the previous keyword folder.
_Job = tuple[Sequence[str], np.ndarray | None, Path | None]


def _index_of(job: _Job) -> tuple[bm25.Postings, list[str]]:
    """The postings and vocabulary of a job: plain objects, so a worker process may make them."""
    texts, sources, folder = job
    if sources is None or folder is None:
        terms = _Terms()
        return _compact(terms.counts(texts), terms)
    return updated(*_load_postings(folder), sources, texts)


def updated(
    old: bm25.Postings, vocabulary: Sequence[str], sources: np.ndarray, texts: Sequence[str]
) -> tuple[bm25.Postings, list[str]]:
    """The postings and vocabulary of rows that are old rows (``sources[i]`` >= 0: its row in
    ``old``, whose terms are ``vocabulary``) or new ones (-1, whose texts are ``texts``, in
    order). Only the new texts are tokenized: the old rows' term counts are kept."""
    terms = _Terms(vocabulary)
    new_rows = np.flatnonzero(sources < 0)
    new = bm25.shifted(terms.counts(texts), new_rows, len(sources))
    return _compact(bm25.merged(bm25.reused(old, sources), new), terms)


def _compact(counts: bm25.Counts, terms: _Terms) -> tuple[bm25.Postings, list[str]]:
    """The postings of counts over the terms that occur in them, and those terms."""
    counts, kept = bm25.used_terms(counts, len(terms.vocabulary))
    return bm25.postings(counts, len(kept)), [terms.vocabulary[i] for i in kept]


def _load_postings(folder: Path) -> tuple[bm25.Postings, list[str]]:
    """A saved keyword index's postings and vocabulary (in term-id order), memory-mapped."""

    def array(name: str) -> np.ndarray:
        loaded: np.ndarray = np.load(folder / name, mmap_mode="r", allow_pickle=False)
        return loaded

    vocab = json.loads((folder / _VOCAB).read_text(encoding="utf-8"))
    vocabulary = [""] * (len(vocab) - ("" in vocab))  # by term id: bm25s numbers them 0, 1, ...
    for term, i in vocab.items():
        if term:
            vocabulary[i] = term
    if updatable(folder):
        tf, lengths = array(_TF), array(_LENGTHS)
    else:  # written before term counts were kept (by bm25s): it searches, an update rebuilds it
        chunks = int(json.loads((folder / _PARAMS).read_text(encoding="utf-8"))["num_docs"])
        tf, lengths = np.zeros(0, dtype=np.int32), np.zeros(chunks, dtype=np.int64)
    return bm25.Postings(array(_DATA), array(_INDICES), array(_INDPTR), tf, lengths), vocabulary


def _retriever(postings: bm25.Postings, vocabulary: Sequence[str]) -> Any:
    """A bm25s BM25 object holding postings: bm25s saves and loads it in its own format."""
    retriever = _bm25s().BM25(k1=bm25.K1, b=bm25.B)
    retriever.scores = {
        "data": postings.data,
        "indices": postings.indices,
        "indptr": postings.indptr,
        "num_docs": len(postings.lengths),
    }
    # bm25s puts an empty term last, for queries with no terms.
    retriever.vocab_dict = {term: i for i, term in enumerate(vocabulary)} | {"": len(vocabulary)}
    retriever.nonoccurrence_array = None
    return retriever


def updatable(folder: Path) -> bool:
    """Whether the saved keyword index in folder keeps the term counts an update needs, a
    count a posting and a length a chunk (one written before they were kept does not)."""
    try:
        tf, indices = (
            np.load(folder / _TF, mmap_mode="r"),
            np.load(folder / _INDICES, mmap_mode="r"),
        )
        lengths = np.load(folder / _LENGTHS, mmap_mode="r")
        params = json.loads((folder / _PARAMS).read_text(encoding="utf-8"))
        return bool(tf.shape == indices.shape and lengths.shape == (int(params["num_docs"]),))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def keyword_index_later(
    texts: Sequence[str], sources: np.ndarray | None, previous: Path | None, workers: Workers
) -> Callable[[], KeywordIndex]:
    """The keyword index of every row, started now in a worker process when there are many
    texts to tokenize; the returned function waits for it. A full build gives every row's
    text (``sources`` None). An update gives ``sources``, each row's row in the previous
    index (whose keyword folder is ``previous``) or -1, and the texts of the -1 rows only."""
    if sources is not None and not (previous is not None and updatable(previous)):
        raise ValueError(f"the keyword index in {previous} cannot be updated")
    made = workers.later(_index_of, (texts, sources, previous), len(texts))
    return lambda: KeywordIndex(*made())


class KeywordIndex:
    def __init__(self, postings: bm25.Postings, vocabulary: Sequence[str]) -> None:
        self._p = postings
        self._terms = vocabulary
        self._stem = _stemmer()
        self._vocab = {term: i for i, term in enumerate(vocabulary)}
        self._n = len(postings.lengths)

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        return cls(*_index_of((texts, None, None)))

    def save(self, folder: Path) -> None:
        _retriever(self._p, self._terms).save(str(folder), show_progress=False)
        np.save(folder / _TF, self._p.tf, allow_pickle=False)
        np.save(folder / _LENGTHS, self._p.lengths, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """Memory-mapped: a query reads the postings of its own terms only."""
        return cls(*_load_postings(folder))

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
        a, b = int(self._p.indptr[term]), int(self._p.indptr[term + 1])
        return self._p.indices[a:b], self._p.data[a:b]

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
