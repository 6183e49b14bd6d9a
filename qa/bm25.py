"""BM25 postings as pure numpy functions: what bm25s's ``BM25().index`` computes (its default
Lucene variant), made from term counts that the index keeps, so that an update scores every
chunk again without tokenizing the chunks it reuses.

A chunk's terms are its lower-cased words of two or more word characters, stopwords left out,
stemmed (qa.keyword tokenizes). Term ids are positions in a vocabulary list. The postings are
laid out as bm25s lays them out (compressed sparse columns: per term, the rows holding it in
ascending order and its score in each), so that bm25s loads them. They can be made a piece of
the rows at a time (``scoring`` from every row's length and every term's row count, then
``place`` for each piece into arrays ``empty`` made, which may be files).
tests/test_bm25.py checks them against bm25s's own index, posting for posting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class ByRow:
    """Postings in row order: ``order[starts[r]:starts[r + 1]]`` are row r's postings (their
    positions in the postings' arrays)."""

    order: np.ndarray  # int32 where the postings allow, else int64
    starts: np.ndarray  # int64, one more than there are rows


def by_row(postings: Postings) -> ByRow:
    order = np.argsort(postings.indices, kind="stable")
    if len(order) < 2**31:
        order = order.astype(np.int32)
    starts = np.zeros(len(postings.lengths) + 1, dtype=np.int64)
    np.cumsum(np.bincount(postings.indices, minlength=len(postings.lengths)), out=starts[1:])
    return ByRow(order, starts)


def reused(old: Postings, sources: np.ndarray, rows: ByRow) -> Counts:
    """The counts of rows taken from old postings (``rows``: them in row order): row i is old
    row ``sources[i]``, or new (no terms yet) where ``sources[i]`` < 0. An old row may be
    taken more than once."""
    new_rows = np.flatnonzero(sources >= 0)
    olds = sources[new_rows]
    n = rows.starts[olds + 1] - rows.starts[olds]
    within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
    picked = rows.order[np.repeat(rows.starts[olds], n) + within]
    terms = np.searchsorted(old.indptr, picked, side="right") - 1  # the term of each posting
    lengths = np.zeros(len(sources), dtype=np.int64)
    lengths[new_rows] = old.lengths[olds]
    return Counts(_int32(np.repeat(new_rows, n)), _int32(terms), _int32(old.tf[picked]), lengths)


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


@dataclass(frozen=True)
class Scoring:
    """What scoring a posting needs to know of every row: each vocabulary term's id in the
    postings (-1: the term occurs in no row, and is left out) and its idf (by that id), each
    row's length norm."""

    ids: np.ndarray  # int32, one per vocabulary term
    idf: np.ndarray  # float32, one per term that occurs
    norm: np.ndarray  # float64, one per row


def scoring(df: np.ndarray, lengths: np.ndarray) -> Scoring:
    """bm25s's Lucene scoring over rows of these lengths, where vocabulary term t occurs in
    ``df[t]`` rows: idf ``log(1 + (N - df + 0.5) / (df + 0.5))`` in float32, a row's norm
    ``K1 * (1 - B + B * length / average length)``."""
    present = df > 0
    n, df = len(lengths), df[present]
    idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    average = lengths.mean() if lengths.any() else 1.0  # else: no postings
    norm = K1 * ((1 - B) + B * lengths / average)
    return Scoring(_int32(np.cumsum(present) - 1), idf, norm)


def empty(
    df: np.ndarray, lengths: np.ndarray, make: Callable[[str, int, type], np.ndarray]
) -> Postings:
    """Postings with room for every posting of rows where vocabulary term t occurs in
    ``df[t]`` rows (terms that occur in none left out), their arrays made by ``make(name,
    size, dtype)`` (name: the field's): ``place`` fills them."""
    indptr = np.zeros(int(np.count_nonzero(df)) + 1, dtype=np.int64)
    np.cumsum(df[df > 0], out=indptr[1:])
    size = int(indptr[-1])
    return Postings(
        make("data", size, np.float32),
        make("indices", size, np.int32),
        indptr,
        make("tf", size, np.int32),
        lengths,
    )


def place(out: Postings, piece: Counts, how: Scoring, cursor: np.ndarray) -> None:
    """Score the counts of a piece of the rows (row ids as in ``out``) and write them into
    ``out`` at each term's next free slots (``cursor[t]``: term t's, moved on past them).
    Pieces must come in row order, none holding a row below one an earlier piece held: each
    term's rows then come out ascending, as bm25s lays them out. Scores are reckoned in
    float64 and stored in float32, as bm25s does; in place over one array a posting at a
    time (a piece may hold millions)."""
    terms = how.ids[piece.terms]
    tfc = piece.tf.astype(np.float64)
    denominator = how.norm[piece.rows]
    denominator += tfc
    np.divide(tfc, denominator, out=tfc)
    del denominator
    tfc *= how.idf[terms]
    scores = tfc.astype(np.float32)
    del tfc
    order = np.lexsort((piece.rows, terms))  # by term, then row
    terms = terms[order]
    firsts = np.searchsorted(terms, terms, side="left")  # where each posting's term starts
    slots = cursor[terms] + (np.arange(len(terms)) - firsts)
    del firsts
    out.data[slots] = scores[order]
    out.indices[slots] = piece.rows[order]
    out.tf[slots] = piece.tf[order]
    cursor += np.bincount(terms, minlength=len(cursor))


def postings(counts: Counts, df: np.ndarray) -> Postings:
    """The BM25 postings of counts, in memory, where vocabulary term t occurs in ``df[t]``
    rows (``np.bincount(counts.terms)`` over the vocabulary); terms that occur in no row are
    left out (``scoring(...).ids`` numbers the others)."""
    out = empty(df, counts.lengths, lambda _, size, dtype: np.empty(size, dtype=dtype))
    place(out, counts, scoring(df, counts.lengths), out.indptr[:-1].copy())
    return out
