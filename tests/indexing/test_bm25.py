"""BM25 postings (qa.indexing.bm25, built by qa.indexing.keyword): posting for posting what bm25s
indexes from
the same texts, and an update from kept term counts gives what a fresh build gives."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qa.indexing.keyword
import qa.indexing.scratch
from qa.errors import IndexWriteError
from qa.indexing import bm25
from qa.indexing.keyword import KeywordIndex, keyword_index_later, updated
from qa.indexing.scratch import scratch
from qa.ingest.pool import Workers

WORDS = ["Tandem", "riders", "rider", "the", "a", "of", "sprint", "stage", "x", "Çà", "2024"]
TEXT = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)


def _by_term(index: KeywordIndex) -> dict[str, tuple[list[int], list[float]]]:
    """Every term's postings: the rows holding it and its score in each."""
    out = {}
    for term, i in index._vocab.items():
        rows, scores = index._postings(i)
        out[term] = (rows.tolist(), scores.tolist())
    return out


def _bm25s_by_term(texts: list[str]) -> dict[str, tuple[list[int], list[float]]]:
    import bm25s
    import Stemmer

    tokens = bm25s.tokenize(
        texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False
    )
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    scores = retriever.scores
    out = {}
    for term, i in retriever.vocab_dict.items():
        if term:  # bm25s's empty term, for queries without terms: no postings
            a, b = scores["indptr"][i], scores["indptr"][i + 1]
            out[term] = (scores["indices"][a:b].tolist(), scores["data"][a:b].tolist())
    return out


def _same(got: dict[str, tuple[list[int], list[float]]], want: dict[str, tuple]) -> None:
    assert got.keys() == want.keys()
    for term, (rows, scores) in want.items():
        assert got[term][0] == rows, term
        np.testing.assert_allclose(got[term][1], scores, rtol=1e-6, err_msg=term)


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=20).filter(lambda ts: any(t.strip() for t in ts)))
def test_a_build_holds_bm25s_postings(texts: list[str]) -> None:
    index = KeywordIndex.build(texts)
    if any(w.lower() not in ("the", "a", "of", "x") for t in texts for w in t.split()):
        _same(_by_term(index), _bm25s_by_term(texts))  # bm25s fails on a vocabulary of none
    assert len(index) == len(texts)


def test_texts_without_terms_make_an_empty_index() -> None:
    index = KeywordIndex.build(["", "the of a", "x"])
    assert len(index) == 3 and not index.vocabulary
    assert index.top("the tandem", 5)[0].size == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(TEXT, min_size=1, max_size=15),
    st.lists(st.one_of(st.integers(0, 14), TEXT), max_size=20),
)
def test_an_update_gives_what_a_fresh_build_gives(old: list[str], rows: list[int | str]) -> None:
    """Each new row is an old row reused (perhaps twice) or a new text."""
    rows = [r % len(old) if isinstance(r, int) else r for r in rows]
    sources = np.array([r if isinstance(r, int) else -1 for r in rows], dtype=np.int64)
    texts = [old[r] if isinstance(r, int) else r for r in rows]
    before = KeywordIndex.build(old)
    new_texts = [r for r in rows if isinstance(r, str)]
    got = KeywordIndex(*updated(before._p, before._terms, sources, new_texts))
    fresh = KeywordIndex.build(texts)
    assert _by_term(got) == _by_term(fresh)
    assert _tf_by_term(got) == _tf_by_term(fresh)
    np.testing.assert_array_equal(got._p.lengths, fresh._p.lengths)


def _tf_by_term(index: KeywordIndex) -> dict[str, list[int]]:
    p = index._p
    return {t: p.tf[p.indptr[i] : p.indptr[i + 1]].tolist() for t, i in index._vocab.items()}


def test_an_update_reads_the_saved_counts_in_a_worker(tmp_path: Path) -> None:
    old = ["Tandem bikes carry two riders.", "Rain on the stage.", "A sprint stage win."]
    KeywordIndex.build(old).save(tmp_path / "keyword")
    assert KeywordIndex.load(tmp_path / "keyword")._terms == KeywordIndex.build(old)._terms
    sources = np.array([2, -1, 0, 0], dtype=np.int64)
    texts = [old[2], "Riders of the new stage.", old[0], old[0]]
    with Workers(2, min_items=1) as workers, scratch(tmp_path / "index") as disk:
        updated = keyword_index_later([texts[1]], sources, tmp_path / "keyword", workers, disk)()
    assert _by_term(updated) == _by_term(KeywordIndex.build(texts))


