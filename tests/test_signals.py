"""qa.signals: SIGINT and SIGTERM raise in the main thread, or run a stop function; the
commands' own tests (tests/test_faults.py, tests/indexing/test_watch.py) send them for real."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from qa.signals import Terminated, stop_on_signals


@pytest.fixture(autouse=True)
def _handlers_restored() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_sigterm_raises_terminated_and_an_ignored_sigint_raises_again() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job inherits it
    stop_on_signals()
    with pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 1)  # let the handler run
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        signal.sigtimedwait([], 1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_with_a_stop_function_a_signal_runs_it_in_a_thread(sig: int) -> None:
    stopped = threading.Event()
    ran_in: list[str] = []

    def stop() -> None:
        ran_in.append(threading.current_thread().name)
        stopped.set()

    stop_on_signals(stop)
    os.kill(os.getpid(), sig)
    assert stopped.wait(5)
    assert ran_in == ["qa-stop"]
