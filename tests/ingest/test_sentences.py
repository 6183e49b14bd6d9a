"""Tests of qa.ingest.sentences.split_sentences: hand-computed splits and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.sentences import split_sentences
from qa.types import Span

BOM = "\ufeff"


def texts(text: str, start: int = 0, end: int | None = None) -> list[str]:
    return [s.of(text) for s in split_sentences(text, start, end)]


# --- hand-computed cases -------------------------------------------------------------------


def test_simple_two_sentences_exact_spans() -> None:
    text = "The cat sat. The dog ran."
    assert split_sentences(text) == [Span(0, 12), Span(13, 25)]


def test_title_abbreviation_does_not_end_sentence() -> None:
    text = "Dr. Smith arrived. He sat down."
    assert split_sentences(text) == [Span(0, 18), Span(19, 31)]
    assert texts(text) == ["Dr. Smith arrived.", "He sat down."]


@pytest.mark.parametrize("abbr", ["Mr.", "Mrs.", "Prof.", "St.", "Gen.", "Sept."])
def test_other_abbreviations(abbr: str) -> None:
    text = f"We saw {abbr} Jones there. It rained."
    assert texts(text) == [f"We saw {abbr} Jones there.", "It rained."]


def test_initial_does_not_end_sentence() -> None:
    text = "We met J. Smith today. He waved."
    assert split_sentences(text) == [Span(0, 22), Span(23, 32)]


def test_two_initials() -> None:
    assert texts("A talk by J. R. Tolkien began. It was long.") == [
        "A talk by J. R. Tolkien began.",
        "It was long.",
    ]


def test_us_abbreviation_is_not_a_boundary() -> None:
    text = "He moved to the U.S. Army base. It was cold."
    assert texts(text) == ["He moved to the U.S. Army base.", "It was cold."]


def test_lower_case_after_full_stop_is_not_a_boundary() -> None:
    assert texts("The price rose by approx. ten percent. Then fell.") == [
        "The price rose by approx. ten percent.",
        "Then fell.",
    ]
    assert texts("It was 3.5 km long. Next.") == ["It was 3.5 km long.", "Next."]


def test_quote_closing_a_sentence() -> None:
    text = 'He said "Hi." Then he left.'
    assert split_sentences(text) == [Span(0, 13), Span(14, 27)]
    assert texts(text) == ['He said "Hi."', "Then he left."]


def test_curly_quote_closing_and_opening() -> None:
    text = "“We won.” “They lost,” he said."
    assert texts(text) == ["“We won.”", "“They lost,” he said."]


def test_closing_bracket_after_full_stop() -> None:
    assert texts("I like it (really.) So do you.") == ["I like it (really.)", "So do you."]


def test_exclamation_and_question_marks() -> None:
    text = "Really? Yes! Fine."
    assert split_sentences(text) == [Span(0, 7), Span(8, 12), Span(13, 18)]


def test_ellipsis_and_repeated_punctuation() -> None:
    assert texts("Wait... What?! Go… Now.") == ["Wait...", "What?!", "Go…", "Now."]


def test_digit_starts_a_sentence() -> None:
    assert texts("He won. 34 stages in all.") == ["He won.", "34 stages in all."]


def test_line_break_ends_sentence_without_punctuation() -> None:
    text = "First line\nSecond line"
    assert split_sentences(text) == [Span(0, 10), Span(11, 22)]


def test_blank_lines_end_sentences() -> None:
    text = "First para.\n\n\nSecond para."
    assert split_sentences(text) == [Span(0, 11), Span(14, 26)]


def test_blank_line_ends_sentence_even_before_lower_case() -> None:
    assert texts("the end of one\n\nthe start of another") == [
        "the end of one",
        "the start of another",
    ]


def test_hard_wrapped_line_continues_in_lower_case() -> None:
    text = "This line is hard\nwrapped here. Next one."
    assert split_sentences(text) == [Span(0, 31), Span(32, 41)]
    assert texts(text)[0] == "This line is hard\nwrapped here."


def test_lower_case_line_after_terminal_punctuation_starts_new_sentence() -> None:
    assert texts("It ended.\nthen more") == ["It ended.", "then more"]
    assert texts("Ends with colon:\nlower case next") == ["Ends with colon:", "lower case next"]


def test_leading_bom_is_not_part_of_the_first_sentence() -> None:
    text = BOM + "Hello there. World."
    assert split_sentences(text) == [Span(1, 13), Span(14, 20)]
    assert split_sentences(BOM) == []


def test_surrounding_whitespace_is_trimmed() -> None:
    text = "  \t Hello there.   \n  World.  \n"
    assert split_sentences(text) == [Span(4, 16), Span(22, 28)]


def test_empty_and_whitespace_only() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n\t ") == []


def test_sub_range_offsets_index_whole_text() -> None:
    text = "Skip me. Take this. And this. Not me."
    start = text.index("Take")
    end = text.index(" Not")
    assert split_sentences(text, start, end) == [Span(9, 19), Span(20, 29)]
    assert texts(text, start, end) == ["Take this.", "And this."]


# --- properties ------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    [*"abcXYZ019 .!?…:;,\"'”’“‘()[]«\n\t\r", "  ", "\n\n", "\xa0", BOM, "Dr.", "J.", "U.S."]
)
_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(_ALPHABET, max_size=80).map("".join),
)


def _check_spans(text: str, spans: list[Span], lo: int, hi: int) -> None:
    prev_end = lo
    for s in spans:
        assert lo <= s.start < s.end <= hi
        assert s.start >= prev_end  # sorted and non-overlapping
        prev_end = s.end
        piece = s.of(text)
        assert not piece[0].isspace() and piece[0] != BOM
        assert not piece[-1].isspace()
    covered = [False] * len(text)
    for s in spans:
        for i in range(s.start, s.end):
            covered[i] = True
    for i in range(lo, hi):
        ch = text[i]
        if not ch.isspace() and ch != BOM:
            assert covered[i], f"character {ch!r} at {i} is in no sentence"


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_property_spans_partition_content(text: str) -> None:
    _check_spans(text, split_sentences(text), 0, len(text))


@settings(max_examples=150, deadline=None)
@given(_TEXT, st.data())
def test_property_sub_range(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    _check_spans(text, split_sentences(text, start, end), start, end)