@given(st.lists(st.lists(st.integers(0, 9), max_size=8), max_size=12), st.integers(1, 5))
def test_counting_in_blocks_counts_the_same(token_ids: list[list[int]], block: int) -> None:
    whole = bm25.count(token_ids)
    blocks = range(0, len(token_ids), block)
    parts = bm25.stacked([bm25.count(token_ids[i : i + block]) for i in blocks])
    for name in ("rows", "terms", "tf", "lengths"):
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name), err_msg=name)
    assert whole.tf.sum() == whole.lengths.sum() == sum(map(len, token_ids))


def test_texts_tokenized_in_blocks_index_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"Rider {i} won stage {i % 7} of the Tour in the rain." for i in range(40)]
    whole = KeywordIndex.build(texts)
    monkeypatch.setattr(qa.indexing.keyword, "BLOCK", 3)
    assert _by_term(KeywordIndex.build(texts)) == _by_term(whole)


def _arrays(index: KeywordIndex) -> dict[str, list[Any]]:
    p = index._p
    names = ("data", "indices", "indptr", "tf", "lengths")
    return {name: np.asarray(getattr(p, name)).tolist() for name in names} | {
        "vocabulary": list(index._terms)
    }


@settings(max_examples=40, deadline=None)
@given(
    st.lists(TEXT, min_size=1, max_size=15),
    st.lists(st.one_of(st.integers(0, 14), TEXT), max_size=20),
    st.integers(1, 4),
    st.integers(1, 30),
)
def test_an_index_written_in_pieces_is_the_one_built_in_memory(
    old: list[str], rows: list[int | str], block: int, piece: int
) -> None:
    """A build writes the keyword index to disk BLOCK rows at a time and scores it PIECE
    postings at a time: the files hold what the in-memory build holds, for a full build and
    for an update."""
    rows = [r % len(old) if isinstance(r, int) else r for r in rows]
    sources = np.array([r if isinstance(r, int) else -1 for r in rows], dtype=np.int64)
    new_texts = [r for r in rows if isinstance(r, str)]
    before = KeywordIndex.build(old)
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(qa.indexing.keyword, "BLOCK", block),
        mock.patch.object(qa.indexing.keyword, "PIECE", piece),
        scratch(Path(tmp) / "index") as disk,
    ):
        full = KeywordIndex.load(qa.indexing.keyword._write((old, None, None, disk)))
        assert _arrays(full) == _arrays(before)
        full.save(Path(tmp) / "old")
        folder = qa.indexing.keyword._write((new_texts, sources, Path(tmp) / "old", disk))
        in_memory = KeywordIndex(*updated(before._p, before._terms, sources, new_texts))
        assert _arrays(KeywordIndex.load(folder)) == _arrays(in_memory)


