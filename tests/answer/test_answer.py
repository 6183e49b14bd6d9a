"""Tests of qa.answer.extractive (pure): sentence choice on hand-made passages with unit vectors,
key and
missing terms, the confidence model, the outcome and the status line. No model is loaded."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from qa.answer.extractive import (
    CONFIDENCE,
    MIN_SENTENCE_WORDS,
    SECOND_SENTENCE_RATIO,
    W_DENSE,
    W_LEXICAL,
    W_PASSAGE,
    WORD_MENTION_COSINE,
    Candidate,
    Choice,
    SentencesOf,
    candidates,
    choose,
    citations,
    confidence,
    confidence_features,
    key_terms,
    looks_english,
    missing_terms,
    outcome,
    status_line,
    topic_terms,
    unknown_words,
)
from qa.types import STATUSES, Hit, Span

QUESTION_VECTOR = np.array([1.0, 0.0, 0.0], dtype=np.float32)
NEUTRAL = "Tell me about the sprint"  # asks for no particular kind of answer


def stems(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def vector(cosine: float) -> np.ndarray:
    """A unit vector at the given cosine to QUESTION_VECTOR."""
    return np.array([cosine, math.sqrt(max(0.0, 1.0 - cosine * cosine)), 0.0], dtype=np.float32)


def passages(*sentences: list[tuple[str, float]]) -> tuple[list[Hit], SentencesOf]:
    """Hits, one per passage, and a ``sentences_of`` giving each passage's sentences (text, cosine
    to the question), with spans as offsets into the passage's text."""
    table: dict[str, tuple[list[Span], list[str], np.ndarray]] = {}
    hits = []
    for p, sents in enumerate(sentences):
        text = " ".join(s for s, _ in sents)
        spans, pos = [], 0
        for s, _ in sents:
            start = text.index(s, pos)
            spans.append(Span(start, start + len(s)))
            pos = start + len(s)
        vectors = np.stack([vector(c) for _, c in sents]) if sents else np.zeros((0, 3))
        source = f"p{p}.txt"
        table[source] = (spans, [s for s, _ in sents], vectors)
        hits.append(Hit(text, source, 1.0 / (p + 1), 0, len(text), f"Title {p}", None, rank=p))

    def sentences_of(hit: Hit) -> tuple[list[Span], list[str], np.ndarray]:
        return table[hit.source]

    return hits, sentences_of


def pick(
    question_terms: list[str], *sentences: list[tuple[str, float]], question: str = NEUTRAL
) -> Choice | None:
    hits, sentences_of = passages(*sentences)
    return choose(question, QUESTION_VECTOR, question_terms, hits, sentences_of, stems)


A = "Cavendish won the sprint on the Champs-Elysees."
B = "The team announced a new sponsor for next season."
C = "Rain fell on the riders for most of the stage."
D = "The crowd along the road cheered him all day."


# choose


def test_the_sentence_closest_to_the_question_wins() -> None:
    choice = pick([], [(A, 0.2), (B, 0.3)], [(C, 0.9), (D, 0.1)])
    assert choice is not None
    assert [c.text for c in choice.sentences] == [C]
    assert choice.sentences[0].passage == 1
    assert choice.cosine == pytest.approx(0.9, abs=1e-6)


def test_a_sentence_of_fewer_than_six_words_is_never_chosen() -> None:
    short = "Cav is still Cav."
    assert len(stems(short)) < MIN_SENTENCE_WORDS
    choice = pick([], [(short, 1.0), (A, 0.1)])
    assert choice is not None and [c.text for c in choice.sentences] == [A]
    assert pick([], [(short, 1.0), ("Just five words here now.", 1.0)]) is None


def test_vectors_stay_with_their_sentences_when_short_ones_are_skipped() -> None:
    hits, sentences_of = passages([("Short one.", 0.0), (A, 0.7), (B, 0.3)])
    cands, vecs = candidates(hits, sentences_of)
    assert [c.text for c in cands] == [A, B]
    assert [c.order for c in cands] == [1, 2]
    np.testing.assert_allclose(vecs @ QUESTION_VECTOR, [0.7, 0.3], atol=1e-6)


def test_candidates_offsets_quote_the_passage() -> None:
    hits, sentences_of = passages([(A, 0.5), (B, 0.4)])
    cands, _ = candidates(hits, sentences_of)
    assert [hits[0].text[c.start : c.end] for c in cands] == [A, B]


