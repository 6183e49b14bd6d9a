"""qa.signals: SIGINT and SIGTERM raise in the main thread, or run a stop function; the
commands' own tests (tests/test_faults.py, tests/indexing/test_watch.py) send them for real."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

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


def test_a_signal_while_the_server_starts_is_a_clean_stop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SIGTERM as Gradio starts: the server is closed before its start-up check, which then
    fails ("localhost is not accessible"); serve() returns, as a stop asked for."""
    from qa.web import ui

    closed = threading.Event()

    class App:
        is_running = True

        def close(self) -> None:
            self.is_running = False
            closed.set()

    def launch(app: App, *args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while it starts
        assert closed.wait(5)
        raise ValueError("When localhost is not accessible, a shareable link must be created.")

    monkeypatch.setattr(ui, "launch", launch)
    monkeypatch.setattr(ui, "warm_up", lambda *a, **k: None)
    ui.serve(tmp_path / "index", app=App())  # returns: no ValueError

    def failing(app: App, *args: object, **kwargs: object) -> None:
        raise ValueError("a real start-up error")

    monkeypatch.setattr(ui, "launch", failing)
    with pytest.raises(ValueError, match="a real start-up error"):
        ui.serve(tmp_path / "index", app=App())  # no signal: the error stands
