"""Query speed on the seeds: a cold ``qa ask`` in a new process against its floor, and a warm
``search()`` against its floor, with the real model.

    python benchmarks/query_speed.py [--work .bench] [--rounds 5]

The index is the default corpus (``seeds/``) built with all-MiniLM-L6-v2 under ``--work``
(once; later runs reuse it). Then:

* **cold**, every round a new process for each, in turn (a busy spell of the machine hits all
  alike): the interpreter starting and doing nothing; the floor, a script that loads the
  query encoder qa uses (qa.encode.bert: numpy, no torch) and encodes one question; ``qa ask`` of
  the same question, printing its answer; and, for scale, what the floor was before qa.encode.bert:
  importing sentence-transformers, loading the model and encoding the question. Wall-clock
  seconds from outside (start-up included), and each process's peak resident memory (VmHWM,
  read as it exits). Target: ``qa ask`` <= 1.5 s on a 2-core machine.
* **warm**, one process: every seeds question asked of ``search()`` and, interleaved, its
  floor: encoding the question and an exact FAISS search of every chunk vector. p50 of each
  and their ratio; ``ask()`` too (search, then the answer sentence).

Prints one JSON object; ``benchmarks/report.py`` (``make bench``) writes it into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from build_speed import run_json

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "seeds_questions.jsonl"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
QUESTION = "why did Cavendish un-retire?"

# Run before the measured code of each cold process: on exit, one JSON line (its output's last)
# with the process's peak memory and whether it imported torch.
_EXIT_REPORT = """
import atexit, json, sys
def _report():
    peak = next(int(l.split()[1]) / 1024 for l in open("/proc/self/status")
                if l.startswith("VmHWM:"))
    print(json.dumps({"peak_rss_mb": peak, "torch": "torch" in sys.modules}), flush=True)
atexit.register(_report)
"""
_COLD = {
    "interpreter": "pass",
    "floor": (
        "from qa.config import DEFAULT_MODEL\n"
        "from qa.encode.embedding import get_query_embedder\n"
        "get_query_embedder(DEFAULT_MODEL).encode([sys.argv[1]])"
    ),
    "qa_ask": (
        "from qa.cli import main\n"
        "sys.argv = ['qa', 'ask', sys.argv[1], '--index', sys.argv[2]]\n"
        "main()"
    ),
    "sentence_transformers_floor": (
        "from sentence_transformers import SentenceTransformer\n"
        "from qa.config import DEFAULT_MODEL\n"
        "from qa.encode.embedding import model_path\n"
        "SentenceTransformer(str(model_path(DEFAULT_MODEL)), device='cpu').encode([sys.argv[1]])"
    ),
}


def _cold(name: str, index_dir: Path) -> dict[str, Any]:
    """One cold run of a _COLD script in a new process: seconds from outside, and its report."""
    t = time.perf_counter()
    report = run_json(_EXIT_REPORT + _COLD[name], QUESTION, str(index_dir))
    return report | {"seconds": time.perf_counter() - t}


def _warm(index_dir: Path) -> dict[str, Any]:
    """search() and ask() of every seeds question against encode + exact search, interleaved."""
    import faiss

    from qa import ask, search
    from qa.config import DEFAULT_MODEL, Settings
    from qa.encode.embedding import get_query_embedder
    from qa.indexing.index import load_index

    settings = Settings(model=DEFAULT_MODEL)
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    embedder = get_query_embedder(DEFAULT_MODEL)
    vectors = np.ascontiguousarray(load_index(index_dir).vectors[:], dtype=np.float32)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    ask(questions[0], index_dir=index_dir, settings=settings)  # first touch, untimed
    floor_ms, search_ms, ask_ms = [], [], []
    for question in questions:
        t = time.perf_counter()
        exact.search(embedder.encode([question]), 5)
        floor_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        search(question, k=5, index_dir=index_dir, settings=settings)
        search_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ask(question, index_dir=index_dir, settings=settings)
        ask_ms.append((time.perf_counter() - t) * 1000)
    p50 = {
        name: float(np.median(values))
        for name, values in (("floor", floor_ms), ("search", search_ms), ("ask", ask_ms))
    }
    return {
        "questions": len(questions),
        "chunks": len(vectors),
        "p50_ms": p50,
        "search_over_floor": p50["search"] / p50["floor"],
        # Per question, so that a slow spell of the machine does not tilt the ratio.
        "search_over_floor_each": float(np.median(np.asarray(search_ms) / np.asarray(floor_ms))),
        # What ask() adds to search(): the answer step, the reader's pass included
        # (target: at most 150 ms at k = 5 on 2 cores).
        "ask_minus_search_each_ms": float(np.median(np.asarray(ask_ms) - np.asarray(search_ms))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(".bench"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    index_dir = args.work / "seeds-index"
    if not (index_dir / "CURRENT").is_file():
        from qa import build_index

        build_index(SEEDS, index_dir)
    index_dir = index_dir.resolve()
    cold: dict[str, list[dict[str, Any]]] = {name: [] for name in _COLD}
    for _ in range(args.rounds):
        for name in cold:
            cold[name].append(_cold(name, index_dir))
    print(json.dumps({"cold": cold, "warm": _warm(index_dir)}))


if __name__ == "__main__":
    main()