def test_duplicate_sentences_across_passages_are_considered_once() -> None:
    copy = "  cavendish WON the sprint   on the Champs-Elysees. "  # case and spacing differ
    hits, sentences_of = passages([(A, 0.9)], [(copy, 0.9), (C, 0.5)])
    cands, _ = candidates(hits, sentences_of)
    assert [(c.passage, c.text) for c in cands] == [(0, A), (1, C)]
    choice = pick([], [(A, 0.9)], [(copy, 0.9), (C, 0.5)])
    assert choice is not None
    # Runner-up is C (passage 1), not the copy: 0.6 * (0.9 - 0.5) + 0.1 * (1 - 1/2).
    assert choice.margin == pytest.approx(W_DENSE * 0.4 + W_PASSAGE * 0.5, abs=1e-6)


def test_only_the_top_passages_are_read() -> None:
    hits, sentences_of = passages([(A, 0.1)], [(B, 0.1)], [(C, 0.1)], [(D, 1.0)])
    cands, _ = candidates(hits, sentences_of)
    assert D not in [c.text for c in cands]
    assert [c.text for c in candidates(hits, sentences_of, max_passages=4)[0]] == [A, B, C, D]


def test_the_following_sentence_joins_when_it_scores_nearly_as_well() -> None:
    # A: 0.6 * 0.9 + 0.1 = 0.64; B: 0.6 * 0.85 + 0.1 = 0.61 >= 0.92 * 0.64
    assert W_DENSE * 0.85 + W_PASSAGE >= SECOND_SENTENCE_RATIO * (W_DENSE * 0.9 + W_PASSAGE)
    choice = pick([], [(A, 0.9), (B, 0.85)], [(C, 0.88)])
    assert choice is not None and [c.text for c in choice.sentences] == [A, B]
    # B: 0.6 * 0.5 + 0.1 = 0.40 < 0.92 * 0.64: A stands alone
    choice = pick([], [(A, 0.9), (B, 0.5)], [(C, 0.88)])
    assert choice is not None and [c.text for c in choice.sentences] == [A]


def test_only_the_following_sentence_of_the_same_passage_joins() -> None:
    choice = pick([], [(B, 0.89), (A, 0.9)])  # the one before never joins
    assert choice is not None and [c.text for c in choice.sentences] == [A]
    # nor a close one in another passage, even at the position right after
    choice = pick([], [(A, 0.9)], [(C, 0.1), (B, 0.95)])
    assert choice is not None and [c.text for c in choice.sentences] == [A]


def test_coverage_is_the_share_of_question_terms_held() -> None:
    choice = pick(["cavendish", "sprint", "paris"], [(A, 0.5)])
    assert choice is not None
    assert choice.coverage == pytest.approx(2 / 3)
    assert choice.margin == 1.0  # no runner-up
    assert pick([], [(A, 0.5)]).coverage == 0.0  # type: ignore[union-attr]


def test_question_terms_break_a_tie_in_meaning() -> None:
    choice = pick(["rain", "riders"], [(A, 0.5), (C, 0.5)])
    assert choice is not None and [c.text for c in choice.sentences] == [C]
    assert choice.margin == pytest.approx(W_LEXICAL * 1.0, abs=1e-6)


def test_typed_signal() -> None:
    dated = "He signed the contract with Astana in 2023."
    assert pick([], [(dated, 0.5)], question="When did he sign?").typed == 1.0  # type: ignore[union-attr]
    assert pick([], [(A, 0.5)], question="When did he sign?").typed == 0.0  # type: ignore[union-attr]
    assert pick([], [(dated, 0.5)], question=NEUTRAL).typed == 0.5  # type: ignore[union-attr]


def test_no_sentences_no_choice() -> None:
    assert pick(["sprint"], []) is None
    assert (
        choose(NEUTRAL, QUESTION_VECTOR, [], [], lambda h: ([], [], np.zeros((0, 3))), stems)
        is None
    )


_WORDS = ["cavendish", "sprint", "stage", "won", "team", "rain", "the", "road", "Paris", "tour"]
_SENTENCE = st.tuples(
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=10).map(lambda w: " ".join(w) + "."),
    st.floats(-1.0, 1.0),
)
_PASSAGES = st.lists(st.lists(_SENTENCE, max_size=5), min_size=1, max_size=4)


