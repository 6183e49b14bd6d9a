"""One browser session's conversation, kept on the server (pure: no Gradio, no HTML).

Questions join the conversation the moment they are sent, in that order, and are answered one
at a time, oldest first. So two questions sent in quick succession are both kept, each answer
lands right after its own question whichever finishes first on the server, and a follow-up
leans on the question asked just before it. The page shows a snapshot of the turns after every
change; the snapshot is always the whole conversation, never a stale copy of part of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

# (question, previous question or "") -> (reply, whether it was answered without an error)
Answerer = Callable[[str, str], tuple[str, bool]]


@dataclass(frozen=True)
class Turn:
    question: str  # as sent, stripped
    reply: str | None = None  # None while the answer is being worked out


class Conversation:
    """The turns of one chat, and the question the next follow-up may lean on."""

    def __init__(self) -> None:
        self._turns: list[Turn] = []
        self._last_question = ""
        self._generation = 0  # bumped by clear(): answers to older questions are dropped
        self._lock = threading.Lock()  # guards the fields above
        self._answering = threading.Lock()  # one answer at a time, in the order asked

    def __deepcopy__(self, memo: dict[int, Any]) -> Conversation:
        """A copy with its own locks (Gradio deep-copies a session's initial state)."""
        copy = Conversation()
        with self._lock:
            copy._turns = list(self._turns)
            copy._last_question = self._last_question
        return copy

    @property
    def last_question(self) -> str:
        """The latest question answered without an error, as typed (never its expansion)."""
        with self._lock:
            return self._last_question

    def turns(self) -> list[Turn]:
        with self._lock:
            return list(self._turns)

    def ask(self, question: str) -> bool:
        """Queue ``question`` (shown at once, answered in turn); False when it is blank."""
        q = question.strip()
        if not q:
            return False
        with self._lock:
            self._turns.append(Turn(q))
        return True

    def answer_next(self, answerer: Answerer) -> bool:
        """Answer the oldest unanswered question with ``answerer``; False when none waits or
        the conversation was cleared meanwhile. Concurrent calls take turns."""
        with self._answering:
            with self._lock:
                waiting = [i for i, t in enumerate(self._turns) if t.reply is None]
                if not waiting:
                    return False
                index, generation = waiting[0], self._generation
                turn, previous = self._turns[index], self._last_question
            reply, ok = answerer(turn.question, previous)
            with self._lock:
                if generation != self._generation:
                    return False
                self._turns[index] = replace(turn, reply=reply)
                if ok:
                    self._last_question = turn.question
            return True

    def clear(self) -> None:
        """Start over: no turns, nothing to lean on; answers still being worked out are dropped."""
        with self._lock:
            self._turns = []
            self._last_question = ""
            self._generation += 1
