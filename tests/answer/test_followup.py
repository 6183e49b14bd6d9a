"""Follow-up questions carry the previous question's key terms (pure string rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.answer.followup import expand_followup, followup_turn, is_followup, key_terms

PREVIOUS = "why did Cavendish un-retire?"


@pytest.mark.parametrize(
    ("question", "previous", "expected"),
    [
        # the example of the brief: connector + pronoun, no subject of its own
        ("and who coaches him?", PREVIOUS, "and who coaches him? Cavendish un-retire"),
        # pronoun, no connector
        ("who coaches him?", PREVIOUS, "who coaches him? Cavendish un-retire"),
        (
            "Why did he retire?",
            "Who is Vasilis Anastopoulos?",
            "Why did he retire? Vasilis Anastopoulos",
        ),
        # short, no name, no pronoun: an ellipsis
        ("since when?", PREVIOUS, "since when? Cavendish un-retire"),
        ("which team?", PREVIOUS, "which team? Cavendish un-retire"),
        # "what about X": a new subject, the rest of the previous question carried
        ("what about Anastopoulos?", PREVIOUS, "what about Anastopoulos? Cavendish un-retire"),
        # terms already in the question are not repeated; possessives reduced
        ("and Cavendish's coach?", PREVIOUS, "and Cavendish's coach? un-retire"),
        # a chain: the previous text searched for was itself expanded
        (
            "since when?",
            "and who coaches him? Cavendish un-retire",
            "since when? coaches Cavendish un-retire",
        ),
        # a long question pointing back with a pronoun
        (
            "why did he decide to continue racing for another season after announcing it",
            "Who is Vasilis Anastopoulos?",
            "why did he decide to continue racing for another season after announcing it "
            "Vasilis Anastopoulos",
        ),
        # whitespace around the question is dropped
        ("  his age?  ", "How old is Mark Cavendish?", "his age? old Mark Cavendish"),
    ],
)
def test_followups_carry_previous_key_terms(question: str, previous: str, expected: str) -> None:
    assert expand_followup(question, previous) == expected


@pytest.mark.parametrize(
    "question",
    [
        "Who is Vasilis Anastopoulos?",
        "What injury ended Cavendish's 2023 Tour?",
        "How many Tour de France stage wins does Cavendish have?",
        "what happened in the final stage of the race this year after the crash",
        # another language: never merged with an English question (issue 30)
        "卡文迪什在2023年环法自行车赛中受了什么伤？",
        "¿Qué lesión sufrió Cavendish en el Tour de 2023?",
        "qué lesión sufrió",
        "Pourquoi n'a-t-il pas pris sa retraite ?",
        # short, but on a subject of its own, with nothing pointing back
        "capital of France?",
        "best sprinter ever",
    ],
)
def test_standalone_questions_are_unchanged(question: str) -> None:
    assert not is_followup(question)
    assert expand_followup(question, PREVIOUS) == question


@pytest.mark.parametrize("previous", [None, "", "   ", "why? how?", "and the?"])
def test_no_previous_key_terms_means_no_change(previous: str | None) -> None:
    assert expand_followup("  and who coaches him? ", previous) == "and who coaches him?"


def test_questions_without_words_are_left_for_the_library_to_reject() -> None:
    assert expand_followup("???", PREVIOUS) == "???"
    assert expand_followup("   ", PREVIOUS) == ""


def test_key_terms_keep_order_and_prefer_names_when_cut() -> None:
    assert key_terms("What did Mark Cavendish announce at the Giro d'Italia in 2023?") == [
        "Mark",
        "Cavendish",
        "announce",
        "Giro",
        "d'Italia",
        "2023",
    ]
    terms = key_terms("alpha beta gamma delta epsilon zeta Eta theta Iota kappa", limit=4)
    assert terms == ["alpha", "beta", "Eta", "Iota"]


@given(st.text(max_size=80), st.one_of(st.none(), st.text(max_size=80)))
def test_output_always_starts_with_the_stripped_question(
    question: str, previous: str | None
) -> None:
    out = expand_followup(question, previous)
    assert out.startswith(question.strip())
    if out != question.strip():
        # only words of the previous question are added
        assert previous is not None
        for term in out[len(question.strip()) :].split():
            assert term in previous


@given(st.text(max_size=80))
def test_first_question_is_only_stripped(question: str) -> None:
    assert expand_followup(question, None) == question.strip()


def test_followups_borrow_only_from_the_previous_typed_question() -> None:
    """A run of follow-ups never piles up terms: each borrows from the one typed before it."""
    typed = [PREVIOUS, "and who coaches him?", "and since when?", "and why?"]
    previous: str | None = None
    searched = []
    for question in typed:
        query, previous = followup_turn(question, previous)
        searched.append(query)
    assert searched == [
        PREVIOUS,
        "and who coaches him? Cavendish un-retire",
        "and since when? coaches",
        "and why?",  # "since when" has no key terms to lend
    ]
    assert previous == "and why?"
    # the second value is the question as typed, stripped: never its expansion
    assert followup_turn("  and who coaches him? ", PREVIOUS) == (
        "and who coaches him? Cavendish un-retire",
        "and who coaches him?",
    )
