"""qa.web.chat.Conversation: questions kept in the order sent, answered one at a time."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator

from qa.web.chat import Conversation, Turn


def echo(question: str, previous: str) -> tuple[str, bool]:
    return f"re {question} (after {previous or '-'})", not question.startswith("bad")


def test_questions_wait_in_order_and_each_answer_follows_its_question() -> None:
    chat = Conversation()
    assert chat.ask("  first  ") and chat.ask("second")
    assert chat.turns() == [Turn("first"), Turn("second")]
    assert chat.answer_next(echo)
    assert chat.turns() == [Turn("first", "re first (after -)"), Turn("second")]
    assert chat.answer_next(echo)
    assert chat.turns()[1] == Turn("second", "re second (after first)")
    assert not chat.answer_next(echo)  # nothing waits


def test_blank_questions_are_not_kept() -> None:
    chat = Conversation()
    assert not chat.ask("   ") and not chat.ask("")
    assert chat.turns() == []


def test_a_failed_question_is_not_leaned_on() -> None:
    chat = Conversation()
    for q in ("good one", "bad one", "next"):
        chat.ask(q)
        chat.answer_next(echo)
    assert chat.turns()[2].reply == "re next (after good one)"
    assert chat.last_question == "next"


def test_concurrent_answers_take_turns_in_the_order_asked() -> None:
    """Two questions sent together: both kept, answered oldest first, never at once."""
    chat = Conversation()
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    def slow(question: str, previous: str) -> tuple[str, bool]:
        running.append(question)
        if len(running) > 1:
            overlaps.append(tuple(running))
        time.sleep(0.05)
        running.remove(question)
        return f"answer to {question}", True

    chat.ask("one")
    chat.ask("two")
    threads = [threading.Thread(target=chat.answer_next, args=(slow,)) for _ in range(2)]
    for t in threads:
        t.start()
    chat.ask("three")  # sent while the others are being answered
    for t in threads:
        t.join()
    assert overlaps == []
    assert [t.reply for t in chat.turns()] == ["answer to one", "answer to two", None]


def test_clear_drops_an_answer_still_being_worked_out() -> None:
    chat = Conversation()
    chat.ask("old question")
    started, release = threading.Event(), threading.Event()

    def blocked(question: str, previous: str) -> tuple[str, bool]:
        started.set()
        release.wait(5)
        return "late answer", True

    worker = threading.Thread(target=chat.answer_next, args=(blocked,))
    worker.start()
    assert started.wait(5)
    chat.clear()
    chat.ask("new question")
    release.set()
    worker.join()
    assert chat.turns() == [Turn("new question")]
    assert chat.last_question == ""


def test_a_copy_has_its_own_turns_and_locks() -> None:
    """Gradio deep-copies a session's initial state: the copy must work on its own."""
    chat = Conversation()
    chat.ask("q")
    twin = copy.deepcopy(chat)
    twin.ask("only in the copy")
    assert [t.question for t in chat.turns()] == ["q"]
    assert [t.question for t in twin.turns()] == ["q", "only in the copy"]
    assert twin.answer_next(echo) and chat.turns()[0].reply is None


def streamed(question: str, previous: str) -> Iterator[str | tuple[str, bool]]:
    yield f"draft of {question}"
    yield echo(question, previous)


def test_one_caller_answers_every_waiting_question_the_others_leave_it() -> None:
    """answer_waiting: the caller at work answers every question, those asked meanwhile too,
    and ends (True) with all answered while it still holds the work; a caller that comes
    meanwhile yields nothing."""
    chat = Conversation()
    chat.ask("first")
    chat.ask("second")
    working = chat.answer_waiting(streamed)
    assert next(working) is False  # the first draft
    assert list(chat.answer_waiting(streamed)) == []  # another event: nothing to show
    chat.ask("third")  # asked while the first is being answered
    steps = [next(working) for _ in range(6)]
    assert steps == [False] * 5 + [True]  # every draft and reply, then done
    assert [t.reply for t in chat.turns()] == [
        "re first (after -)",
        "re second (after first)",
        "re third (after second)",
    ]
    chat.ask("fourth")  # asked after the last look, before the work is given up
    assert list(chat.answer_waiting(streamed)) == []  # the work is still held
    assert list(working) == [False, False, True]  # so it looks again and answers it
    assert chat.turns()[3].reply == "re fourth (after third)"
    assert list(chat.answer_waiting(streamed)) == [True]  # nothing waits: shows the chat


def test_a_caller_that_stops_listening_gives_the_work_up() -> None:
    chat = Conversation()
    chat.ask("first")
    working = chat.answer_waiting(streamed)
    next(working)
    working.close()  # the page went away mid-answer
    chat.ask("second")
    assert list(chat.answer_waiting(streamed))[-1] is True
    assert chat.turns()[1].reply == "re second (after -)"


def test_each_question_keeps_the_passages_its_asker_chose() -> None:
    """One event answers every waiting question: each is answered with its own setting,
    which the answerer reads from the turn being answered."""
    chat = Conversation()
    chat.ask("first", passages=3)
    chat.ask("second", passages=7)
    chat.ask("third")
    seen: list[object] = []

    def answerer(question: str, previous: str) -> Iterator[str | tuple[str, bool]]:
        turn = chat.answering()
        assert turn is not None and turn.question == question
        seen.append(turn.passages)
        yield echo(question, previous)

    assert list(chat.answer_waiting(answerer))[-1] is True
    assert seen == [3, 7, None] and chat.answering() is None


def test_questions_that_reach_the_server_out_of_order_wait_in_the_order_sent() -> None:
    chat = Conversation()
    chat.ask("first", order=1)
    chat.ask("fourth", order=4)
    chat.ask("second", order=2)  # sent before "fourth", arrived after it
    chat.ask("typed by a script")  # no number: last
    chat.ask("third", order=3)
    assert [t.question for t in chat.turns()] == [
        "first", "second", "fourth", "typed by a script", "third"
    ]  # fmt: skip
    # an answered question, or one being answered, stays where it is
    chat = Conversation()
    chat.ask("later", order=5)
    chat.answer_next(lambda q, previous: (q.upper(), True))
    chat.ask("earlier", order=4)
    assert [t.question for t in chat.turns()] == ["later", "earlier"]


def test_the_taken_question_carries_its_number_or_is_plain_text() -> None:
    from qa.web.ui import taken_question

    assert taken_question('[3, "why did Cavendish un-retire?"]') == (
        "why did Cavendish un-retire?", 3
    )  # fmt: skip
    assert taken_question("why?") == ("why?", None)
    assert taken_question("[not json") == ("[not json", None)
    assert taken_question('["a", "b"]') == ('["a", "b"]', None)


def test_each_session_has_one_conversation_made_once_even_when_asked_at_once() -> None:
    from qa.web.chat import Conversations

    sessions = Conversations(capacity=3)
    barrier, got = threading.Barrier(8), []

    def first_use() -> None:
        barrier.wait()  # a new session's events, all at once
        got.append(sessions.get("new"))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in got}) == 1  # nobody's question lands in a copy that is lost
    for name in ("a", "b", "new", "c"):  # "new" used again: "a" is the least recent
        sessions.get(name)
    assert len(sessions) == 3 and sessions.get("new") is got[0]
    sessions.drop("new")
    assert sessions.get("new") is not got[0]
