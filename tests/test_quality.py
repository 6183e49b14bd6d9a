"""Answer quality on the seed articles with the real model (slow: loads all-MiniLM-L6-v2).

Thresholds sit a little under what the shipped settings measure (see docs/evaluation.md),
so a real regression fails while run-to-run noise does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import Settings, ask
from qa.evaluate import answers_it, evaluate_gold, load_gold

DATA = Path(__file__).resolve().parent / "data"
pytestmark = pytest.mark.slow

MUST_ANSWER_AT_RANK_1 = {
    # The reason: the record 35th Tour stage he came close to, and Astana's offer to go on.
    "why did Cavendish un-retire?": (
        "opted not to retire",
        "ride on for one final year",
        "postpone retirement",
        "extend his career",
        "win a 35th stage",
        "open to Cavendish continuing racing",
    ),
    "Who is Vasilis Anastopoulos?": ("former coach", "head of performance", "Greek"),
    "What injury ended Cavendish's 2023 Tour?": ("collarbone",),
}


@pytest.mark.parametrize("question", sorted(MUST_ANSWER_AT_RANK_1))
def test_key_questions_answered_at_rank_1(real_index: Path, question: str) -> None:
    answer = ask(question, k=5, index_dir=real_index, settings=Settings())
    top = answer.passages[0]
    assert any(p.lower() in top.text.lower() for p in MUST_ANSWER_AT_RANK_1[question]), top.text
    assert answer.answerable


def test_why_question_leads_with_the_reason(real_index: Path) -> None:
    answer = ask("why did Cavendish un-retire?", index_dir=real_index, settings=Settings())
    assert answer.status != "not_found"
    assert "record" in answer.citations[0].text.lower()  # quoted, or highlighted as likeliest
    assert answer.citations[0].source.endswith(".txt")


# The app's example questions and a phrase the sentence its reply leads with must hold.
EXAMPLE_LEADS = {
    "why did Cavendish un-retire?": "stage win record",
    "What injury ended Cavendish's 2023 Tour?": "broken collarbone",
    "Who is Cavendish's new head of performance?": "Vasilis Anastopolous",
}


# The example the shipped reader gets wrong: it gives the collarbone sentence 0.03 against
# "Cavendish joined the Kazakhstani squad for 2023, ..." 0.44 ("injury" is never said; see
# docs/reader.md). Strict: once it is right, this list must shrink.
KNOWN_EXAMPLE_MISSES = {"What injury ended Cavendish's 2023 Tour?"}


def test_app_examples_lead_with_the_right_sentence(real_index: Path) -> None:
    from qa.web.ui import EXAMPLES

    assert set(EXAMPLES) == set(EXAMPLE_LEADS)
    misses = set()
    for question, phrase in EXAMPLE_LEADS.items():
        answer = ask(question, index_dir=real_index, settings=Settings())
        assert answer.status != "not_found", question
        if phrase not in answer.citations[0].text:
            misses.add(question)
    assert misses == KNOWN_EXAMPLE_MISSES


@pytest.mark.parametrize(
    ("name", "hit1", "hit5", "mrr5"),
    [
        # Measured with the shipped settings (89 questions): hit@1 0.48, hit@5 0.88, MRR@5 0.63.
        ("seeds_questions", 0.44, 0.84, 0.59),
        # Measured (80): hit@1 0.48, hit@5 0.88, MRR@5 0.63 (the set the settings were chosen on).
        ("seeds_dev", 0.44, 0.84, 0.59),
    ],
)
def test_seed_question_sets(
    real_index: Path, name: str, hit1: float, hit5: float, mrr5: float
) -> None:
    questions = load_gold(DATA / f"{name}.jsonl")
    assert len(questions) >= 30
    report = evaluate_gold(
        questions, index_dir=real_index, settings=Settings(), reader_figures=False
    )
    assert report.hit5 >= hit5
    assert report.mrr5 >= mrr5
    assert report.hit1 >= hit1


def test_hybrid_beats_each_single_retriever(real_index: Path) -> None:
    questions = load_gold(DATA / "seeds_questions.jsonl") + load_gold(DATA / "seeds_dev.jsonl")
    mrr = {
        mode: evaluate_gold(
            questions, real_index, settings=Settings(retrieval=mode), reader_figures=False
        ).mrr5
        for mode in ("hybrid", "dense", "keyword")
    }
    assert mrr["hybrid"] > max(mrr["dense"], mrr["keyword"]) + 0.02, mrr


@pytest.mark.parametrize(
    ("answerable", "unanswerable"),
    [
        ("seeds_questions", "seeds_unanswerable"),
        ("seeds_dev", "seeds_unanswerable_dev"),
    ],
)
def test_outcomes_and_calibration(real_index: Path, answerable: str, unanswerable: str) -> None:
    """Measured with the reader (test / dev): unanswerable questions asserted 3% / 2%,
    not_found 40% / 36%; answerable questions not_found 5.6% / 2.5%; lead accuracy 0.55 / 0.55;
    calibration error 0.092 / 0.036."""
    questions = load_gold(DATA / f"{answerable}.jsonl") + load_gold(DATA / f"{unanswerable}.jsonl")
    report = evaluate_gold(
        questions, index_dir=real_index, settings=Settings(), reader_figures=False
    )
    assert report.no_answer >= 0.9
    assert report.not_found >= 0.3
    assert report.false_declines <= 0.07
    assert report.lead >= 0.5
    assert report.ece <= 0.11


@pytest.mark.parametrize("name", ["seeds_questions", "seeds_dev"])
def test_every_gold_source_holds_a_gold_phrase(name: str) -> None:
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    for gold in load_gold(DATA / f"{name}.jsonl"):
        for source in gold.sources:
            text = (seeds / source).read_text(encoding="utf-8")
            assert answers_it(text, source, gold), (gold.id, source)
