"""Reading a generation's files (qa.indexing.index): vectors read row by row, documents by line."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

import qa.indexing.index
from qa.errors import IndexCorruptError
from qa.indexing.index import Blob, DocumentTable, RowFile, _save_vectors
from qa.indexing.manifest import Boilerplate, DocumentRecord, document_to_json


@pytest.fixture
def saved(tmp_path: Path) -> tuple[np.ndarray, RowFile]:
    array = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    np.save(tmp_path / "a.npy", array, allow_pickle=False)
    return array, RowFile(tmp_path / "a.npy")


def test_rows_come_back_as_numpy_indexing_gives_them(saved: tuple[np.ndarray, RowFile]) -> None:
    array, rows = saved
    assert rows.shape == array.shape and len(rows) == 40 and rows.nbytes == array.nbytes
    for wanted in ([7, 3, 4, 5, 39, 0, 4, 4], [], [12], np.array([[1, 2], [3, 9]])):
        np.testing.assert_array_equal(
            rows[wanted], array[np.asarray(wanted, dtype=np.int64).reshape(-1)]
        )
    np.testing.assert_array_equal(rows[5:9], array[5:9])
    np.testing.assert_array_equal(rows[38:100], array[38:])
    assert rows[9:5].shape == (0, 3)
    with pytest.raises(IndexError):
        rows[[40]]
    with pytest.raises(ValueError, match="step 1"):
        rows[::2]


def test_rows_are_read_into_a_given_array(
    saved: tuple[np.ndarray, RowFile], tmp_path: Path
) -> None:
    array, rows = saved
    target = np.lib.format.open_memmap(tmp_path / "b.npy", "w+", np.float32, (20, 3))
    rows.read_into(30, target[2:12])  # a memory-mapped slice, filled from the file
    np.testing.assert_array_equal(target[2:12], array[30:40])
    assert not target[:2].any() and not target[12:].any()
    with pytest.raises(IndexError):
        rows.read_into(35, target[:10])
    with pytest.raises(ValueError, match="rows of 3"):
        rows.read_into(0, np.empty((2, 4), np.float32))


def test_rows_are_copied_into_another_file_in_the_kernel(
    saved: tuple[np.ndarray, RowFile], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """copy_into writes rows into a file (a memory-mapped array sees them), or says it
    cannot, where the system has no such copy: the caller reads them instead."""
    array, rows = saved
    target = np.lib.format.open_memmap(tmp_path / "b.npy", "w+", np.float32, (20, 3))
    fd = os.open(tmp_path / "b.npy", os.O_WRONLY)
    try:
        assert rows.copy_into(30, 10, fd, target.offset + 2 * 12)
        np.testing.assert_array_equal(target[2:12], array[30:40])
        assert not target[:2].any() and not target[12:].any()
        with pytest.raises(IndexError):
            rows.copy_into(35, 10, fd, target.offset)

        def across_file_systems(*args: object) -> int:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

        monkeypatch.setattr(qa.indexing.index, "_copy_file_range", across_file_systems)
        assert not rows.copy_into(0, 1, fd, target.offset)
        monkeypatch.setattr(qa.indexing.index, "_copy_file_range", None)
        assert not rows.copy_into(0, 1, fd, target.offset)
    finally:
        os.close(fd)


def test_a_file_cut_short_is_an_error(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.ones((10, 4), np.float32), allow_pickle=False)
    rows = RowFile(tmp_path / "a.npy")
    with (tmp_path / "a.npy").open("r+b") as f:
        f.truncate((tmp_path / "a.npy").stat().st_size - 20)
    np.testing.assert_array_equal(rows[[0, 1]], np.ones((2, 4)))
    with pytest.raises(IndexCorruptError, match="ends early"):
        rows[[9]]


def test_documents_are_read_by_row_and_found_by_source() -> None:
    records = [
        DocumentRecord(name, "h", 1, 0, name.upper(), None, i, 1, i, 1, Boilerplate(False, 0, 1))
        for i, name in enumerate(["b.txt", "a.txt", "a.txt.md", "dir/ä.txt"])
    ]
    lines = [document_to_json(r).encode() + b"\n" for r in records]
    offsets = np.cumsum([0] + [len(line) for line in lines])
    table = DocumentTable(Blob(b"".join(lines)), offsets)
    assert len(table) == 4 and list(table) == records
    assert table.record(2) == records[2]
    for record in records:
        assert table.find(record.source) == record
    assert table.find("a") is None and table.find("c.txt") is None


def test_long_runs_are_read_in_pieces(
    saved: tuple[np.ndarray, RowFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    array, rows = saved
    monkeypatch.setattr(
        qa.indexing.index, "_READ_LIMIT", 100
    )  # bytes: a read returns at most ~2 GB
    np.testing.assert_array_equal(rows[0:40], array)
    np.testing.assert_array_equal(rows[[39, 0, 1, 2, 3, 20]], array[[39, 0, 1, 2, 3, 20]])


def test_vectors_a_build_mapped_whole_are_linked_others_saved(tmp_path: Path) -> None:
    """A scratch array that maps a .npy file whole becomes the generation's file by a link
    (no copy of its bytes); a slice of it, or an array in memory, is saved."""
    whole = np.lib.format.open_memmap(
        tmp_path / "scratch.npy", mode="w+", dtype=np.float32, shape=(10, 4)
    )
    whole[:] = np.arange(40, dtype=np.float32).reshape(10, 4)
    cases = {"linked": whole, "slice": whole[2:5], "memory": np.ones((3, 4), np.float32)}
    for name, array in cases.items():
        _save_vectors(tmp_path / f"{name}.npy", array)
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), array)
    assert (tmp_path / "linked.npy").stat().st_ino == (tmp_path / "scratch.npy").stat().st_ino
    assert (tmp_path / "slice.npy").stat().st_ino != (tmp_path / "scratch.npy").stat().st_ino
