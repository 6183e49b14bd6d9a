"""qa.indexing.watch: keeping an index up to date while a process runs (hashing embedder)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa.indexing.build
from qa import Settings
from qa.errors import BuildInProgressError, CorpusError, QAError
from qa.indexing.build import RACY_NS
from qa.indexing.store import build_lock
from qa.indexing.watch import Listing, due, listing, watch
from qa.types import BuildReport

ROOT = Path(__file__).resolve().parents[2]
HOUR_AGO = time.time() - 3600


def _listing(*files: tuple[str, int, int], taken_ns: int | None = None) -> Listing:
    return Listing(frozenset(files), taken_ns or time.time_ns(), 0.0)


OLD = ("a.txt", 10, int(HOUR_AGO * 1e9))
OTHER = ("b.txt", 20, int(HOUR_AGO * 1e9))


def test_due_builds_first_then_only_settled_changes_that_held_for_a_look() -> None:
    now = _listing(OLD)
    assert due(None, None, now)  # nothing built yet: at once
    assert not due(now, now, _listing(OLD))  # as built
    changed = _listing(OLD, OTHER)
    assert not due(now, _listing(OLD), changed)  # changed since the previous look: wait
    assert not due(now, None, changed)
    assert due(now, _listing(OLD, OTHER), changed)  # the same for one look: build
    assert due(now, _listing(), _listing())  # every file gone, for one look
    fresh = ("b.txt", 20, time.time_ns())  # modified just now: its time cannot vouch for it
    assert not due(now, _listing(OLD, fresh), _listing(OLD, fresh))


def test_due_builds_again_after_a_build_that_met_unsettled_files() -> None:
    just_now = time.time_ns()
    built = _listing(("a.txt", 10, just_now), taken_ns=just_now)
    later = _listing(("a.txt", 10, just_now), taken_ns=just_now + RACY_NS + 1)
    assert not built.settled and later.settled
    assert due(built, later, later)
    assert not due(later, later, later)


def test_listing_is_what_a_build_reads_with_sizes_and_times(corpus: Path) -> None:
    (corpus / ".hidden.txt").write_text("not an article")
    (corpus / "notes.bin").write_bytes(b"\x00\x01")
    found = listing(corpus, Settings())
    names = sorted(name for name, _, _ in found.files)
    assert names == sorted(p.name for p in corpus.glob("0*.txt"))
    first = corpus / names[0]
    assert (names[0], first.stat().st_size, first.stat().st_mtime_ns) in found.files
    with pytest.raises(CorpusError, match="does not exist"):
        listing(corpus / "gone", Settings())


class _Watcher:
    """watch() in a thread, its reports and errors in queues."""

    def __init__(self, corpus: Path, index: Path, settings: Settings) -> None:
        self.reports: queue.Queue[BuildReport] = queue.Queue()
        self.errors: queue.Queue[QAError] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=watch,
            args=(corpus, index),
            kwargs={
                "on_build": self.reports.put,
                "on_error": self.errors.put,
                "settings": settings,
                "interval": 0.05,
                "stop": self.stop,
            },
        )
        self.thread.start()

    def report(self) -> BuildReport:
        return self.reports.get(timeout=30)

    def error(self) -> QAError:
        return self.errors.get(timeout=30)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


@pytest.fixture
def settled_corpus(corpus: Path) -> Path:
    for path in corpus.iterdir():
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    return corpus


@pytest.fixture
def watcher(settled_corpus: Path, tmp_path: Path, hash_settings: Settings) -> Iterator[_Watcher]:
    w = _Watcher(settled_corpus, tmp_path / "index", hash_settings)
    yield w
    w.close()


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (HOUR_AGO, HOUR_AGO + 1))  # settled: built at the next look


def test_watch_builds_at_once_then_each_change(
    watcher: _Watcher, settled_corpus: Path, tmp_path: Path
) -> None:
    first = watcher.report()
    assert first.wrote and first.files == 5 and first.embedded == first.chunks
    _write(settled_corpus / "new.txt", "Cavendish rode one more Tour de France in 2024.")
    added = watcher.report()
    assert (added.files, added.new_files, added.embedded) == (6, 1, 1)
    _write(settled_corpus / "new.txt", "Cavendish won a stage in Saint-Vulbas in 2024.")
    changed = watcher.report()
    assert (changed.changed_files, changed.embedded) == (1, 1)
    (settled_corpus / "new.txt").unlink()
    removed = watcher.report()
    assert (removed.files, removed.removed) == (5, 1)
    time.sleep(0.3)  # several looks at an unchanged corpus build nothing
    assert watcher.reports.empty() and watcher.errors.empty()
    assert removed.generation == (tmp_path / "index" / "CURRENT").read_text().strip()


def test_watch_reports_an_error_once_and_goes_on(
    watcher: _Watcher, settled_corpus: Path, tmp_path: Path
) -> None:
    watcher.report()
    moved = tmp_path / "away"
    settled_corpus.rename(moved)
    assert "does not exist" in str(watcher.error())
    time.sleep(0.3)  # the same error, look after look, is said once
    assert watcher.errors.empty()
    moved.rename(settled_corpus)
    _write(settled_corpus / "new.txt", "Cavendish rode one more Tour de France in 2024.")
    assert watcher.report().new_files == 1


def test_watch_tries_again_while_another_build_holds_the_index(
    settled_corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    with build_lock(index):
        w = _Watcher(settled_corpus, index, hash_settings)
        try:
            assert isinstance(w.error(), BuildInProgressError)
        finally:
            time.sleep(0.2)
    try:
        assert w.report().files == 5  # built once the lock was let go
        assert w.errors.empty()
    finally:
        w.close()


def test_watch_refuses_a_missing_corpus_at_once(tmp_path: Path, hash_settings: Settings) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        watch(
            tmp_path / "nothing",
            tmp_path / "index",
            on_build=lambda r: None,
            on_error=lambda e: None,
            settings=hash_settings,
        )


class _Command:
    """`qa build --watch` as a subprocess (hashing embedder), its output read as it comes."""

    def __init__(self, corpus: Path, tmp_path: Path) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "QA_MODEL": "hash-384", "PYTHONPATH": path}
        args = ["build", "--watch", "--interval", "0.1", "--corpus", str(corpus)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa", *args, "--index", str(tmp_path / "index")],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # as a background job of a non-interactive shell starts it: SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        out = self.proc.stdout or ()
        threading.Thread(target=lambda: [self.lines.put(x) for x in out], daemon=True).start()

    def until(self, text: str) -> list[str]:
        """The lines printed up to the first holding text."""
        seen = []
        while not seen or text not in seen[-1]:
            seen.append(self.lines.get(timeout=60))
        return seen

    def interrupt(self, sig: int = signal.SIGINT) -> None:
        self.proc.send_signal(sig)
        assert self.proc.wait(timeout=60) == 0
        assert "Stopped watching." in self.until("Stopped watching.")[-1]


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_qa_build_watch_prints_each_build_until_interrupted(
    settled_corpus: Path, tmp_path: Path, sig: int
) -> None:
    command = _Command(settled_corpus, tmp_path)
    until, proc = command.until, command.proc
    try:
        first = until("Watching")
        assert any("Indexed 5 files" in line for line in first)
        assert sum("boilerplate" in line for line in first) >= 1
        _write(settled_corpus / "new.txt", "Cavendish rode one more Tour de France in 2024.")
        second = until("Indexed 6 files")
        assert "incremental" in second[-1] and "1 embedded" in second[-1]
        assert not any("warning:" in line for line in second)  # said once, not again
        command.interrupt(sig)
    finally:
        proc.kill()
        shutil.rmtree(tmp_path / "index", ignore_errors=True)


@pytest.mark.integration
def test_qa_build_watch_on_an_empty_corpus_says_so_and_waits_for_articles(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "empty"
    corpus.mkdir()
    command = _Command(corpus, tmp_path)
    try:
        assert any("Error: no readable" in line for line in command.until("Watching"))
        _write(corpus / "new.txt", "Cavendish rode one more Tour de France in 2024.")
        assert "Indexed 1 files" in command.until("Indexed")[-1]
        command.interrupt()
    finally:
        command.proc.kill()


def test_watch_with_its_index_inside_the_corpus_builds_once(
    settled_corpus: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index's own files are not articles: its builds do not look like changes."""
    monkeypatch.setattr(qa.indexing.build, "RACY_NS", 0)  # a file written now is settled at once
    _write(settled_corpus / "page.html", "<html><body><article><p>The harbour bridge reopens "
           "on Monday after two years of repairs.</p></article></body></html>")  # fmt: skip
    w = _Watcher(settled_corpus, settled_corpus / "index", hash_settings)
    try:
        assert w.report().files == 6
        time.sleep(0.5)  # several looks
        assert w.reports.empty() and w.errors.empty()
    finally:
        w.close()


def test_full_is_asked_of_the_first_build_that_succeeds_only() -> None:
    """`--watch --full`: a first build that fails is tried in full again; once one succeeds,
    the later builds are incremental."""
    from qa.indexing.watch import _watching

    looks = iter([_listing(OLD), _listing(OLD, OTHER), _listing(OLD, OTHER), _listing(OTHER),
                  _listing(OTHER)])  # fmt: skip
    stop = threading.Event()
    asked: list[bool] = []

    def look() -> Listing:
        try:
            return next(looks)
        except StopIteration:
            stop.set()
            return _listing(OTHER)

    def build(full: bool) -> BuildReport:
        asked.append(full)
        if len(asked) == 1:
            raise CorpusError("the disk is full")
        return BuildReport(files=1, chunks=1, embedded=0, reused=1, removed=0)

    errors: list[QAError] = []
    _watching(build, look, lambda r: None, errors.append, 0.0, stop, True)
    assert asked == [True, True, False] and len(errors) == 1
