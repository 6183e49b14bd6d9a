"""Query latency of the shipped hybrid ranking against dense-only, interleaved in one process.

    python benchmarks/query_latency.py INDEX_DIR QUESTIONS [--k 5] [--limit 300]

QUESTIONS is a BEIR ``queries.jsonl`` or a gold question file (one JSON object a line with
``text`` or ``question``). Each question is asked of every mode in turn, so a slow spell of the
machine hits all modes alike; the ratios are the figures to compare. Targets: hybrid search
p50 within +30% of dense-only p50, and ``ask()`` p50 within +30% of hybrid ``search()`` p50.
Times are the public ``search()`` call (encoding the question, ranking, near-duplicate
collapse) and ``ask()`` (the same, then choosing the answer sentence and its confidence).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qa.api import ask, search
from qa.config import Settings
from qa.metrics import percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir")
    parser.add_argument("questions")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()

    questions = []
    for line in Path(args.questions).read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            questions.append(str(obj.get("text") or obj.get("question")))
    questions = questions[: args.limit]
    base = Settings.from_env()
    modes = {
        "dense": base.with_(retrieval="dense"),
        "keyword": base.with_(retrieval="keyword"),
        "hybrid (shipped)": base,
    }
    times: dict[str, list[float]] = {m: [] for m in [*modes, "ask (hybrid)"]}
    for settings in modes.values():  # load the model and index once before timing
        search(questions[0], k=args.k, index_dir=args.index_dir, settings=settings)
    for q in questions:
        for mode, settings in modes.items():
            t = time.perf_counter()
            search(q, k=args.k, index_dir=args.index_dir, settings=settings)
            times[mode].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ask(q, k=args.k, index_dir=args.index_dir, settings=base)
        times["ask (hybrid)"].append((time.perf_counter() - t) * 1000)
    dense_p50 = percentile(times["dense"], 50)
    print(f"{len(questions)} questions, k={args.k}, index {args.index_dir}")
    for mode, ts in times.items():
        p50, p95 = percentile(ts, 50), percentile(ts, 95)
        ratio = p50 / dense_p50
        print(f"{mode:18s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p50 / dense p50 {ratio:.2f}")
    ask_ratio = percentile(times["ask (hybrid)"], 50) / percentile(times["hybrid (shipped)"], 50)
    print(f"ask p50 / hybrid search p50 {ask_ratio:.2f}")


if __name__ == "__main__":
    main()
