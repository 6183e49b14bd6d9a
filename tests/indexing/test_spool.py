"""Texts spooled to disk (qa.indexing.spool): read back as they were written, in any order, from any
process."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qa.indexing.spool import Spool, Spooled

texts_st = st.lists(st.text(), max_size=30)


def _spooled(folder: Path, texts: list[str]) -> Spooled:
    spool = Spool(folder / "t.txt")
    spool.add(texts[: len(texts) // 2])
    spool.add(texts[len(texts) // 2 :])
    assert len(spool) == len(texts)
    return spool.close()


@given(texts_st, st.data())
def test_spooled_reads_back_what_was_added(texts: list[str], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        got = _spooled(Path(folder), texts)
        assert len(got) == len(texts)
        assert list(got) == texts
        assert [got[i] for i in range(len(texts))] == texts
        a = data.draw(st.integers(-40, 40))
        b = data.draw(st.integers(-40, 40))
        assert got[a:b] == texts[a:b]


@given(texts_st, st.data())
def test_take_picks_rows_in_the_order_given(texts: list[str], data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.integers(0, max(len(texts) - 1, 0)), max_size=40))
    rows = rows if texts else []
    with tempfile.TemporaryDirectory() as folder:
        got = _spooled(Path(folder), texts).take(np.asarray(rows, dtype=np.int64))
        assert list(got) == [texts[r] for r in rows]


def test_spooled_pickles_as_its_path_and_offsets(tmp_path: Path) -> None:
    texts = ["Cavendish", "", "Astana — «2024»", "stage 5"]
    got = _spooled(tmp_path, texts)
    assert got[2] == texts[2]  # its file is open now; the copy opens its own
    copy = pickle.loads(pickle.dumps(got))
    assert list(copy) == texts
    assert len(pickle.dumps(got)) < 1000
