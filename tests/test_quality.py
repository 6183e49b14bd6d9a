"""Answer quality on the seed articles with the real model (slow: loads all-MiniLM-L6-v2).

Thresholds sit a little under what the shipped settings measure (see README, "Evaluation"),
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


def test_why_question_quotes_the_reason(real_index: Path) -> None:
    answer = ask("why did Cavendish un-retire?", index_dir=real_index, settings=Settings())
    assert "record" in answer.text.lower()
    assert answer.citations[0].source.endswith(".txt")


def test_seed_question_set(real_index: Path) -> None:
    questions = load_gold(DATA / "seeds_questions.jsonl")
    assert len(questions) >= 30
    report = evaluate_gold(questions, index_dir=real_index, settings=Settings())
    # Measured with the shipped settings: hit@1 0.51, hit@5 0.95, MRR@5 0.66.
    assert report.hit5 >= 0.90
    assert report.mrr5 >= 0.60
    assert report.hit1 >= 0.42


def test_unanswerable_questions_score_lower(real_index: Path) -> None:
    answerable = evaluate_gold(
        load_gold(DATA / "seeds_questions.jsonl"), index_dir=real_index, settings=Settings()
    ).confidences["answerable"]
    unanswerable = evaluate_gold(
        load_gold(DATA / "seeds_unanswerable.jsonl"), index_dir=real_index, settings=Settings()
    ).confidences["unanswerable"]
    assert sum(answerable) / len(answerable) > sum(unanswerable) / len(unanswerable) + 0.1


def test_gold_phrases_really_are_in_their_sources() -> None:
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    for gold in load_gold(DATA / "seeds_questions.jsonl"):
        assert any(
            answers_it((seeds / s).read_text(encoding="utf-8"), s, gold) for s in gold.sources
        ), gold.id
