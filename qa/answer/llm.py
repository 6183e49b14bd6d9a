"""A client for a local language-model server that speaks the OpenAI chat API (Ollama,
llama.cpp's ``llama-server``, vLLM, LM Studio): one streamed chat completion.

Only the standard library is used. The request goes to the configured base URL and nowhere
else; nothing is sent when no URL is configured. Every failure (the server cannot be reached,
is slower than the timeout, answers with an HTTP error, or streams something that is not the
chat-completion JSON) raises ``GeneratorError`` with a one-line reason.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from ..config import LLMConfig
from ..errors import GeneratorError


def _request(config: LLMConfig, messages: Sequence[dict[str, str]]) -> urllib.request.Request:
    body = {
        "model": config.model,
        "messages": list(messages),
        "stream": True,
        "temperature": 0.0,
        "max_tokens": config.max_tokens,
    }
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    return urllib.request.Request(
        config.endpoint, data=json.dumps(body).encode(), headers=headers, method="POST"
    )


def _delta(payload: str) -> str:
    """The text of one streamed chunk (``data: {...}``), or of a whole non-streamed reply."""
    try:
        data: Any = json.loads(payload)
        choice = data["choices"][0]
        part = choice.get("delta") or choice.get("message") or {}
        text = part.get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise GeneratorError(f"the language model sent malformed JSON ({exc!r:.80})") from exc
    if not isinstance(text, str):
        raise GeneratorError("the language model sent malformed JSON (content is not text)")
    return text


def stream_chat(config: LLMConfig, messages: Sequence[dict[str, str]]) -> Iterator[str]:
    """The reply's text as it arrives, piece by piece."""
    deadline = time.monotonic() + config.timeout
    try:
        with urllib.request.urlopen(_request(config, messages), timeout=config.timeout) as resp:
            streamed = "event-stream" in (resp.headers.get("Content-Type") or "")
            if not streamed:  # a server that ignores "stream": one JSON reply
                yield _delta(resp.read().decode("utf-8", errors="replace"))
                return
            for raw in resp:
                if time.monotonic() > deadline:
                    raise GeneratorError(
                        f"the language model took longer than {config.timeout:g} s"
                    )
                line = raw.decode("utf-8", errors="replace").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments, "event:" lines
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    return
                text = _delta(payload)
                if text:
                    yield text
    except urllib.error.HTTPError as exc:
        raise GeneratorError(
            f"the language model at {config.host} answered HTTP {exc.code} ({exc.reason})"
        ) from exc
    except http.client.HTTPException as exc:  # e.g. the server died in the middle of a reply
        raise GeneratorError(
            f"the language model at {config.host} broke off its reply ({type(exc).__name__})"
        ) from exc
    except TimeoutError as exc:
        raise GeneratorError(f"the language model took longer than {config.timeout:g} s") from exc
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise GeneratorError(
                f"the language model took longer than {config.timeout:g} s"
            ) from exc
        raise GeneratorError(
            f"cannot reach the language model at {config.host} ({reason})"
        ) from exc
