"""Evaluation runners on tiny hand-made data (hashing embedder)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa import Settings
from qa.errors import QAError
from qa.evaluate import evaluate_beir, load_qrels, materialise_beir

DOCS = {
    "d1": ("Tandem bicycles", "A tandem bicycle carries two riders who pedal together."),
    "d2": ("Volcanoes", "Magma rises through the crust and erupts as lava from volcanoes."),
    "d3": ("Honey bees", "Honey bees dance to tell the hive where flowers with nectar are."),
    "d4": ("Glaciers", "Glaciers carve valleys as compacted snow slowly flows downhill."),
}
QUERIES = {
    "q1": "bees dance nectar hive",
    "q2": "lava erupts magma",
    "q3": "tandem riders",
    "q4": "snow valleys",
}
# q3 also counts d4 (tandem riders in snow valleys); q4's only relevant document is missing.
QRELS = [("q1", "d3", 1), ("q2", "d2", 1), ("q3", "d1", 2), ("q3", "d4", 1), ("q4", "d9", 1)]


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    with (root / "corpus.jsonl").open("w") as f:
        for i, (title, text) in DOCS.items():
            f.write(json.dumps({"_id": i, "title": title, "text": text}) + "\n")
    with (root / "queries.jsonl").open("w") as f:
        for i, text in QUERIES.items():
            f.write(json.dumps({"_id": i, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in QRELS]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return root


def test_qrels_and_materialised_corpus(beir: Path, tmp_path: Path) -> None:
    assert load_qrels(beir / "qrels" / "test.tsv") == {
        "q1": {"d3": 1},
        "q2": {"d2": 1},
        "q3": {"d1": 2, "d4": 1},
        "q4": {"d9": 1},
    }
    names = materialise_beir(beir, tmp_path / "corpus")
    assert names == {"d1.txt": "d1", "d2.txt": "d2", "d3.txt": "d3", "d4.txt": "d4"}
    assert (tmp_path / "corpus" / "d2.txt").read_text().startswith("Volcanoes\n\nMagma")


def test_beir_metrics_are_document_level(beir: Path, tmp_path: Path) -> None:
    report = evaluate_beir(beir, tmp_path / "work", settings=Settings(model="hash-384"))
    assert (report.queries, report.documents) == (4, 4)
    # Only 4 documents: every ranking holds all of them, so recall is 1 for q1-q3 and 0 for
    # q4 (its relevant document does not exist). q1-q3 rank a relevant document first.
    assert report.mrr10 == pytest.approx(3 / 4)
    assert report.recall100 == pytest.approx(3 / 4)
    assert report.recall10 == pytest.approx(3 / 4)
    # q3: d1 (gain 2) first, d4 (gain 1) at rank r in 2..4:
    # nDCG = (2 + 1/log2(r+1)) / (2 + 1/log2(3))
    ideal = 2 + 1 / math.log2(3)
    q3_choices = [(2 + 1 / math.log2(r + 1)) / ideal for r in (2, 3, 4)]
    assert any(report.ndcg10 == pytest.approx((2 + q3) / 4) for q3 in q3_choices)
    again = evaluate_beir(beir, tmp_path / "work", settings=Settings(model="hash-384"))
    assert again.embedded == 0 and again.ndcg10 == pytest.approx(report.ndcg10)


def test_not_a_beir_folder(tmp_path: Path) -> None:
    with pytest.raises(QAError, match=r"corpus\.jsonl"):
        evaluate_beir(tmp_path, tmp_path / "work", settings=Settings(model="hash-384"))


def test_split_without_judged_queries_is_a_clear_error(beir: Path, tmp_path: Path) -> None:
    (beir / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq99\td1\t1\n")
    with pytest.raises(QAError, match=r"no query .* qrels/train\.tsv"):
        evaluate_beir(beir, tmp_path / "work", split="train", settings=Settings(model="hash-384"))


def test_a_query_without_words_counts_as_finding_nothing(beir: Path, tmp_path: Path) -> None:
    # q5 comes first, so nothing before it has loaded the index.
    queries = (beir / "queries.jsonl").read_text()
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q5", "text": "?!"}) + "\n" + queries)
    qrels = (beir / "qrels" / "test.tsv").read_text().splitlines()
    (beir / "qrels" / "test.tsv").write_text("\n".join([qrels[0], "q5\td2\t1", *qrels[1:]]) + "\n")
    report = evaluate_beir(beir, tmp_path / "work", settings=Settings(model="hash-384"))
    assert report.queries == 5
    assert report.recall100 == pytest.approx(3 / 5)  # q4 and q5 find nothing relevant


def test_reader_figures_rank_the_candidate_sentences(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """MAP, MRR and P@1 of the reader's ranking, over the questions whose candidates hold an
    answering sentence: relevant at ranks 2 and 3 gives AP (1/2 + 2/3) / 2, RR 1/2, P@1 0."""
    from types import SimpleNamespace

    import qa.evaluate
    from qa.evaluate import GoldQuestion, GoldReport, _add_reader_figures

    def candidate(text: str) -> SimpleNamespace:
        return SimpleNamespace(text=text, passage=0)

    ranked = [(candidate(t), 0.5) for t in ("no", "the collarbone broke", "a collarbone")]
    signals = SimpleNamespace(
        choice=SimpleNamespace(ranked=ranked), hits=[SimpleNamespace(source="a.txt")]
    )
    monkeypatch.setattr(qa.evaluate, "answer_signals", lambda *a, **k: signals)
    gold = GoldQuestion("q1", "Which bone?", ("a.txt",), ("collarbone",))
    report = GoldReport()
    _add_reader_figures(report, gold, tmp_path, 5, Settings(model="hash-384"))
    assert report.reader_questions == 1
    assert report.reader_map == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert report.reader_mrr == pytest.approx(1 / 2) and report.reader_p1 == 0
    missed = GoldQuestion("q2", "Which bone?", ("b.txt",), ("collarbone",))
    _add_reader_figures(report, missed, tmp_path, 5, Settings(model="hash-384"))
    assert report.reader_questions == 1  # no answering candidate: not counted
