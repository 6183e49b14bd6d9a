"""Run the chat app (`python app.py`) in a subprocess on a free loopback port, for the tests that
talk to it over HTTP; it always stops when the test is done."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The apps running now, and those stopped during the current test: a failing test's report
# carries the end of their logs (conftest.py).
RUNNING: list[App] = []
STOPPED: list[App] = []


@dataclass(frozen=True)
class App:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def peak_rss_kib(self) -> int:
        """The app's peak resident memory (VmHWM), in KiB; 0 where /proc is missing."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_up(app: App, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {app.proc.returncode}:\n{app.output()}")
        try:
            with urllib.request.urlopen(app.url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(
        f"the app did not answer at {app.url} within {timeout:.0f}s:\n{app.output()}"
    )


@contextlib.contextmanager
def running_app(
    index: Path,
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 120.0,
) -> Iterator[App]:
    """`python app.py --index INDEX --port PORT [args]` with the hashing embedder, run in
    ``workdir`` (its log goes to workdir/app.log); stopped on exit."""
    port = free_port()
    log = workdir / "app.log"
    full_env = {**os.environ, "QA_MODEL": "hash-384", "GRADIO_ANALYTICS_ENABLED": "False"}
    full_env.pop("QA_INDEX", None)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "app.py"),
                "--index",
                str(index),
                "--port",
                str(port),
                *args,
            ],
            cwd=workdir,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = App(f"http://127.0.0.1:{port}/", port, proc, log)
    RUNNING.append(app)
    try:
        _wait_until_up(app, timeout)
        yield app
    finally:
        RUNNING.remove(app)
        STOPPED.append(app)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def listening_addresses(port: int) -> set[str]:
    """The local addresses (IPv4 dotted, or IPv6 hex) listening on TCP ``port`` (Linux)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    found.add(address)
    return found