@given(_PASSAGES, st.lists(st.sampled_from([w.lower() for w in _WORDS]), max_size=4, unique=True))
def test_choice_properties(sentences: list[list[tuple[str, float]]], terms: list[str]) -> None:
    choice = pick(terms, *sentences)
    eligible = [
        (p, i, text, cos)
        for p, sents in enumerate(sentences[:3])
        for i, (text, cos) in enumerate(sents)
        if len(stems(text)) >= MIN_SENTENCE_WORDS
    ]
    if not eligible:
        assert choice is None
        return
    assert choice is not None
    assert choice.margin >= 0.0
    best = choice.sentences[0]
    assert len(stems(best.text)) >= MIN_SENTENCE_WORDS
    held = set(terms) & set(stems(best.text))
    assert choice.coverage == pytest.approx(len(held) / len(terms) if terms else 0.0)
    assert 0.0 <= choice.coverage <= 1.0
    assert choice.cosine == pytest.approx(sentences[best.passage][best.order][1], abs=1e-5)
    assert 1 <= len(choice.sentences) <= 2
    if len(choice.sentences) == 2:
        after = choice.sentences[1]
        assert (after.passage, after.order) == (best.passage, best.order + 1)


# topic_terms, key_terms


def test_topic_terms_drop_asking_words_and_keep_content_words() -> None:
    terms = topic_terms("Who did Cavendish say won the stage, and did he say why?", stems)
    assert terms == ["cavendish", "won", "stage"]
    assert not {"who", "did", "say", "why", "the", "and"} & set(terms)
    assert topic_terms("What did he say?", stems) == []


def test_key_terms_kinds() -> None:
    assert key_terms("How much is Cavendish's salary in 2024?") == [
        ("Cavendish's", "name"),
        ("salary", "word"),
        ("2024", "number"),
    ]


def test_key_terms_first_word_is_never_a_name() -> None:
    assert key_terms("Cavendish beat Pogacar in Paris") == [
        ("Cavendish", "word"),
        ("beat", "word"),
        ("Pogacar", "name"),
        ("Paris", "name"),
    ]
    # the first word of the question counts, even when it is an asking word
    assert key_terms("Did Cavendish win?") == [("Cavendish", "name"), ("win", "word")]


def test_key_terms_drop_short_words_but_keep_short_numbers() -> None:
    assert key_terms("Is the UK stage 7 km long?") == [("stage", "word"), ("7", "number")]
    assert key_terms("What did he say?") == []


# unknown_words, missing_terms


def test_a_name_absent_from_all_passages_is_missing() -> None:
    passages_ = ["Cavendish won the stage.", "The Tour ended in Paris."]
    question = "Did Pogacar beat Cavendish in Paris in 2024?"
    assert missing_terms(question, passages_, stems) == ("Pogacar", "2024")
    assert missing_terms(question, [*passages_, "Pogacar was second in 2024."], stems) == ()


def test_an_ordinary_word_in_the_corpus_vocabulary_is_never_missing() -> None:
    question = "What is Cavendish's salary?"
    vocabulary = {"salary", "cavendish", "s"}
    unknown = unknown_words(question, vocabulary, stems)
    assert unknown == []
    # none of the passages holds "salary", but the corpus does
    assert missing_terms(question, ["Cavendish won the stage."], stems, unknown, []) == ()


def test_names_and_numbers_are_never_unknown_words() -> None:
    assert unknown_words("Did Pogacar win 2024 stages?", {"stages"}, stems) == ["win"]


def test_an_unknown_word_is_missing_only_below_the_mention_cosine() -> None:
    question = "What injury did Cavendish have?"
    unknown = unknown_words(question, {"cavendish"}, stems)
    assert unknown == ["injury"]
    text = ["Cavendish broke his collarbone."]
    below = WORD_MENTION_COSINE - 0.01
    assert missing_terms(question, text, stems, unknown, [below]) == ("injury",)
    assert missing_terms(question, text, stems, unknown, [WORD_MENTION_COSINE]) == ()
    assert missing_terms(question, text, stems, unknown, [0.9]) == ()
    with pytest.raises(ValueError):
        missing_terms(question, text, stems, unknown, [])


@given(st.floats(-1.0, 1.0))
def test_unknown_word_missing_iff_similarity_below_threshold(similarity: float) -> None:
    missing = missing_terms("What injury?", ["No such word here."], stems, ["injury"], [similarity])
    assert ("injury" in missing) is (similarity < WORD_MENTION_COSINE)


