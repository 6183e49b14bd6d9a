"""Arrays a build fills on disk (qa.indexing.scratch): zeroed, file-backed, cleaned up, and a full
disk is an IndexWriteError before any row is written."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

import qa.indexing.scratch
from qa import Settings, build_index
from qa.errors import IndexWriteError
from qa.indexing.scratch import FOLDER, save_array, scratch
from qa.indexing.store import current_generation


def test_arrays_live_in_the_folder_until_the_build_leaves_it(tmp_path: Path) -> None:
    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / "left-by-a-killed-build.npy").write_bytes(b"x")
    with scratch(tmp_path) as disk:
        assert not (tmp_path / FOLDER / "left-by-a-killed-build.npy").exists()
        array = disk.array("vectors", 1000, 8)
        assert array.shape == (1000, 8) and array.dtype == np.float32 and not array.any()
        array[7] = 1.5
        assert isinstance(array, np.memmap)
        path = tmp_path / FOLDER / "vectors.npy"
        assert os.stat(path).st_blocks * 512 >= 1000 * 8 * 4  # reserved, not sparse
        array.flush()
        assert np.load(path)[7].tolist() == [1.5] * 8
        assert disk.array("none", 0, 8).shape == (0, 8)
    assert not (tmp_path / FOLDER).exists()
    with pytest.raises(RuntimeError), scratch(tmp_path):
        raise RuntimeError("the build failed")
    assert not (tmp_path / FOLDER).exists()


def _disk_full(fd: int, offset: int, length: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_a_write_error_and_the_old_index_stays(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    first = build_index(corpus, index, settings=hash_settings)
    (corpus / "new.txt").write_text("A new article about tandem bikes and their riders.\n")
    monkeypatch.setattr(qa.indexing.scratch, "RESERVE", _disk_full)
    with pytest.raises(IndexWriteError, match="No space left on device"):
        build_index(corpus, index, settings=hash_settings)
    assert current_generation(index) == first.generation
    assert not (index / FOLDER).exists()
    monkeypatch.undo()
    assert build_index(corpus, index, settings=hash_settings).files == first.files + 1


def test_a_file_system_that_cannot_reserve_space_gets_arrays_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(qa.indexing.scratch, "RESERVE", unsupported)
    with scratch(tmp_path) as disk:
        array = disk.array("vectors", 10, 4)
        assert not isinstance(array, np.memmap) and array.shape == (10, 4) and not array.any()
        assert list((tmp_path / FOLDER).iterdir()) == []


def test_an_array_saved_where_it_already_lies_stays_as_it_is(tmp_path: Path) -> None:
    with scratch(tmp_path) as disk:
        path = disk.folder / "data.npy"
        array = disk.reserved(path, (6,), np.int32)
        array[:] = np.arange(6)
        inode = path.stat().st_ino
        save_array(path, array)  # flushed, nothing written anew
        assert path.stat().st_ino == inode and np.load(path).tolist() == list(range(6))
        save_array(tmp_path / "linked.npy", array)
        assert (tmp_path / "linked.npy").stat().st_ino == inode
        save_array(tmp_path / "saved.npy", array[1:3])
        assert np.load(tmp_path / "saved.npy").tolist() == [1, 2]
