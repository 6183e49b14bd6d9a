"""A scripted stand-in for an OpenAI-compatible chat server, on loopback, for the tests of
qa.answer.llm and qa.answer.generate: it streams a set reply, or fails in a set way."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("stream", "drip", "json", "error", "malformed", "slow", "hang_midway")


@dataclass
class Script:
    """What the server does with the next requests (the tests change it between calls)."""

    mode: str = "stream"
    reply: str = "He wants the record [1]."
    delay: float = 0.0  # seconds to wait before answering ("slow") or between pieces
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    hung_up: int = 0  # replies the client stopped reading before the end


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            script.requests.append(json.loads(body))
            script.headers.append(dict(self.headers))
            if script.mode == "error":
                self.send_error(500, "model exploded")
                return
            if script.mode == "slow":
                time.sleep(script.delay)
            if script.mode == "json":
                data = {"choices": [{"message": {"role": "assistant", "content": script.reply}}]}
                self._send(json.dumps(data).encode(), "application/json")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if script.mode == "malformed":
                self.wfile.write(b"data: {this is not json\n\n")
                return
            for i, piece in enumerate(_pieces(script.reply)):
                if script.mode == "hang_midway" and i == 2:
                    time.sleep(script.delay)
                if script.mode == "drip":  # a slow writer: each piece after a pause
                    time.sleep(script.delay)
                chunk = {"choices": [{"delta": {"content": piece}, "index": 0}]}
                try:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                except OSError:  # the client hung up (a stopped answer)
                    script.hung_up += 1
                    return
            self.wfile.write(b"data: [DONE]\n\n")

        def _send(self, data: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fake_llm_server(script: Script) -> Iterator[str]:
    """Serve the script on 127.0.0.1; yields the base URL (``http://127.0.0.1:PORT/v1``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
