"""Generative answers with enforced citations: the prompt, the check of the model's citations,
and the Answer that results (the network call itself is ``qa.answer.llm``).

The model sees the question and the top passages, numbered [1]..[k] with their titles and
dates, and is asked for a short answer citing a passage as [n] after each claim, or for
"The articles don't say." A reply is shown only when every [n] it holds names a passage it was
given and it holds at least one; otherwise, or when the server fails, the extractive answer is
shown with a one-line note that says why. Each cited passage's best sentence is highlighted,
as for a quoted answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from ..config import LLMConfig
from ..errors import GeneratorError
from ..types import Answer, Citation, Hit
from .llm import stream_chat

DECLINE = "The articles don't say."
SYSTEM_PROMPT = (
    "You answer questions about a collection of articles, using only the numbered passages "
    "the user gives you. Answer in one to three short sentences. After each claim, cite the "
    "passage it comes from as [n], for example [2]. Do not use outside knowledge. If the "
    f'passages do not answer the question, reply exactly: "{DECLINE}"'
)
MAX_PASSAGE_CHARS = 1_500  # a chunk is ~200 tokens; this only guards against a runaway one

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_DECLINED = re.compile(r"^\W*the articles (?:don['’]t|do not) say\b", re.I)

Chat = Callable[[LLMConfig, Sequence[dict[str, str]]], Iterator[str]]
# The best sentence of passage i (0-based) for the claim that cites it, as a Citation numbered n.
BestSentence = Callable[[int, int, str], Citation]


def passage_block(number: int, hit: Hit) -> str:
    date = f" ({hit.date})" if hit.date else ""
    text = " ".join(hit.text.split())[:MAX_PASSAGE_CHARS]
    return f"[{number}] {hit.title}{date}\n{text}"


def prompt(question: str, passages: Sequence[Hit]) -> list[dict[str, str]]:
    """The chat messages sent to the model."""
    blocks = "\n\n".join(passage_block(i, h) for i, h in enumerate(passages, start=1))
    user = f"Passages:\n\n{blocks}\n\nQuestion: {question}\nAnswer, citing passages as [n]:"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def cited(text: str) -> list[int]:
    """The passage numbers a reply cites, in order of first citation ([2], [1, 3])."""
    numbers = [int(n) for m in MARKER.finditer(text) for n in m.group(1).split(",")]
    return list(dict.fromkeys(numbers))


def declined(text: str) -> bool:
    return bool(_DECLINED.match(text))


def problem(text: str, passages: int) -> str | None:
    """Why a reply cannot be shown as an answer (None when it can)."""
    if not text.strip():
        return "the model's reply was empty"
    if declined(text):
        return None
    numbers = cited(text)
    if not numbers:
        return "the model's reply cited no passage"
    bad = [n for n in numbers if not 1 <= n <= passages]
    if bad:
        listed = ", ".join(f"[{n}]" for n in bad)
        return f"the model's reply cited {listed}, but only [1]-[{passages}] were given"
    return None


def claims(text: str) -> dict[int, str]:
    """For each cited passage, the text of the reply up to its first marker (the claim)."""
    out: dict[int, str] = {}
    last = 0
    for m in MARKER.finditer(text):
        for n in m.group(1).split(","):
            out.setdefault(int(n), text[last : m.start()].strip())
        last = m.end()
    return out


def fallback(extractive: Answer, reason: str) -> Answer:
    return replace(extractive, note=f"Quoted answer shown: {reason}.")


def result(extractive: Answer, text: str, model: str, best_sentence: BestSentence) -> Answer:
    """The Answer for the model's complete reply, or the extractive one with a note."""
    text = text.strip()
    why = problem(text, len(extractive.passages))
    if why is not None:
        return fallback(extractive, why)
    if declined(text):
        return replace(
            extractive,
            text="",
            status="not_found" if extractive.status == "not_found" else "passages",
            citations=extractive.citations[:1],
            generator=model,
            note=f"{model} found no answer in the passages.",
        )
    citations = tuple(best_sentence(n - 1, n, claim) for n, claim in claims(text).items())
    return replace(
        extractive,
        text=text,
        status="answered",
        citations=citations,
        generator=model,
        origin="generated",
        note="",
    )


def generate(
    extractive: Answer,
    config: LLMConfig,
    best_sentence: BestSentence,
    chat: Chat = stream_chat,
) -> Iterator[str | Answer]:
    """The reply's text as it streams in, then the final Answer (always last, exactly once)."""
    parts: list[str] = []
    try:
        for piece in chat(config, prompt(extractive.question, extractive.passages)):
            parts.append(piece)
            yield piece
    except GeneratorError as exc:
        yield fallback(extractive, str(exc))
        return
    yield result(extractive, "".join(parts), config.model, best_sentence)
