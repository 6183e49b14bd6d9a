"""One browser session's conversation, kept on the server (pure: no Gradio, no HTML).

Questions join the conversation the moment they are sent, in that order, and are answered one
at a time, oldest first. So two questions sent in quick succession are both kept, each answer
lands right after its own question whichever finishes first on the server, and a follow-up
leans on the question asked just before it. The page shows a snapshot of the turns after every
change; the snapshot is always the whole conversation, never a stale copy of part of it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

# (question, previous question or "") -> (reply, whether it was answered without an error)
Answerer = Callable[[str, str], tuple[str, bool]]
# The same for a reply written as it streams in: drafts of the reply, then (reply, ok) last.
StreamingAnswerer = Callable[[str, str], Iterator["str | tuple[str, bool]"]]


@dataclass(frozen=True)
class Turn:
    question: str  # as sent, stripped
    reply: str | None = None  # None while the answer is being worked out
    stopped: bool = False  # True when the reply was stopped before it was finished
    passages: Any = None  # how many passages the asker chose to see, when the page says
    order: int | None = None  # the page's count of questions sent, when it says


class Conversation:
    """The turns of one chat, and the question the next follow-up may lean on."""

    def __init__(self) -> None:
        self._turns: list[Turn] = []
        self._last_question = ""
        self._generation = 0  # bumped by clear(): answers to older questions are dropped
        self._writing: int | None = None  # the turn whose reply is being written
        self._lock = threading.Lock()  # guards the fields above
        self._answering = threading.Lock()  # one answer at a time, in the order asked
        self._responding = threading.Lock()  # held by the one caller of answer_waiting at work

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

    def ask(self, question: str, passages: Any = None, order: int | None = None) -> bool:
        """Queue ``question`` (shown at once, answered in turn), with the number of passages
        the asker chose to see; False when it is blank. ``order`` is the page's count of the
        questions it sent: two sent a moment apart may reach the server the other way round,
        and a question goes before those sent after it that still wait."""
        q = question.strip()
        if not q:
            return False
        with self._lock:
            at = len(self._turns)
            first = 0 if self._writing is None else self._writing + 1
            while order is not None and at > first:
                before = self._turns[at - 1]
                if before.reply is not None or before.order is None or before.order < order:
                    break
                at -= 1
            self._turns.insert(at, Turn(q, passages=passages, order=order))
        return True

    def answering(self) -> Turn | None:
        """The turn whose reply is being written (an answerer asks for its settings)."""
        with self._lock:
            writing = self._writing
            return self._turns[writing] if writing is not None else None

    def answer_next(self, answerer: Answerer) -> bool:
        """Answer the oldest unanswered question with ``answerer``; False when none waits or
        the conversation was cleared meanwhile. Concurrent calls take turns."""
        steps = self.stream_next(lambda q, previous: iter([answerer(q, previous)]))
        return any(steps)  # the one step is True once the reply is in

    def stream_next(self, answerer: StreamingAnswerer) -> Iterator[bool]:
        """Answer the oldest unanswered question, showing each draft of the reply as the
        turn's reply meanwhile; yields False after each draft, and True once the reply is in
        (by then the next question may already be answered). Yields nothing when no question
        waits or the conversation was cleared meanwhile. Closing the iterator early (a stop
        button) leaves the last draft as the reply, marked ``stopped``."""
        with self._answering:
            with self._lock:
                index, generation = self._first_waiting(), self._generation
                if index is None:
                    return
                turn, previous = self._turns[index], self._last_question
                self._writing = index
            finished = False
            try:
                for item in answerer(turn.question, previous):
                    finished = isinstance(item, tuple)
                    reply, ok = item if isinstance(item, tuple) else (item, False)
                    if not self._update(index, generation, replace(turn, reply=reply)):
                        return
                    if finished:
                        if ok:
                            with self._lock:
                                self._last_question = turn.question
                        break
                    yield False
            finally:
                with self._lock:
                    self._writing = None
                    if not finished and generation == self._generation:
                        current = self._turns[index]
                        self._turns[index] = replace(
                            current, reply=current.reply or "", stopped=True
                        )
        if finished:
            yield True

    def answer_waiting(self, answerer: StreamingAnswerer) -> Iterator[bool]:
        """Answer every waiting question in turn (as ``stream_next``), unless another caller
        is doing so: then yield nothing, for that caller answers them all, those asked
        meanwhile too. Yields after each draft and reply, and True once all are answered,
        still before giving the work up. A chat page shows the conversation at each step: with
        one caller at work, the last picture it is sent is the whole conversation, where
        several callers, each answering one question, could send an older picture last (seen
        as an answer that never came)."""
        while self._responding.acquire(blocking=False):
            try:
                answered = True
                while answered:  # until no question waits
                    answered = False
                    for _ in self.stream_next(answerer):
                        answered = True
                        yield False
                yield True
            finally:
                self._responding.release()
            with self._lock:  # asked after the last look, while the work was being given up?
                if self._first_waiting() is None:
                    return

    def _first_waiting(self) -> int | None:
        """The oldest turn without a reply (the caller holds ``_lock``)."""
        return next((i for i, t in enumerate(self._turns) if t.reply is None), None)

    def _update(self, index: int, generation: int, turn: Turn) -> bool:
        """Put ``turn`` in place; False when the conversation was cleared or the reply
        stopped since (``stop``)."""
        with self._lock:
            if generation != self._generation or self._turns[index].stopped:
                return False
            self._turns[index] = turn
            return True

    def stop(self) -> bool:
        """Stop the reply being written: it keeps what has arrived, marked ``stopped``, and
        the writer gives up at its next piece. False when no reply is being written."""
        with self._lock:
            writing = self._writing
            if writing is None or writing >= len(self._turns):
                return False
            self._turns[writing] = replace(self._turns[writing], stopped=True)
            return True

    def clear(self) -> None:
        """Start over: no turns, nothing to lean on; answers still being worked out are dropped."""
        with self._lock:
            self._turns = []
            self._last_question = ""
            self._generation += 1
            self._writing = None


class Conversations:
    """The conversations of a page's browser sessions, by session id, each made on first use
    under a lock. (Gradio makes a session's state without one: two events of a new session at
    once may each make the session afresh, and the question one of them added is lost, seen
    as the first of two questions sent 0.1 s apart vanishing.) The least recently used go
    past ``capacity``; a session that ends is dropped."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._by_session: OrderedDict[str, Conversation] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, session: str) -> Conversation:
        with self._lock:
            conversation = self._by_session.get(session)
            if conversation is None:
                conversation = self._by_session[session] = Conversation()
                while len(self._by_session) > self._capacity:
                    self._by_session.popitem(last=False)
            else:
                self._by_session.move_to_end(session)
            return conversation

    def drop(self, session: str) -> None:
        with self._lock:
            self._by_session.pop(session, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_session)
