"""BM25 postings as pure numpy functions: what bm25s's ``BM25().index`` computes (its default
Lucene variant), made from term counts that the index keeps, so that an update scores every
chunk again without tokenizing the chunks it reuses.

A chunk's terms are its lower-cased words of two or more word characters, stopwords left out,
stemmed (qa.keyword tokenizes). Term ids are positions in a vocabulary list. The postings are
laid out as bm25s lays them out (compressed sparse columns: per term, the rows holding it in
ascending order and its score in each), so that bm25s saves and loads them.
tests/test_bm25.py checks them against bm25s's own index, posting for posting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

K1 = 1.5  # bm25s's defaults
B = 0.75


@dataclass(frozen=True)
class Counts:
    """Term counts of rows: term ``terms[i]`` occurs ``tf[i]`` times in row ``rows[i]`` (one
    entry per row and term); ``lengths[r]``: how many terms row r has, repeats counted."""

    rows: np.ndarray  # int32 (4 bytes an entry: a large corpus has tens of millions)
    terms: np.ndarray  # int32
    tf: np.ndarray  # int32
    lengths: np.ndarray  # int64, one per row


@dataclass(frozen=True)
class Postings:
    """BM25 scores as compressed sparse columns, and the term counts they were made from,
    in the same order: ``indices[indptr[t]:indptr[t + 1]]`` are the rows holding term t."""

    data: np.ndarray  # float32 scores
    indices: np.ndarray  # int32 rows
    indptr: np.ndarray  # int64, one more than there are terms
    tf: np.ndarray  # int32 term counts
    lengths: np.ndarray  # int64 terms a row


def count(token_ids: Sequence[Sequence[int]]) -> Counts:
    """The term counts of rows given as term-id sequences (row i: token_ids[i])."""
    lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(token_ids))
    flat = np.fromiter(
        (t for ids in token_ids for t in ids), dtype=np.int64, count=int(lengths.sum())
    )
    rows = np.repeat(np.arange(len(token_ids), dtype=np.int64), lengths)
    width = int(flat.max(initial=-1)) + 1
    keys, tf = np.unique(rows * width + flat, return_counts=True)
    width = max(width, 1)
    return Counts(_int32(keys // width), _int32(keys % width), _int32(tf), lengths)


def _int32(a: np.ndarray) -> np.ndarray:
    return a.astype(np.int32)


def stacked(parts: Sequence[Counts]) -> Counts:
    """The counts of consecutive blocks of rows, as one (each part's rows counted from 0)."""
    if not parts:
        return count([])
    starts = np.cumsum([0] + [len(p.lengths) for p in parts[:-1]])
    return Counts(
        np.concatenate([p.rows + np.int32(s) for p, s in zip(parts, starts, strict=True)]),
        np.concatenate([p.terms for p in parts]),
        np.concatenate([p.tf for p in parts]),
        np.concatenate([p.lengths for p in parts]),
    )


def reused(old: Postings, sources: np.ndarray) -> Counts:
    """The counts of rows taken from old postings: row i is old row ``sources[i]``, or new
    (no terms yet) where ``sources[i]`` < 0. An old row may be taken more than once."""
    terms_of = np.repeat(np.arange(len(old.indptr) - 1, dtype=np.int64), np.diff(old.indptr))
    by_row = np.argsort(old.indices, kind="stable")  # the postings, row after row
    per_row = np.bincount(old.indices, minlength=len(old.lengths))
    starts = np.concatenate(([0], np.cumsum(per_row)))
    new_rows = np.flatnonzero(sources >= 0)
    olds = sources[new_rows]
    n = per_row[olds]
    within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
    picked = by_row[np.repeat(starts[olds], n) + within]
    lengths = np.zeros(len(sources), dtype=np.int64)
    lengths[new_rows] = old.lengths[olds]
    return Counts(
        _int32(np.repeat(new_rows, n)), _int32(terms_of[picked]), _int32(old.tf[picked]), lengths
    )


def merged(a: Counts, b: Counts) -> Counts:
    """Counts of the same rows from two sources (a row's terms all in one of them)."""
    return Counts(
        np.concatenate((a.rows, b.rows)),
        np.concatenate((a.terms, b.terms)),
        np.concatenate((a.tf, b.tf)),
        a.lengths + b.lengths,
    )


def shifted(counts: Counts, rows: np.ndarray, total: int) -> Counts:
    """Counts whose row i becomes row ``rows[i]`` of ``total`` rows."""
    lengths = np.zeros(total, dtype=np.int64)
    lengths[rows] = counts.lengths
    return Counts(_int32(rows[counts.rows]), counts.terms, counts.tf, lengths)


def used_terms(counts: Counts, terms: int) -> tuple[Counts, np.ndarray]:
    """The counts with term ids renumbered over the terms that occur (in their old order),
    and the old id of each new one."""
    present = np.bincount(counts.terms, minlength=terms) > 0
    kept = np.flatnonzero(present)
    new_id = _int32(np.cumsum(present) - 1)
    return Counts(counts.rows, new_id[counts.terms], counts.tf, counts.lengths), kept


def postings(counts: Counts, terms: int) -> Postings:
    """The BM25 postings of counts over ``terms`` term ids: bm25s's Lucene scores, idf
    ``log(1 + (N - df + 0.5) / (df + 0.5))`` in float32, times ``tf / (tf + K1 * (1 - B + B *
    length / average length))``, reckoned in float64 and stored in float32 as bm25s does."""
    n = len(counts.lengths)
    df = np.bincount(counts.terms, minlength=terms)
    idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    average = counts.lengths.mean() if counts.lengths.any() else 1.0  # else: no postings
    norm = K1 * ((1 - B) + B * counts.lengths / average)  # a row's, as bm25s reckons it
    # In place, over one posting at a time's arrays (a large corpus has tens of millions).
    tfc = counts.tf.astype(np.float64)
    denominator = norm[counts.rows]
    denominator += tfc
    np.divide(tfc, denominator, out=tfc)
    del denominator
    tfc *= idf[counts.terms]
    scores = tfc.astype(np.float32)
    del tfc
    order = np.lexsort((counts.rows, counts.terms))  # by term, then row
    indptr = np.zeros(terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return Postings(scores[order], counts.rows[order], indptr, counts.tf[order], counts.lengths)
