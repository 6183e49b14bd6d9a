"""Pure parts of the reply HTML (qa.web.render): near-copies of a passage are told once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qa import Answer, Citation, Hit
from qa.web.render import fold_near_copies, near_copies, render_answer

QUOTE = (
    "I want to try and win a 35th stage of the Tour de France, Cavendish told reporters in "
    "Kazakhstan on Tuesday, and the team has the riders to help me do it next July."
)


def hit(text: str, source: str, rank: int, title: str = "") -> Hit:
    return Hit(text=text, source=source, score=1.0 / rank, start=0, end=len(text), title=title,
               date="2023-10-05", rank=rank)  # fmt: skip


def test_a_passage_that_repeats_an_earlier_one_is_named_under_it() -> None:
    hits = [
        hit(f"Astana said on Tuesday. {QUOTE}", "a.txt", 1, "Cavendish to race on"),
        hit("Mørkøv joins Astana as lead-out man for the coming season.", "b.txt", 2, "Mørkøv"),
        hit(f"{QUOTE} He turns 39 in May.", "c.txt", 3, "Cav postpones retirement"),
        hit(f"In Astana: {QUOTE}", "d.txt", 4),
    ]
    assert near_copies([h.text for h in hits]) == [None, None, 0, 0]
    shown = fold_near_copies(hits)
    assert [h.source for h in shown] == ["a.txt", "b.txt"]
    assert shown[0].also_in == ("Cav postpones retirement", "d.txt")  # title, else file name
    assert shown[1] == hits[1]


def test_a_cited_passage_is_never_folded() -> None:
    hits = [hit(QUOTE, "a.txt", 1), hit(QUOTE + " Indeed.", "b.txt", 2)]
    assert [h.source for h in fold_near_copies(hits, cited={1})] == ["a.txt", "b.txt"]


def test_the_reply_shows_a_repeated_quote_once() -> None:
    hits = [hit(QUOTE, "a.txt", 1, "One"), hit(f"Again: {QUOTE}", "b.txt", 2, "Two"),
            hit("Something else entirely about the Giro route.", "c.txt", 3, "Three")]  # fmt: skip
    cite = Citation(1, "a.txt", 0, len(QUOTE), QUOTE, "One", "2023-10-05", passage=0)
    answer = Answer(question="q", text=QUOTE, citations=(cite,), passages=tuple(hits))
    html = render_answer(answer)
    assert html.count("35th stage") == 3  # answer, its plain text to copy, passage: no copy
    assert "also in Two" in html


@given(st.lists(st.text(alphabet="abcde ", max_size=60), max_size=8))
def test_near_copies_points_back_to_a_kept_text(texts: list[str]) -> None:
    like = near_copies(texts)
    assert len(like) == len(texts)
    for i, j in enumerate(like):
        assert j is None or (j < i and like[j] is None)
    assert near_copies(texts[:1]) == [None] * len(texts[:1])
