"""Arrays that a build fills on disk rather than in memory: the vectors of every chunk and
sentence, 7.5 GB at a million chunks, so that what a build holds in memory does not grow with
them (the kernel writes the pages out and may drop them).

They live in ``index/.build-vectors/`` while a build embeds and writes (one build at a time:
the build lock), which the next build empties if a killed one left it. Each array is a
``.npy`` file whose space is reserved before it is mapped: a full disk is then an
IndexWriteError, never a crash (SIGBUS) when a row is written into an unbacked page.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .store import write_error

FOLDER = ".build-vectors"
# Reserves a file's blocks (fails with ENOSPC when the disk cannot hold them); not everywhere.
RESERVE = getattr(os, "posix_fallocate", None)
_CANNOT_RESERVE = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS}


class Scratch:
    def __init__(self, folder: Path, index_dir: Path) -> None:
        self.folder = folder
        self.index_dir = index_dir

    def array(self, name: str, rows: int, dimension: int) -> np.ndarray:
        """A zeroed float32 (rows, dimension) array backed by the file ``name``.npy."""
        return self.reserved(self.folder / f"{name}.npy", (rows, dimension), np.float32)

    def reserved(self, path: Path, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """A zeroed array backed by the .npy file at path (in the scratch folder), its space
        reserved; in memory where there is nothing to hold or the file system cannot
        reserve space."""
        if math.prod(shape) == 0 or RESERVE is None:
            return np.zeros(shape, dtype=dtype)
        try:
            array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
            with path.open("r+b") as f:
                RESERVE(f.fileno(), 0, path.stat().st_size)
        except OSError as exc:
            if exc.errno in _CANNOT_RESERVE:  # this file system cannot: hold it in memory
                path.unlink(missing_ok=True)
                return np.zeros(shape, dtype=dtype)
            raise write_error(self.index_dir, exc) from exc
        return array


def link(source: Path, target: Path) -> None:
    """target as a link to source (a file a build wrote, or one of the previous generation:
    generations are never changed once written), or else a copy."""
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without links
        shutil.copyfile(source, target)


def npy_file(array: np.ndarray) -> Path | None:
    """The .npy file that ``array`` maps whole (a scratch array), or None."""
    if not isinstance(array, np.memmap) or array.filename is None:
        return None
    path = Path(array.filename)
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    try:
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in read_header:
                return None
            shape, fortran, dtype = read_header[version](f)
            offset = f.tell()
    except (OSError, ValueError):
        return None
    whole = (shape, fortran, dtype, offset) == (array.shape, False, array.dtype, array.offset)
    return path if whole and array.flags.c_contiguous else None


def save_array(path: Path, array: np.ndarray) -> None:
    """array as .npy at path: the file of a scratch array that maps it whole is linked there
    (its pages written out first), or left where it is if it is that file; any other array
    is saved."""
    source = npy_file(array)
    if source is None:
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        return
    assert isinstance(array, np.memmap)
    array.flush()
    if source.resolve() != path.resolve():
        link(source, path)


@contextlib.contextmanager
def scratch(index_dir: Path) -> Iterator[Scratch]:
    """The scratch folder of index_dir, emptied now and removed on leaving."""
    folder = index_dir / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise write_error(index_dir, exc) from exc
    try:
        yield Scratch(folder, index_dir)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
