"""One index build at a time in a background thread, with its progress to show (the web chat
runs an incremental build after documents are added). The live index keeps answering until
the new one is complete (qa.indexing.store swaps it in atomically).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..api import build_index
from ..config import Settings
from ..errors import QAError
from ..types import BuildReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildState:
    """Where the background build stands."""

    state: str = "idle"  # idle, running, done or failed
    phase: str = ""  # read, embed or write while running
    done: int = 0
    total: int = 0
    message: str = ""  # the error when failed
    report: BuildReport | None = None  # when done

    @property
    def running(self) -> bool:
        return self.state == "running"


class BackgroundBuild:
    """Runs ``build_index`` in a thread, one at a time, and keeps its progress."""

    def __init__(self) -> None:
        self._state = BuildState()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False  # build once more when this one ends
        self._echo: Callable[[str], None] | None = None
        self._shown = ("", -1)  # the phase and tenth last echoed

    @property
    def state(self) -> BuildState:
        with self._lock:
            return self._state

    def start(
        self,
        corpus_dir: str | os.PathLike[str],
        index_dir: str | os.PathLike[str],
        settings: Settings,
        echo: Callable[[str], None] | None = None,
    ) -> bool:
        """Start a build. When one is running, another runs right after it (files added
        while it reads the folder may be missed by it); returns False then. ``echo`` gets a
        line at every tenth of each phase and one at the end (for a terminal)."""
        with self._lock:
            self._echo, self._shown = echo, ("", -1)
            if self._state.running:
                self._again = True
                return False
            self._state = BuildState("running", "read")
            self._thread = threading.Thread(
                target=self._run, args=(corpus_dir, index_dir, settings), daemon=True
            )
            self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> BuildState:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state

    def _progress(self, phase: str, done: int, total: int) -> None:
        with self._lock:
            self._state = replace(self._state, phase=phase, done=done, total=total)
            tenth = done * 10 // total if total else 10
            last_phase, last_tenth = self._shown
            if self._echo is not None and (phase != last_phase or tenth > last_tenth):
                self._shown = (phase, tenth)
                self._echo(f"  {phase} {done}/{total}")

    def _run(
        self,
        corpus_dir: str | os.PathLike[str],
        index_dir: str | os.PathLike[str],
        settings: Settings,
    ) -> None:
        phases = self._progress
        while True:
            try:
                report = build_index(corpus_dir, index_dir, settings=settings, phases=phases)
                end = BuildState("done", report=report)
            except QAError as exc:
                end = BuildState("failed", message=str(exc))
            except Exception as exc:  # a background thread must report, never die silently
                log.exception("background build failed")
                end = BuildState("failed", message=f"the build failed ({type(exc).__name__})")
            with self._lock:
                if not self._again:
                    self._state = end
                    if self._echo is not None:
                        self._echo(_summary(end))
                    return
                self._again = False
                self._state = BuildState("running", "read")


def _summary(end: BuildState) -> str:
    if end.report is None:
        return f"The index could not be built: {end.message}"
    r = end.report
    return f"Indexed {r.files} articles ({r.chunks} passages) in {r.seconds:.1f}s."