def test_postings_are_scored_a_piece_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory holds one piece of the postings while they are scored: about PIECE postings,
    pieces ending where a block of rows ends."""
    texts = [f"Rider {i} won stage {i % 7} of the Tour {i % 3} in rain {i}." for i in range(300)]
    monkeypatch.setattr(qa.indexing.keyword, "BLOCK", 10)
    monkeypatch.setattr(qa.indexing.keyword, "PIECE", 100)
    sizes: list[int] = []
    place = bm25.place

    def counted(out: bm25.Postings, piece: bm25.Counts, how: bm25.Scoring, cursor: Any) -> None:
        sizes.append(len(piece.tf))
        place(out, piece, how, cursor)

    monkeypatch.setattr(bm25, "place", counted)
    with scratch(tmp_path / "index") as disk:
        written = KeywordIndex.load(qa.indexing.keyword._write((texts, None, None, disk)))
        assert not (disk.folder / "keyword" / "counts").exists()  # the spilled counts: gone
    assert len(sizes) > 10 and sum(sizes) == len(written._p.tf)
    assert max(sizes) < 100 + 10 * 8  # a piece, and at most one block of 10 texts beyond it
    assert _arrays(written) == _arrays(KeywordIndex.build(texts))


def test_bm25s_loads_the_files_qa_writes(tmp_path: Path) -> None:
    import bm25s

    texts = ["Tandem bikes carry two riders.", "Çà stage 2024 riders", "A sprint stage win."]
    index = KeywordIndex.build(texts)
    index.save(tmp_path / "keyword")
    loaded = bm25s.BM25.load(str(tmp_path / "keyword"))
    terms = list(index._terms)
    assert loaded.vocab_dict == {t: i for i, t in enumerate(terms)} | {"": len(terms)}
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(loaded.scores[name], getattr(index._p, name))
    assert loaded.scores["num_docs"] == 3


def test_a_full_disk_while_writing_the_keyword_index_is_a_write_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with scratch(tmp_path / "index") as disk:
        for target, name in ((qa.indexing.scratch, "RESERVE"), (qa.indexing.keyword._Spill, "add")):
            with monkeypatch.context() as patch:
                patch.setattr(target, name, full)
                with pytest.raises(IndexWriteError, match="No space left on device"):
                    qa.indexing.keyword._write((["two riders", "a tandem"], None, None, disk))


@st.composite
def _in_order(draw: st.DrawFn) -> tuple[list[str], list[int | str]]:
    """Old texts, and new rows that keep some old rows in their order (each once), with new
    texts between them."""
    old = draw(st.lists(TEXT, min_size=1, max_size=15))
    kept = sorted(draw(st.sets(st.integers(0, len(old) - 1))))
    rows: list[int | str] = []
    for row in kept:
        rows += [*draw(st.lists(TEXT, max_size=2)), row]
    return old, rows + draw(st.lists(TEXT, max_size=3))


@settings(max_examples=60, deadline=None)
@given(_in_order(), st.integers(1, 30))
def test_an_update_in_order_merges_and_gives_what_a_fresh_build_gives(
    drawn: tuple[list[str], list[int | str]], piece: int
) -> None:
    """An update whose rows keep the old rows' order merges the old postings with the new
    rows' (no counting again, no spill), a range of about PIECE postings of terms at a time,
    and writes what a fresh build of the same texts holds."""
    old, rows = drawn
    sources = np.array([r if isinstance(r, int) else -1 for r in rows], dtype=np.int64)
    new_texts = [r for r in rows if isinstance(r, str)]
    texts = [old[r] if isinstance(r, int) else r for r in rows]
    merges: list[int] = []
    merge_into = bm25.merge_into

    def counted(*args: Any) -> None:
        merges.append(1)
        merge_into(*args)

    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(qa.indexing.keyword, "PIECE", piece),
        mock.patch.object(bm25, "merge_into", counted),
        mock.patch.object(qa.indexing.keyword, "_Spill", side_effect=AssertionError("spilled")),
        scratch(Path(tmp) / "index") as disk,
    ):
        KeywordIndex.build(old).save(Path(tmp) / "old")
        folder = qa.indexing.keyword._write((new_texts, sources, Path(tmp) / "old", disk))
        got = KeywordIndex.load(folder)
        got.save(Path(tmp) / "generation")  # as a generation links the build's files
        assert merges == [1] and not (folder / "counts").exists()
        assert _arrays(got) == _arrays(KeywordIndex(*updated(*_old(old), sources, new_texts)))
        assert _by_term(got) == _by_term(KeywordIndex.build(texts))


def _old(texts: list[str]) -> tuple[bm25.Postings, list[str]]:
    index = KeywordIndex.build(texts)
    return index._p, list(index._terms)


def test_an_update_out_of_order_or_large_is_counted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows reordered, an old row taken twice, or more than MERGE_ROWS new rows: the update
    counts every row again (the spill path), and still writes the fresh build's postings."""
    old = ["Tandem bikes carry two riders.", "Rain on the stage.", "A sprint stage win."]
    KeywordIndex.build(old).save(tmp_path / "old")
    monkeypatch.setattr(qa.indexing.keyword, "MERGE_ROWS", 1)
    monkeypatch.setattr(bm25, "merge_into", mock.Mock(side_effect=AssertionError("merged")))
    cases = [([2, 0], []), ([0, 0], []), ([0, -1, -1], ["New rider.", "Another stage."])]
    for rows, new in cases:
        with scratch(tmp_path / "index") as disk:
            sources = np.array(rows, dtype=np.int64)
            folder = qa.indexing.keyword._write((new, sources, tmp_path / "old", disk))
            texts = [old[r] if r >= 0 else new.pop(0) for r in rows]
            assert _by_term(KeywordIndex.load(folder)) == _by_term(KeywordIndex.build(texts))


@given(st.lists(st.integers(0, 6), max_size=20), st.integers(0, 30), st.integers(1, 9))
def test_term_ranges_cover_every_term_once(df: list[int], extra: int, piece: int) -> None:
    indptr = np.concatenate(([0], np.cumsum(df))).astype(np.int64)
    terms = len(df) + extra
    ranges = bm25.term_ranges(indptr, terms, piece)
    assert ranges[0][0] == 0 and ranges[-1][1] == max(terms, len(df))
    assert all(a < b or (a == b == 0) for a, b in ranges)
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))
    for a, b in ranges[:-1]:  # a range of old terms holds about a piece: never two terms more
        assert indptr[b] - indptr[a] <= piece + 2 * max(df, default=0)
