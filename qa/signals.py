"""SIGINT and SIGTERM stop a command cleanly, however it was started.

A process started as a background job of a non-interactive shell inherits SIGINT as ignored,
and Python then installs no Ctrl-C handler: such a ``qa build --watch`` could not be stopped
by SIGINT. Service managers stop a process with SIGTERM, whose default kills it on the spot,
past every cleanup. ``stop_on_signals`` makes both raise in the main thread, so that either
takes the path a Ctrl-C takes: a build clears its scratch and leaves the live index as it was,
a watcher says "Stopped watching.", the web server closes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where a Ctrl-C would be."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def stop_on_signals(stop: Callable[[], None] | None = None) -> None:
    """Install the handlers (from the main thread; elsewhere signals cannot be handled).

    Without ``stop``, SIGINT raises ``KeyboardInterrupt`` and SIGTERM ``Terminated``. With it,
    either signal runs ``stop`` in a thread of its own instead: a server's main thread waits in
    a loop that ``stop`` ends, and an exception raised there could land in a finaliser that
    swallows it (seen: an event loop's ``__del__``), leaving the server running."""
    if threading.current_thread() is not threading.main_thread():
        return
    if stop is None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _terminate)
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=stop, name="qa-stop", daemon=True).start()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