def test_unknown_words_and_missing_terms_are_deduplicated_in_order() -> None:
    question = "Did Pogacar win 2024 wife children wife and Pogacar 2024?"
    assert unknown_words(question, {"win"}, stems) == ["wife", "children"]
    missing = missing_terms(
        question, ["Nothing relevant."], stems, ["wife", "children", "wife"], [0.1, 0.1, 0.1]
    )
    assert missing == ("Pogacar", "2024", "wife", "children")


# confidence

FEATURES = sorted(k for k in CONFIDENCE if k != "bias")
_FEATURE_VALUES = st.fixed_dictionaries(
    {
        "reader": st.floats(-14.0, 14.0),
        "cosine": st.floats(-1.0, 1.0),
        "margin": st.floats(0.0, 2.0),
        "coverage": st.floats(0.0, 1.0),
        "typed": st.floats(0.0, 1.0),
        "missing": st.integers(0, 10).map(float),
        "top_dense": st.floats(-1.0, 1.0),
    }
)


def test_confidence_features_feed_every_weight() -> None:
    choice = Choice((), cosine=0.7, margin=0.1, coverage=0.5, typed=1.0, reader=0.75)
    features = confidence_features(choice, missing=2, top_dense=0.6)
    assert sorted(features) == FEATURES
    assert features == {
        "reader": pytest.approx(math.log(3)),  # the reader's logit
        "cosine": 0.7,
        "margin": 0.1,
        "coverage": 0.5,
        "typed": 1.0,
        "missing": 2.0,
        "top_dense": 0.6,
    }


def test_confidence_is_the_logistic_of_the_weighted_sum() -> None:
    weights = {"bias": 1.0, "a": 2.0, "b": -1.0}
    assert confidence({"a": 0.0, "b": 1.0}, weights) == pytest.approx(0.5)
    # z = 1 + 2 * 0.5 - 1 * (2 - ln 3) = ln 3: p = 3 / 4
    assert confidence({"a": 0.5, "b": 2 - math.log(3)}, weights) == pytest.approx(0.75)


@given(_FEATURE_VALUES, st.sampled_from(FEATURES), st.floats(0.001, 1.0))
def test_confidence_is_monotonic_in_each_feature(
    features: dict[str, float], key: str, step: float
) -> None:
    before = confidence(features)
    after = confidence({**features, key: features[key] + step})
    if CONFIDENCE[key] > 0:
        assert after > before
    elif CONFIDENCE[key] < 0:
        assert after < before
    else:
        assert after == before


@given(_FEATURE_VALUES)
def test_confidence_stays_in_the_open_unit_interval(features: dict[str, float]) -> None:
    assert 0.0 < confidence(features) < 1.0


# outcome

_RANK = {"not_found": 0, "passages": 1, "answered": 2}


def _choice(cosine: float) -> Choice:
    return Choice((), cosine=cosine, margin=0.1, coverage=0.5, typed=0.5)


def test_outcome_cases() -> None:
    kw = {"answer_from": 0.6, "not_found_below": 0.2, "min_cosine": 0.3}
    assert outcome(None, 1.0, **kw) == "not_found"
    assert outcome(_choice(0.29), 1.0, **kw) == "not_found"
    assert outcome(_choice(0.9), 0.19, **kw) == "not_found"
    assert outcome(_choice(0.9), 0.2, **kw) == "passages"
    assert outcome(_choice(0.9), 0.59, **kw) == "passages"
    assert outcome(_choice(0.9), 0.6, **kw) == "answered"
    assert outcome(_choice(0.3), 0.99, **kw) == "answered"


