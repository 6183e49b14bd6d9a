"""Build and query with the network switched off (slow: real model).

Two independent guards: an in-process socket guard that fails any connection attempt, and,
where the kernel allows it, a private network namespace without interfaces (`unshare -n`).
Caches point at empty folders, so nothing downloaded earlier can hide a download.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SEEDS = Path(__file__).resolve().parent.parent / "seeds"

SCRIPT = textwrap.dedent(
    """
    import socket, sys

    def refuse(*args, **kwargs):
        raise OSError("network access attempted: %r" % (args,))

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from qa import ask, build_index
    report = build_index(sys.argv[1], sys.argv[2])
    assert report.embedded == report.chunks > 0, report
    answer = ask("why did Cavendish un-retire?", index_dir=sys.argv[2])
    assert answer.passages and answer.citations, answer
    print("OFFLINE-OK", answer.citations[0].source)
    """
)


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "QA_", "TIKTOKEN"))}
    for key in ("HOME", "XDG_CACHE_HOME", "HF_HOME", "TIKTOKEN_CACHE_DIR", "TORCH_HOME"):
        path = tmp / key.lower()
        path.mkdir()
        env[key] = str(path)
    return env


def _build_and_ask_offline(tmp_path: Path, prefix: list[str]) -> None:
    result = subprocess.run(
        [*prefix, sys.executable, "-c", SCRIPT, str(SEEDS), str(tmp_path / "index")],
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OFFLINE-OK" in result.stdout


def test_build_and_ask_with_sockets_refused(tmp_path: Path) -> None:
    _build_and_ask_offline(tmp_path, [])


def test_build_and_ask_in_a_network_namespace(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if (
        unshare is None
        or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0
    ):
        pytest.skip("unshare -n is not permitted here; the socket-guard test still ran")
    _build_and_ask_offline(tmp_path, [unshare, "-rn"])
