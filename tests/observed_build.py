"""`qa build ARGS` that also prints every progress step of the build on stdout, one line each:
``@phase <read|embed|write> <done> <total>``. The kill tests read these lines to SIGKILL the
build at a chosen moment of a chosen phase. Run: ``python tests/observed_build.py build ...``.
"""

from __future__ import annotations

import sys
from typing import Any

import qa.api
from qa.cli import main

_build = qa.api.build_index


def observed(*args: Any, phases: Any = None, **kwargs: Any) -> Any:
    def report(phase: str, done: int, total: int) -> None:
        print(f"@phase {phase} {done} {total}", flush=True)
        if phases is not None:
            phases(phase, done, total)

    return _build(*args, phases=report, **kwargs)


qa.api.build_index = observed  # `qa build` imports it when it runs

if __name__ == "__main__":
    main(sys.argv[1:])
