"""Worker processes for large builds (qa.ingest.pool): results in order, the serial path below the
threshold, and a build whose reading, chunking and BM25 run in workers writes the index a
build in one process writes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

import qa.ingest.pool
from qa import Settings, build_index
from qa.indexing.index import load_index
from qa.ingest.pool import Workers


def test_map_keeps_the_items_order_in_workers_and_here() -> None:
    items = [f"item {'x' * (i * 37 % 11)}" for i in range(40)]
    with Workers(2, min_items=1) as workers:
        assert workers.parallel(len(items))
        assert list(workers.map(len, items)) == [len(i) for i in items]
        later = workers.later(sorted, items, size=len(items))
        assert later() == sorted(items)
    serial = Workers(2, min_items=41)
    assert not serial.parallel(len(items)) and not Workers(1, min_items=1).parallel(10**6)
    assert list(serial.map(len, items)) == [len(i) for i in items]
    assert serial._pool is None  # nothing was started


def note(job: tuple[str, int]) -> int:
    """Writes a line to the file ``job[0]`` (from whichever process runs it)."""
    with open(job[0], "a", encoding="utf-8") as f:
        f.write(f"{job[1]}\n")
    return job[1]


def test_map_runs_only_a_few_pieces_ahead_of_its_caller(tmp_path: Path) -> None:
    """Results the caller has not taken do not pile up: the workers stop a few pieces ahead."""
    log = str(tmp_path / "done.txt")
    items = [(log, i) for i in range(10_000)]
    with Workers(2, min_items=1) as workers:
        results = workers.map(note, items)
        assert next(results) == 0
        time.sleep(1.0)  # time for the workers to do all they were given
        done = len(Path(log).read_text().splitlines())
        piece = 64  # items a piece, for 10,000 items and 2 processes
        assert done <= (qa.ingest.pool.AHEAD * 2 + 1) * piece < len(items)
        assert list(results) == list(range(1, 10_000))


def test_later_in_this_process_waits_until_asked() -> None:
    calls: list[int] = []

    def record(n: int) -> int:
        calls.append(n)
        return n * 2

    later = Workers(1).later(record, 21, size=10**6)
    assert calls == []
    assert later() == 42 and calls == [21]


def _fails_to_start(*args: object, **kwargs: object) -> None:
    raise OSError("no process may be started here")


def test_workers_that_cannot_start_leave_the_work_to_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(qa.ingest.pool, "ProcessPoolExecutor", _fails_to_start)
    items = ["a", "bb", "ccc"]
    workers = Workers(4, min_items=1)
    assert list(workers.map(len, items)) == [1, 2, 3]
    assert workers.processes == 1  # given up: not tried again
    assert Workers(4, min_items=1).later(sorted, items, size=3)() == items


def die_in_a_worker(parent: int) -> int:
    """Ends the process it runs in, unless that is ``parent``."""
    if os.getpid() != parent:
        os._exit(3)
    return parent


def test_a_dead_worker_leaves_the_rest_to_this_process() -> None:
    with Workers(2, min_items=1) as workers:
        later = workers.later(die_in_a_worker, os.getpid(), size=10)
        assert later() == os.getpid()  # done again here
        assert workers.processes == 1
    with Workers(2, min_items=1) as workers:
        assert list(workers.map(die_in_a_worker, [os.getpid()] * 3)) == [os.getpid()] * 3
        assert workers.processes == 1


def test_few_cores_get_no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qa.ingest.pool.os, "cpu_count", lambda: 2)
    assert qa.ingest.pool.default_processes() == 1
    monkeypatch.setattr(qa.ingest.pool.os, "cpu_count", lambda: 16)
    assert qa.ingest.pool.default_processes() == 16


@pytest.mark.integration
def test_a_build_in_workers_writes_what_one_process_writes(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = build_index(corpus, tmp_path / "serial", settings=hash_settings)
    monkeypatch.setattr(qa.ingest.pool, "MIN_ITEMS", 1)
    parallel = build_index(corpus, tmp_path / "parallel", settings=hash_settings, processes=2)
    assert (parallel.files, parallel.chunks, parallel.skipped) == (
        serial.files,
        serial.chunks,
        serial.skipped,
    )
    a, b = load_index(tmp_path / "serial"), load_index(tmp_path / "parallel")
    assert [a.chunks.text(r) for r in range(len(a.chunks))] == [
        b.chunks.text(r) for r in range(len(b.chunks))
    ]
    np.testing.assert_array_equal(a.vectors[:], b.vectors[:])
    np.testing.assert_array_equal(a.sentence_spans, b.sentence_spans)
    for question in ("Cavendish retirement", "Astana team sprint", "collarbone"):
        rows_a, scores_a = a.keyword.top(question, 5)
        rows_b, scores_b = b.keyword.top(question, 5)
        np.testing.assert_array_equal(rows_a, rows_b)
        np.testing.assert_allclose(scores_a, scores_b)
