"""Worker processes for the per-file work of a large build: reading, cleaning, chunking.

That work is pure Python, about 1.3 ms a file, and one core does it at a time: on a machine
whose GPU embeds tens of thousands of texts a second it would take longer than embedding.
``Workers.map`` spreads it over processes once there are enough items to pay for starting
them, and maps in this process otherwise. Workers are spawned, never forked, so a process
that already holds a model, threads or a GPU context is never copied; as with any spawned
process, each imports the calling script's main module, which must guard its entry point
(``if __name__ == "__main__":``). So only callers that asked for them get workers (``qa build``
does). When the workers cannot start or one dies, the work is done in this process instead.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 256  # fewer are mapped in this process: starting workers costs more
AHEAD = 4  # pieces of work submitted ahead, per process
MIN_CORES = 4


def default_processes() -> int:
    """Worker processes for a build on this machine (1: none)."""
    cores = os.cpu_count() or 1
    return cores if cores >= MIN_CORES else 1


def _each(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    return [fn(item) for item in items]


class Workers:
    """Maps functions over items in up to ``processes`` worker processes, started on first
    use and kept until ``close``. Results come back in the items' order."""

    def __init__(self, processes: int | None = None, min_items: int | None = None) -> None:
        self.processes = default_processes() if processes is None else processes
        self.min_items = MIN_ITEMS if min_items is None else min_items
        self._pool: ProcessPoolExecutor | None = None

    def parallel(self, items: int) -> bool:
        """Whether mapping ``items`` items goes to worker processes."""
        return self.processes > 1 and items >= self.min_items

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """fn of each item, in order; fn must be a module-level function (it is pickled).
        Only a few pieces of work are ahead of the caller at a time (AHEAD a process): results
        the caller has not taken do not pile up in memory."""
        done = 0
        if self.parallel(len(items)):
            size = max(1, min(64, len(items) // (self.processes * 8)))
            starts = iter(range(0, len(items), size))
            ahead: deque[Future[list[R]]] = deque()
            try:
                pool = self._start()
                for start in itertools.islice(starts, AHEAD * self.processes):
                    ahead.append(pool.submit(_each, fn, items[start : start + size]))
                while ahead:
                    results = ahead.popleft().result()
                    following = next(starts, None)
                    if following is not None:
                        ahead.append(pool.submit(_each, fn, items[following : following + size]))
                    for result in results:
                        yield result
                        done += 1
            except (BrokenProcessPool, OSError):
                self._give_up()
            finally:
                for future in ahead:
                    future.cancel()
        yield from map(fn, items[done:])

    def later(self, fn: Callable[[T], R], item: T, size: int) -> Callable[[], R]:
        """fn(item), started now in a worker process when ``size`` (the item's count of
        pieces) is large enough, else computed by this process when asked for."""
        if not self.parallel(size):
            return lambda: fn(item)
        try:
            future = self._start().submit(fn, item)
        except (BrokenProcessPool, OSError):
            self._give_up()
            return lambda: fn(item)

        def result() -> R:
            try:
                return future.result()
            except (BrokenProcessPool, OSError):
                self._give_up()
                return fn(item)

        return result

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.processes, mp_context=get_context("spawn"))
        return self._pool

    def _give_up(self) -> None:
        """The workers could not start or one died: from now on, work in this process."""
        self.close()
        self.processes = 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
