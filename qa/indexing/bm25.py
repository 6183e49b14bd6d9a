"""BM25 postings as pure numpy functions: what bm25s's ``BM25().index`` computes (its default
Lucene variant), made from term counts that the index keeps, so that an update scores every
chunk again without tokenizing the chunks it reuses.

A chunk's terms are its lower-cased words of two or more word characters, stopwords left out,
stemmed (qa.indexing.keyword tokenizes). Term ids are positions in a vocabulary list. The postings
are
laid out as bm25s lays them out (compressed sparse columns: per term, the rows holding it in
ascending order and its score in each), so that bm25s loads them. They can be made a piece of
the rows at a time (``scoring`` from every row's length and every term's row count, then
``place`` for each piece into arrays ``empty`` made, which may be files). An update whose
rows keep the old rows' order (most: a changed file's rows take its old rows' place) merges
instead, a range of terms at a time (``renumbered``, ``merge_into``): no counting or sorting of
the old postings (a 1% update of 79,723 chunks: 1.13-1.28 s -> 0.37-0.51 s).
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


# Makes an array of postings: (the Postings field's name, size, dtype) -> the array.
Make = Callable[[str, int, type], np.ndarray]


def empty(df: np.ndarray, lengths: np.ndarray, make: Make) -> Postings:
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


def _scores(tf: np.ndarray, rows: np.ndarray, ids: np.ndarray, how: Scoring) -> np.ndarray:
    """The float32 BM25 score of postings (term count, row, the term's id in the postings),
    reckoned in float64 as bm25s does; in place over one array (there may be millions)."""
    tfc = tf.astype(np.float64)
    denominator = how.norm[rows]
    denominator += tfc
    np.divide(tfc, denominator, out=tfc)
    del denominator
    tfc *= how.idf[ids]
    return tfc.astype(np.float32)


def place(out: Postings, piece: Counts, how: Scoring, cursor: np.ndarray) -> None:
    """Score the counts of a piece of the rows (row ids as in ``out``) and write them into
    ``out`` at each term's next free slots (``cursor[t]``: term t's, moved on past them).
    Pieces must come in row order, none holding a row below one an earlier piece held: each
    term's rows then come out ascending, as bm25s lays them out. Scores are reckoned in
    float64 and stored in float32, as bm25s does; in place over one array a posting at a
    time (a piece may hold millions)."""
    terms = how.ids[piece.terms]
    scores = _scores(piece.tf, piece.rows, terms, how)
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


# An update whose rows keep the previous rows' order (qa.indexing.keyword._merged): the old
# postings of
# a range of terms, their rows renumbered and those of dropped rows left out, merged with the
# postings of the new rows. Renumbering keeps each term's old rows ascending, so the old
# postings are neither counted again nor sorted: one stable sort merges two sorted runs.


def renumbered(sources: np.ndarray, old_rows: int) -> np.ndarray | None:
    """Each old row's new row (-1: dropped), where new row i is old row ``sources[i]`` (or a
    new one: -1), if the old rows kept keep their order, each once; else None."""
    kept = np.flatnonzero(sources >= 0)
    if np.any(np.diff(sources[kept]) <= 0):
        return None
    new_of = np.full(old_rows, -1, dtype=np.int64)
    new_of[sources[kept]] = kept
    return new_of


def term_ranges(indptr: np.ndarray, terms: int, piece: int) -> list[tuple[int, int]]:
    """Consecutive ranges of term ids, the first ``len(indptr) - 1`` holding about ``piece``
    postings each, the last running on to ``terms`` (terms only new rows hold)."""
    old_terms = len(indptr) - 1
    cuts = np.searchsorted(indptr, np.arange(piece, int(indptr[-1]), piece), side="right") - 1
    starts = sorted({0, *(int(c) for c in cuts if 0 < c < old_terms)})
    ends = [*starts[1:], max(terms, old_terms)]
    return list(zip(starts, ends, strict=True))


def _old_piece(old: Postings, new_of: np.ndarray, first: int, end: int) -> Counts:
    """The old postings of terms [first, end) that rows kept hold, rows renumbered, by term
    then row (``lengths`` left empty)."""
    stop = min(end, len(old.indptr) - 1)
    if first >= stop:
        empty = np.zeros(0, dtype=np.int32)
        return Counts(empty, empty, empty, np.zeros(0, dtype=np.int64))
    a, b = int(old.indptr[first]), int(old.indptr[stop])
    rows = new_of[np.asarray(old.indices[a:b])]
    terms = np.repeat(np.arange(first, stop, dtype=np.int32), np.diff(old.indptr[first : stop + 1]))
    keep = rows >= 0
    return Counts(
        _int32(rows[keep]), terms[keep], np.asarray(old.tf[a:b])[keep], np.zeros(0, np.int64)
    )


def kept_df(old: Postings, new_of: np.ndarray, ranges: Sequence[tuple[int, int]]) -> np.ndarray:
    """How many rows kept hold each old term (read a range of terms at a time)."""
    df = np.zeros(len(old.indptr) - 1, dtype=np.int64)
    for first, end in ranges:
        piece = _old_piece(old, new_of, first, end)
        counted = np.bincount(piece.terms - first)
        df[first : first + len(counted)] += counted
    return df


def merge_into(
    out: Postings,
    old: Postings,
    new_of: np.ndarray,
    new: Counts,
    ranges: Sequence[tuple[int, int]],
    how: Scoring,
) -> None:
    """Fill ``out`` (made by ``empty``) with the old postings rows kept hold, renumbered
    (``new_of``), and the ``new`` rows' postings (sorted by term, then row), a range of terms
    at a time, scored; each term's rows ascend, as bm25s lays them out."""
    at, width = 0, np.int64(len(out.lengths))  # rows are below it
    for first, end in ranges:
        kept = _old_piece(old, new_of, first, end)
        a, b = np.searchsorted(new.terms, [first, end])
        rows = np.concatenate((kept.rows, new.rows[a:b]))
        terms = np.concatenate((kept.terms, new.terms[a:b]))
        tf = np.concatenate((kept.tf, new.tf[a:b]))
        keys = terms.astype(np.int64) * width + rows
        order = np.argsort(keys, kind="stable")  # two sorted runs: merged in one pass
        rows, terms, tf = rows[order], terms[order], tf[order]
        slots = slice(at, at + len(rows))
        out.data[slots] = _scores(tf, rows, how.ids[terms], how)
        out.indices[slots] = rows
        out.tf[slots] = tf
        at += len(rows)
    assert at == len(out.tf), "every posting placed"
