"""Texts a build keeps on disk rather than in memory: written once, read back a few at a time.

A build of a large corpus makes several texts per article: its chunks, the chunks as they are
embedded (a title in front), and its sentences. Held as Python strings, with an object a row,
they were most of what a build's memory grew by with the corpus (7.35 MB a 1,000 chunks in
all; benchmarks/build_memory.py). A ``Spool`` appends them to a file as planning makes them;
``Spooled`` reads them back as a sequence of strings, from any process (it pickles as its path
and offsets), so the model and the keyword index are fed from the file a batch at a time.
"""

from __future__ import annotations

import mmap
import os
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np


class Spooled(Sequence[str]):
    """The texts at byte offsets ``starts[i]:stops[i]`` of a UTF-8 file, read when asked for."""

    def __init__(self, path: Path, starts: np.ndarray, stops: np.ndarray) -> None:
        self.path = path
        self.starts = np.asarray(starts, dtype=np.int64)
        self.stops = np.asarray(stops, dtype=np.int64)
        self._map: mmap.mmap | bytes | None = None  # mapped when first read

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path, "starts": self.starts, "stops": self.stops}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._map = None

    def __len__(self) -> int:
        return len(self.starts)

    def _read(self, start: int, stop: int) -> str:
        if self._map is None:
            with self.path.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        return self._map[start:stop].decode("utf-8")

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            spans = zip(self.starts[i].tolist(), self.stops[i].tolist(), strict=True)
            return [self._read(a, b) for a, b in spans]
        return self._read(int(self.starts[i]), int(self.stops[i]))

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), 1024):
            yield from self[start : start + 1024]

    def take(self, rows: np.ndarray | Sequence[int]) -> Spooled:
        """The texts of ``rows``, in that order (no text is read)."""
        rows = np.asarray(rows, dtype=np.int64)
        return Spooled(self.path, self.starts[rows], self.stops[rows])


def picked(texts: Sequence[str], rows: np.ndarray) -> Sequence[str]:
    """The texts of ``rows``, in that order: spooled ones read as they are asked for."""
    return texts.take(rows) if isinstance(texts, Spooled) else [texts[r] for r in rows.tolist()]


class Spool:
    """Appends texts to a new file (``path``), numbering them from 0."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("wb")
        self._stops = array("q")
        self._at = 0

    def __len__(self) -> int:
        return len(self._stops)

    def add(self, texts: Sequence[str]) -> None:
        for text in texts:
            self._at += self._file.write(text.encode("utf-8"))
            self._stops.append(self._at)

    def close(self) -> Spooled:
        """Every text added, readable (the file is closed for writing)."""
        self._file.close()
        stops = np.asarray(self._stops, dtype=np.int64)
        starts = np.concatenate(([0], stops))[:-1].astype(np.int64)
        return Spooled(self.path, starts, stops)
