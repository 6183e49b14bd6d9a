"""What a query reads of the passages it ranked, whichever store holds the index: a chunk, its
document, its vector, its sentences. ``LocalPassages`` reads a loaded local generation;
``MilvusPassages`` holds what one query fetched from Milvus (qa.indexing.milvus), and
``rank_milvus`` ranks there as qa.searching.retrieval ranks locally: the same candidates (the
dense and the keyword top ones), the same three signals (the BM25 scores are the local store's:
Milvus holds its term scores as sparse vectors), the same fusion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..answer.answertype import RANKING_KINDS, W_TYPE, asked, held
from ..answer.extractive import MIN_SENTENCE_WORDS
from ..indexing.index import StoredIndex
from ..indexing.manifest import DocumentRecord
from ..indexing.milvus import ChunkRow, MilvusIndex
from ..types import Chunk, Span
from .fusion import fuse
from .retrieval import Scored, _word_count


class Passages(Protocol):
    def chunk(self, row: int) -> Chunk: ...

    def document(self, row: int) -> DocumentRecord: ...

    def vectors(self, rows: Sequence[int] | np.ndarray) -> np.ndarray: ...

    def sentences(self, row: int) -> tuple[list[Span], list[str], np.ndarray]: ...


class LocalPassages:
    """The passages of a loaded local generation."""

    def __init__(self, index: StoredIndex) -> None:
        self._index = index

    def chunk(self, row: int) -> Chunk:
        return self._index.chunks[row]

    def document(self, row: int) -> DocumentRecord:
        return self._index.chunks.document(row)

    def vectors(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        return self._index.vectors[list(rows)]

    def sentences(self, row: int) -> tuple[list[Span], list[str], np.ndarray]:
        return self._index.sentences(row)


class MilvusPassages:
    """The chunks one query fetched from Milvus, with their sentences and documents."""

    def __init__(self, index: MilvusIndex, rows: dict[int, ChunkRow]) -> None:
        self._index = index
        self._rows = rows
        wanted = [s for r in rows.values() for s in range(r.sentence_first, r.sentence_stop)]
        self._sentences = index.sentences(wanted) if wanted else {}
        self._documents: dict[int, DocumentRecord] = {}  # read as the passages shown ask

    def prefetch(self, rows: Sequence[int] | np.ndarray) -> None:
        """The documents of these chunk rows, read in one call (those of the passages to be
        shown: not every candidate's)."""
        wanted = {self._row(int(r)).doc for r in rows} - set(self._documents)
        if wanted:
            self._documents.update(self._index.documents(wanted))

    def _row(self, row: int) -> ChunkRow:
        found = self._rows.get(row)
        if found is None:  # a chunk asked for later than ranking (not in this query's fetch)
            self._rows.update(self._index.chunks([row]))
            found = self._rows[row]
            self._sentences.update(
                self._index.sentences(range(found.sentence_first, found.sentence_stop))
            )
        return found

    def _document(self, doc: int) -> DocumentRecord:
        if doc not in self._documents:
            self._documents.update(self._index.documents([doc]))
        return self._documents[doc]

    def chunk(self, row: int) -> Chunk:
        r = self._row(row)
        doc = self._document(r.doc)
        return Chunk(
            doc.source,
            r.start,
            r.end,
            r.text,
            doc.title,
            doc.date,
            doc.sha256,
            r.sentence_first,
            r.sentence_stop,
            doc.page_at(r.start),
            doc.section_at(r.start),
        )

    def document(self, row: int) -> DocumentRecord:
        return self._document(self._row(row).doc)

    def vectors(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        dim = self._index.manifest.model.dimension
        if not len(rows):
            return np.empty((0, dim), dtype=np.float32)
        return np.vstack([self._row(int(r)).vector for r in rows])

    def sentences(self, row: int) -> tuple[list[Span], list[str], np.ndarray]:
        r = self._row(row)
        ids = range(r.sentence_first, r.sentence_stop)
        spans = [self._sentences[i][0] for i in ids]
        texts = [r.text[s.start - r.start : s.end - r.start] for s in spans]
        dim = self._index.manifest.model.dimension
        vectors = (
            np.vstack([self._sentences[i][1] for i in ids])
            if spans
            else np.empty((0, dim), dtype=np.float32)
        )
        return spans, texts, vectors

    def best_sentence(self, rows: np.ndarray, q: np.ndarray, question: str) -> np.ndarray:
        """As qa.searching.retrieval.best_sentence: for each chunk row, the highest cosine of
        one of its sentences of at least MIN_SENTENCE_WORDS words to the query, plus W_TYPE
        when it holds the kind of answer asked for (the chunk's own cosine for a chunk of
        fragments only)."""
        mask = asked(question) & RANKING_KINDS
        out = np.empty(len(rows), dtype=np.float64)
        for i, row in enumerate(rows):
            _, texts, vectors = self.sentences(int(row))
            sims = vectors @ q if len(texts) else np.empty(0, dtype=np.float32)
            best = -np.inf
            for text, sim in zip(texts, sims, strict=True):
                if _word_count(text) < MIN_SENTENCE_WORDS:
                    continue
                value = float(sim) + (W_TYPE if mask and held(text) & mask else 0.0)
                best = max(best, value)
            out[i] = best if np.isfinite(best) else float(self._row(int(row)).vector @ q)
        return out


def _keyword(rows: dict[int, ChunkRow], ids: np.ndarray, query: dict[int, float]) -> np.ndarray:
    """The BM25 score of each chunk id: its term scores times the query's term counts."""
    return np.array(
        [sum(rows[int(i)].sparse.get(t, 0.0) * c for t, c in query.items()) for i in ids],
        dtype=np.float32,
    )


def rank_milvus(
    index: MilvusIndex,
    query: str,
    query_vector: np.ndarray,
    n: int,
    mode: str = "hybrid",
    candidates: int = 100,
    fusion: str = "zscore",
    alpha: float = 0.5,
    sentence_weight: float = 0.5,
) -> tuple[list[Scored], MilvusPassages]:
    """The best ``n`` chunks for the query, best first, and what was fetched of them."""
    total = len(index)
    q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    terms = index.keyword.term_counts(query)
    if total == 0:
        return [], MilvusPassages(index, {})
    if mode == "keyword":
        ids, kw = index.keyword_top(terms, n)
        view = MilvusPassages(index, index.chunks(ids))
        view.prefetch(ids)
        dense = view.vectors(ids) @ q if len(ids) else np.empty(0)
        return [
            Scored(int(r), float(k), float(d), float(k))
            for r, k, d in zip(ids, kw, dense, strict=True)
        ], view
    depth = min(max(n, candidates), total)
    d_ids, d_scores = index.dense(q, depth)
    if mode == "dense":
        d_ids, d_scores = d_ids[:n], d_scores[:n]
        rows = index.chunks(d_ids)
        view = MilvusPassages(index, rows)
        view.prefetch(d_ids)
        kw = _keyword(rows, d_ids, terms)
        exact = view.vectors(d_ids) @ q if len(d_ids) else np.empty(0)
        return [
            Scored(int(r), float(s), float(s), float(k))
            for r, s, k in zip(d_ids, exact, kw, strict=True)
        ], view
    k_ids, _ = index.keyword_top(terms, depth)
    union = np.union1d(d_ids, k_ids)
    rows = index.chunks(union)
    view = MilvusPassages(index, rows)
    dense = view.vectors(union) @ q
    kw = _keyword(rows, union, terms)
    sentence = view.best_sentence(union, q, query) if sentence_weight > 0 else None
    fused = fuse(dense, kw, sentence, fusion, alpha, sentence_weight)
    order = np.argsort(-fused, kind="stable")[:n]
    view.prefetch(union[order])
    return [
        Scored(
            int(union[i]),
            float(fused[i]),
            float(dense[i]),
            float(kw[i]),
            None if sentence is None else float(sentence[i]),
        )
        for i in order
    ], view
