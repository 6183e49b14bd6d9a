"""Score an index against a question file (``qa eval GOLD.jsonl``).

A gold file has one JSON object a line: ``question``, ``sources`` (files that answer it) and
``answers`` (phrases quoted from those files). A passage or sentence *answers* when it comes
from a gold source and contains a gold phrase (case and spacing ignored). Reported (see
``GoldReport``): hit@1, hit@5 and MRR@5 of the first answering passage; the precision and
coverage of ``answered`` replies; lead accuracy; declines on unanswerable questions (no
``sources``) and false declines on answerable ones; how well the confidence is calibrated
(reliability table, expected calibration error); latency.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import answer_signals, ask
from .config import Settings, settings_or_env
from .errors import QAError, QuestionError
from .metrics import expected_calibration_error, percentile, reliability
from .types import Answer


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    sources: tuple[str, ...]
    answers: tuple[str, ...]


@dataclass
class GoldReport:
    """Scores of one question file. Shares of answerable questions unless the name says
    otherwise; ``lead`` is what a reply leads with: the quoted sentence when ``answered``, the
    passage holding the likeliest sentence when ``passages``, nothing when ``not_found``."""

    questions: int = 0  # answerable questions
    hit1: float = 0.0
    hit5: float = 0.0
    mrr5: float = 0.0
    answer_sentence: float = 0.0  # the likeliest sentence holds a gold phrase, whatever status
    # The reader's own ranking of the top passages' sentences (qa.answer.reader), over the
    # answerable questions whose candidates hold an answering sentence (reader_questions).
    reader_questions: int = 0
    reader_map: float = 0.0
    reader_mrr: float = 0.0
    reader_p1: float = 0.0
    coverage: float = 0.0  # status "answered"
    precision: float = 0.0  # of all "answered" replies (unanswerable questions included)
    lead: float = 0.0  # lead accuracy
    false_declines: float = 0.0  # status "not_found"
    unanswerable: int = 0
    no_answer: float = 0.0  # share of unanswerable questions not "answered"
    not_found: float = 0.0  # share of unanswerable questions "not_found"
    ece: float = 0.0  # expected calibration error of the confidence, all questions
    reliability: list[tuple[float, float, int, float, float]] = field(default_factory=list)
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    misses: list[dict[str, Any]] = field(default_factory=list)


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def load_gold(path: str | os.PathLike[str]) -> list[GoldQuestion]:
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QAError(f"cannot read question file {path}: {exc.strerror or exc}") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            out.append(
                GoldQuestion(
                    id=str(obj.get("id", n)),
                    question=str(obj["question"]),
                    sources=tuple(obj.get("sources", ())),
                    answers=tuple(obj.get("answers", ())),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise QAError(f"{path}, line {n}: not a question record ({exc})") from exc
    if not out:
        raise QAError(f"{path} holds no questions")
    return out


def answers_it(text: str, source: str, gold: GoldQuestion) -> bool:
    t = _norm(text)
    return source in gold.sources and any(_norm(a) in t for a in gold.answers)


def _lead_right(answer: Answer, gold: GoldQuestion) -> bool:
    if answer.status == "answered":
        return any(answers_it(c.text, c.source, gold) for c in answer.citations)
    if answer.status == "passages" and answer.passages:
        lead = answer.passages[answer.citations[0].passage if answer.citations else 0]
        return answers_it(lead.text, lead.source, gold)
    return False


def evaluate_gold(
    questions: list[GoldQuestion],
    index_dir: str | os.PathLike[str] = "index",
    k: int = 5,
    settings: Settings | None = None,
    reader_figures: bool = True,
) -> GoldReport:
    """Score ``ask()`` on gold questions (``reader_figures``: also the reader's own ranking of
    the candidate sentences, which asks each question a second time, untimed)."""
    report = GoldReport()
    latencies: list[float] = []
    confidences: list[float] = []
    sentence_right: list[bool] = []
    answered_right: list[bool] = []
    n_ans = n_covered = n_lead = n_false_declines = n_no_answer = n_not_found = 0
    for gold in questions:
        t0 = time.perf_counter()
        answer = ask(gold.question, k=k, index_dir=index_dir, settings=settings)
        latencies.append((time.perf_counter() - t0) * 1000)
        right = any(answers_it(c.text, c.source, gold) for c in answer.citations)
        confidences.append(answer.confidence)
        sentence_right.append(right)
        if answer.status == "answered":
            answered_right.append(right)
        if not gold.sources:
            report.unanswerable += 1
            n_no_answer += answer.status != "answered"
            n_not_found += answer.status == "not_found"
            continue
        n_ans += 1
        n_covered += answer.status == "answered"
        n_false_declines += answer.status == "not_found"
        lead_ok = _lead_right(answer, gold)
        n_lead += lead_ok
        rank = next(
            (i for i, h in enumerate(answer.passages[:k], 1) if answers_it(h.text, h.source, gold)),
            0,
        )
        if reader_figures:
            _add_reader_figures(report, gold, index_dir, k, settings)
        report.hit1 += rank == 1
        report.hit5 += 0 < rank <= 5
        report.mrr5 += 1.0 / rank if 0 < rank <= 5 else 0.0
        if not lead_ok:
            report.misses.append(
                {
                    "id": gold.id,
                    "question": gold.question,
                    "rank": rank,
                    "status": answer.status,
                    "lead": answer.citations[0].text if answer.citations else "",
                }
            )
    report.questions = n_ans
    if n_ans:
        report.hit1 /= n_ans
        report.hit5 /= n_ans
        report.mrr5 /= n_ans
        report.answer_sentence = (
            sum(r for r, g in zip(sentence_right, questions, strict=True) if g.sources) / n_ans
        )
        report.coverage = n_covered / n_ans
        if report.reader_questions:
            report.reader_map /= report.reader_questions
            report.reader_mrr /= report.reader_questions
            report.reader_p1 /= report.reader_questions
        report.lead = n_lead / n_ans
        report.false_declines = n_false_declines / n_ans
    if answered_right:
        report.precision = sum(answered_right) / len(answered_right)
    if report.unanswerable:
        report.no_answer = n_no_answer / report.unanswerable
        report.not_found = n_not_found / report.unanswerable
    report.ece = expected_calibration_error(confidences, sentence_right)
    report.reliability = reliability(confidences, sentence_right)
    report.p50_ms = percentile(latencies, 50)
    report.p95_ms = percentile(latencies, 95)
    return report


def _add_reader_figures(
    report: GoldReport,
    gold: GoldQuestion,
    index_dir: str | os.PathLike[str],
    k: int,
    settings: Settings | None,
) -> None:
    """Add one question's average precision, reciprocal rank and precision at 1 of the reader's
    ranking of the candidate sentences (those holding a gold phrase are relevant)."""
    signals = answer_signals(gold.question, k=k, index_dir=index_dir, settings=settings)
    if signals.choice is None:
        return
    relevant = [
        answers_it(c.text, signals.hits[c.passage].source, gold) for c, _ in signals.choice.ranked
    ]
    if not any(relevant):
        return
    found, precision_sum = 0, 0.0
    for i, r in enumerate(relevant, 1):
        if r:
            found += 1
            precision_sum += found / i
    report.reader_questions += 1
    report.reader_map += precision_sum / found
    report.reader_mrr += 1.0 / (relevant.index(True) + 1)
    report.reader_p1 += relevant[0]


# ---------------------------------------------------------------------------------------------
# BEIR datasets (qa eval --beir DIR)


@dataclass
class BeirReport:
    dataset: str
    split: str
    queries: int
    documents: int
    ndcg10: float
    recall10: float
    recall100: float
    mrr10: float
    build_seconds: float
    embedded: int
    p50_ms: float
    p95_ms: float
    settings: dict[str, Any] = field(default_factory=dict)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and not parts[-1].strip().lstrip("-").isdigit():
                continue  # header
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def _safe_name(doc_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in doc_id) + ".txt"


def materialise_beir(dataset: Path, corpus_dir: Path) -> dict[str, str]:
    """Write each BEIR document as ``title\\n\\ntext`` to a file; returns file name -> doc id."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for doc in _read_jsonl(dataset / "corpus.jsonl"):
        doc_id = str(doc["_id"])
        name = _safe_name(doc_id)
        names[name] = doc_id
        body = f"{doc.get('title', '').strip()}\n\n{doc.get('text', '').strip()}\n"
        path = corpus_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
    return names


