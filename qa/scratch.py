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
        if rows == 0 or RESERVE is None:  # nothing to hold, or no way to reserve the space
            return np.zeros((rows, dimension), dtype=np.float32)
        path = self.folder / f"{name}.npy"
        try:
            array = np.lib.format.open_memmap(
                path, mode="w+", dtype=np.float32, shape=(rows, dimension)
            )
            with path.open("r+b") as f:
                RESERVE(f.fileno(), 0, path.stat().st_size)
        except OSError as exc:
            if exc.errno in _CANNOT_RESERVE:  # this file system cannot: hold it in memory
                path.unlink(missing_ok=True)
                return np.zeros((rows, dimension), dtype=np.float32)
            raise write_error(self.index_dir, exc) from exc
        return array


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