@given(
    st.floats(-1.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(-1.0, 1.0),
)
def test_outcome_is_one_status_monotonic_in_probability(
    cosine: float, p: float, q: float, answer_from: float, not_found_below: float, min_cos: float
) -> None:
    assume(not_found_below <= answer_from)
    low, high = sorted((p, q))
    results = [
        outcome(_choice(cosine), x, answer_from, not_found_below, min_cos) for x in (low, high)
    ]
    assert all(r in STATUSES for r in results)
    assert _RANK[results[0]] <= _RANK[results[1]]
    status = results[1]
    if cosine < min_cos or high < not_found_below:
        assert status == "not_found"
    elif high >= answer_from:
        assert status == "answered"
    else:
        assert status == "passages"


# citations, status_line


def test_citations_number_the_chosen_sentences_and_name_their_passage() -> None:
    hits, _ = passages([(A, 0.5)], [(B, 0.5)])
    chosen = [Candidate(1, 3, 40, B, 0), Candidate(0, 0, 10, A, 2)]
    cites = citations(chosen, hits)
    assert [(c.number, c.source, c.title, c.passage) for c in cites] == [
        (1, "p1.txt", "Title 1", 1),
        (2, "p0.txt", "Title 0", 0),
    ]
    assert [(c.start, c.end, c.text) for c in cites] == [(3, 40, B), (0, 10, A)]


def test_status_line() -> None:
    assert status_line("answered", []) == ""
    assert status_line("answered", ["Pogacar"]) == ""
    for status in ("passages", "not_found"):
        line = status_line(status, ["Pogacar", "salary"])
        assert "Pogacar" in line and "salary" in line
        assert status_line(status, [])
        assert "Pogacar" not in status_line(status, [])
    assert status_line("passages", []) != status_line("not_found", [])
    assert status_line("passages", ["salary"]) != status_line("not_found", ["salary"])


def test_unheard_names_and_numbers_are_those_no_article_holds() -> None:
    from qa.answer.extractive import unheard

    vocabulary = {"cavendish", "tour", "2023", "astana"}

    def stems(text: str) -> list[str]:
        return [w.lower() for w in text.replace("'", " ").split()]

    question = "How many Tour stages did Chris Froome win for Astana in 2009 and 2023?"
    missing = ("Chris", "Froome", "2009", "stages")
    assert unheard(question, missing, vocabulary, stems) == ("Chris", "Froome", "2009")
    # a name the articles hold, only not in these passages, is no proof of a gap
    assert unheard("Did Cavendish win?", ("Cavendish",), vocabulary, stems) == ()
    # ordinary words are judged by meaning elsewhere (qa.answer.extractive.missing_terms), never
    # here
    assert unheard("what about stages", ("stages",), vocabulary, stems) == ()


def test_outcome_unheard_means_not_found() -> None:
    from qa.answer.extractive import Choice, outcome

    choice = Choice(sentences=(), cosine=0.9, margin=0.5, coverage=1.0, typed=1.0)
    assert outcome(choice, 0.99, 0.5, 0.1, 0.2) == "answered"
    assert outcome(choice, 0.99, 0.5, 0.1, 0.2, unheard=True) == "not_found"


def test_status_line_names_only_words_the_person_typed() -> None:
    """A follow-up searched with words of the previous question: those are not "missing"."""
    line = status_line("passages", ["Cavendish", "wife"], "and his wife?")
    assert "wife" in line and "Cavendish" not in line
    assert "Cavendish" in status_line("passages", ["Cavendish"], "Is Cavendish married?")


@pytest.mark.parametrize(
    "question",
    ["Pourquoi Cavendish n'a-t-il pas pris sa retraite ?", "¿Qué lesión sufrió Cavendish en 2023?"],
)
def test_a_question_in_another_language_hears_the_articles_are_in_english(question: str) -> None:
    for status in ("passages", "not_found"):
        line = status_line(status, ["pas", "a-t-il", "sufrió"], question)
        assert line.startswith("The articles are in English")
        assert "“pas”" not in line and "a-t-il" not in line and "don't mention" not in line
    assert looks_english("Why did Cavendish not retire?") and looks_english("Cavendish?")


def _hit(n: int) -> Hit:
    return Hit(text=f"passage {n}", source=f"{n}.txt", score=1.0 / n, start=0, end=9,
               title="", date=None, rank=n)  # fmt: skip


def test_lead_first_moves_the_chosen_passage_up_when_the_reader_stands_behind_it() -> None:
    from qa.answer.extractive import lead_first

    hits = [_hit(n) for n in (1, 2, 3)]
    sentence = Candidate(passage=2, start=0, end=9, text="passage 3", order=0)
    other = Candidate(passage=0, start=0, end=9, text="passage 1", order=0)
    choice = Choice(
        (sentence,), 0.5, 0.1, 0.5, 0.5, reader=0.6, ranked=((sentence, 0.6), (other, 0.1))
    )
    moved, reordered = lead_first(choice, hits, threshold=0.2)
    assert [h.source for h in reordered] == ["3.txt", "1.txt", "2.txt"]
    assert [h.rank for h in reordered] == [1, 2, 3]
    assert moved is not None and moved.sentences[0].passage == 0
    assert [c.passage for c, _ in moved.ranked] == [0, 1]
    unsure = dataclasses.replace(choice, reader=0.1)
    assert lead_first(unsure, hits, threshold=0.2) == (unsure, hits)  # below it: as they were
