"""Keep an index up to date with its corpus folder while a process runs (``qa build
--watch``): build once, then again each time the folder's files change.

Why a process that stays: a build in a new process pays for starting Python, importing torch
and loading the model (on a GPU also starting CUDA and meeting the first batches' shapes)
before it embeds a text. A watcher pays that once; each later change costs its incremental
build only.

Changes are found by looking, not by file-system events: every ``interval`` seconds the
folder is listed as a build lists it (``qa.ingest.documents.scan``), with each file's size and
modification time. That works alike on every system, on network shares and in containers,
and needs no extra package. On a large corpus the looks are spaced out so that listing
takes at most a fifth of the time (20,000 files list in 0.25 s on 2 cores).

A change is built once the listing has stayed the same for one look, so that a file being
copied is not read half-written, and once no file was modified within qa.indexing.build.RACY_NS of
the
look: such a file may change again without its size or time showing it (the build would read
it again next time). So a change is built 2 to 4 seconds after it is made, at the default
interval. Only the first build may meet such files; the watcher then builds once more.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings, settings_or_env
from ..errors import BuildInProgressError, DocumentUnreadable, QAError
from ..ingest.documents import corpus_folder, scan
from ..ingest.pool import Workers
from ..types import BuildReport
from .build import PhaseFn, build_index, settled

LISTING_SHARE = 5  # the looks are at least this many times as far apart as a listing takes


@dataclass(frozen=True)
class Listing:
    """The corpus's article files as one look found them."""

    files: frozenset[tuple[str, int, int]]  # (source, bytes, modification time in ns)
    taken_ns: int  # when the look began
    seconds: float  # how long it took

    @property
    def settled(self) -> bool:
        """Whether every file's size and time vouch for its bytes (none was modified within
        RACY_NS of the look)."""
        return all(settled(mtime, self.taken_ns) for _, _, mtime in self.files)


def listing(
    corpus_dir: str | os.PathLike[str], settings: Settings, index_dir: Path | None = None
) -> Listing:
    """The article files under corpus_dir (not those of index_dir) with their sizes and
    modification times. Raises CorpusError when the folder is missing; a file that goes while
    it is listed is left out."""
    taken, t0 = time.time_ns(), time.perf_counter()
    found = scan(corpus_folder(Path(corpus_dir)), settings, index_dir)
    files = set()
    for source, path in found.files:
        try:
            st = found.stat(source, path)
        except DocumentUnreadable:
            continue
        files.add((source, st.bytes, st.mtime_ns))
    return Listing(frozenset(files), taken, time.perf_counter() - t0)


def due(built: Listing | None, previous: Listing | None, now: Listing) -> bool:
    """Whether to build now: never built yet; or the corpus differs from what the last build
    began with (or that look was not settled), has stayed the same since the previous look,
    and is settled (so that the build records every file as settled, and needs no second
    build to confirm it)."""
    if built is None:
        return True
    if now.files == built.files and built.settled:
        return False
    return previous is not None and now.files == previous.files and now.settled


def watch(
    corpus_dir: str | os.PathLike[str],
    index_dir: str | os.PathLike[str],
    *,
    on_build: Callable[[BuildReport], None],
    on_error: Callable[[QAError], None],
    settings: Settings | None = None,
    interval: float = 2.0,
    stop: threading.Event | None = None,
    full: bool = False,
    phases: PhaseFn | None = None,
    processes: int | None = 1,
) -> None:
    """Build the index of corpus_dir now (``full``: everything again), then again each time
    its files change, until ``stop`` is set. Each build's report goes to ``on_build``. An
    error goes to ``on_error`` once until something else happens (a missing corpus, a disk
    full: the previous index stays live), and the watcher goes on: a change builds again; a
    build that another process is running is tried again at the next look. Raises
    CorpusError at once when the corpus folder is missing from the start."""
    settings = settings_or_env(settings)
    corpus_folder(Path(corpus_dir))  # a corpus missing from the start is an error at once
    stop = stop or threading.Event()
    with Workers(processes) as workers:  # started once, kept between builds

        def build(full: bool) -> BuildReport:
            return build_index(
                corpus_dir, index_dir, full, settings=settings, phases=phases, workers=workers
            )

        def look() -> Listing:
            return listing(corpus_dir, settings, Path(index_dir))

        _watching(build, look, on_build, on_error, interval, stop, full)


def _watching(
    build: Callable[[bool], BuildReport],
    look: Callable[[], Listing],
    on_build: Callable[[BuildReport], None],
    on_error: Callable[[QAError], None],
    interval: float,
    stop: threading.Event,
    full: bool,
) -> None:
    """watch's loop: ``look`` at the corpus, ``build(full)`` when due, until stop is set."""
    built: Listing | None = None  # the listing the last build began with
    previous: Listing | None = None  # the previous look's
    said = ""  # the last error reported
    while not stop.is_set():
        try:
            now = look()
        except QAError as exc:
            said = _tell(exc, said, on_error)
            stop.wait(interval)
            continue
        if due(built, previous, now):
            try:
                report = build(full)
            except BuildInProgressError as exc:  # not built: tried again at the next look
                said = _tell(exc, said, on_error)
            except QAError as exc:
                built, said = now, _tell(exc, said, on_error)
            else:
                built, said, full = now, "", False  # --full: the first build only
                on_build(report)
        previous = now
        stop.wait(max(interval, LISTING_SHARE * now.seconds))


def _tell(exc: QAError, said: str, on_error: Callable[[QAError], None]) -> str:
    """Report exc unless it is the error said last; returns what was said last now."""
    if str(exc) != said:
        on_error(exc)
    return str(exc)