def evaluate_beir(
    dataset: str | os.PathLike[str],
    work_dir: str | os.PathLike[str] = ".eval-cache",
    split: str = "test",
    settings: Settings | None = None,
    limit: int | None = None,
    depth: int = 100,
) -> BeirReport:
    """Build (or reuse) an index over a BEIR dataset and score its queries, document-level."""
    from .api import build_index, search
    from .metrics import dedupe, mrr_at, ndcg_at, recall_at

    settings = settings_or_env(settings)
    root = Path(dataset)
    for needed in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (root / needed).is_file():
            raise QAError(f"{root} is not a BEIR dataset: {needed} is missing")
    work = Path(work_dir) / root.resolve().name
    names = materialise_beir(root, work / "corpus")
    t0 = time.perf_counter()
    report = build_index(work / "corpus", work / "index", settings=settings)
    build_seconds = time.perf_counter() - t0
    qrels = load_qrels(root / "qrels" / f"{split}.tsv")
    queries = {str(q["_id"]): str(q["text"]) for q in _read_jsonl(root / "queries.jsonl")}
    ids = [qid for qid in qrels if qid in queries][:limit]
    if not ids:
        raise QAError(f"{root}: no query in queries.jsonl has judgements in qrels/{split}.tsv")
    chunks_deep = depth * 3  # enough chunks for `depth` distinct documents
    deep = settings.with_(max_k=max(settings.max_k, chunks_deep))
    search("warm up", k=chunks_deep, index_dir=work / "index", settings=deep)  # load, untimed
    totals = {"ndcg10": 0.0, "recall10": 0.0, "recall100": 0.0, "mrr10": 0.0}
    latencies = []
    for qid in ids:
        t = time.perf_counter()
        try:
            hits = search(queries[qid], k=chunks_deep, index_dir=work / "index", settings=deep)
        except QuestionError:  # e.g. a query with no words: it finds nothing
            hits = []
        latencies.append((time.perf_counter() - t) * 1000)
        ranking = dedupe([names.get(src, src) for h in hits for src in (h.source, *h.also_in)])[
            :depth
        ]
        rel = qrels[qid]
        totals["ndcg10"] += ndcg_at(ranking, rel, 10)
        totals["recall10"] += recall_at(ranking, rel, 10)
        totals["recall100"] += recall_at(ranking, rel, 100)
        totals["mrr10"] += mrr_at(ranking, rel, 10)
    n = max(len(ids), 1)
    return BeirReport(
        dataset=root.name,
        split=split,
        queries=len(ids),
        documents=report.files,
        ndcg10=totals["ndcg10"] / n,
        recall10=totals["recall10"] / n,
        recall100=totals["recall100"] / n,
        mrr10=totals["mrr10"] / n,
        build_seconds=build_seconds,
        embedded=report.embedded,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        settings=settings.as_dict(),
    )
