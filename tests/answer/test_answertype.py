"""Tests of qa.answer.answertype: which kind of answer a question asks for, which kinds a sentence
holds, and the match between the two (pure string rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.answer.answertype import asked, held, type_match

# The bits of the masks, in the order the kinds are declared in qa.answer.answertype.
WHY, WHEN, COUNT, WHO, INJURY = 1, 2, 4, 8, 16


@pytest.mark.parametrize(
    ("question", "mask"),
    [
        ("Why did Cavendish stop racing?", WHY),
        ("and why did he un-retire?", WHY),
        ("What was the reason for his comeback?", WHY),
        ("What made him continue?", WHY),
        ("What led to the decision?", WHY),
        ("When did he sign with Astana?", WHEN),
        ("And when is the Tour?", WHEN),
        ("What year did he win the world title?", WHEN),
        ("How many stages has he won?", COUNT),
        ("How much is his salary?", COUNT),
        ("How old is Cavendish?", COUNT),
        ("What age did he turn pro?", COUNT),
        ("Who coaches him?", WHO),
        ("Which rider won the sprint?", WHO),
        ("What injury did he suffer?", INJURY),
        ("Was he hurt in the crash?", INJURY),
        ("When was he injured?", WHEN | INJURY),
        ("Who was injured?", WHO | INJURY),
        ("Where does the stage finish?", 0),
        ("What did he say about the team?", 0),
        ("Is the team happy?", 0),
        # the asking word must lead for why/when/who: here it is only a word of the question
        ("Did anyone ask him why?", 0),
        ("Whom did he thank?", 0),
    ],
)
def test_asked(question: str, mask: int) -> None:
    assert asked(question) == mask


@pytest.mark.parametrize(
    ("sentence", "mask"),
    [
        ("He came back because he wanted the record.", WHY),
        ("He stopped because of the crash.", WHY | INJURY),
        ("His aim is to win the green jersey.", WHY),
        ("He signed on Monday.", WHEN),
        ("The race starts in March.", WHEN),
        ("He signed in 2023.", WHEN | COUNT),  # a year is a number too
        ("He won four stages.", COUNT),
        ("He was first over the line.", COUNT),
        ("He is coached by Vasilis Anastopoulos at Astana.", WHO),
        ("He broke his collarbone.", INJURY),
        ("The doctors spoke of a concussion.", INJURY),
        ("The team rode well together.", 0),
        # a capitalised pair at the very start is the sentence's own capital, not a name
        ("Mark Cavendish rode well.", 0),
    ],
)
def test_held(sentence: str, mask: int) -> None:
    assert held(sentence) == mask


@pytest.mark.parametrize(
    ("question", "sentence", "match"),
    [
        ("Why did he stop?", "He stopped because of the crash.", True),
        ("Why did he stop?", "He stopped on Monday.", False),
        ("When did he sign?", "He signed in 2023.", True),
        ("How many stages did he win?", "He won four stages.", True),
        ("How many stages did he win?", "He won stages.", False),
        ("Who is the coach?", "He won 4 stages in 2021 because of the train.", False),
        ("Who is the coach?", "The coach is Vasilis Anastopoulos.", True),
        ("What injury did he have?", "He broke his collarbone.", True),
        # either of two kinds asked for matches
        ("When was he injured?", "He crashed on the descent.", True),
        ("When was he injured?", "It happened last year.", True),
        # no particular kind asked: nothing matches, whatever the sentence holds
        ("Tell me about the team", "He crashed because of rain on Monday in 2023.", False),
    ],
)
def test_type_match(question: str, sentence: str, match: bool) -> None:
    assert bool(asked(question) & held(sentence)) is match
    assert type_match(question, [sentence]).tolist() == [1.0 if match else 0.0]


def test_type_match_one_value_per_sentence_in_order() -> None:
    sentences = ["He won the race.", "He signed in 2023.", "It rained.", "It ended in May."]
    assert type_match("When did he sign?", sentences).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert type_match("When did he sign?", []).shape == (0,)


_TEXT = st.text(alphabet=st.sampled_from("abcWhy whenHow many0123 injured."), max_size=40)


@given(_TEXT, st.lists(_TEXT, max_size=5))
def test_type_match_agrees_with_the_masks(question: str, sentences: list[str]) -> None:
    assert 0 <= asked(question) < 32
    values = type_match(question, sentences).tolist()
    assert values == [1.0 if asked(question) & held(s) else 0.0 for s in sentences]
