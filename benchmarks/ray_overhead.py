"""What a build pays for going through Ray (``qa build --ray``) on this machine, against a
local build of the same texts.

    python benchmarks/ray_overhead.py [--docs 170] [--rounds 3] [--model MODEL] [--work .bench/ray]

The corpus is the first ``--docs`` SciFact abstracts, one .txt file each (170 give about
2,000 texts to embed: chunks and sentences). Each build is a full build in a fresh process,
the model loaded inside it. Each round runs the three, in an order rotated from one round to
the next (a busy spell of the machine then hits none of them always); medians are compared:

* ``local``: ``build_index`` as today;
* ``ray``: through a local Ray that the build starts and stops (bare ``--ray``), its start
  included;
* ``ray-running``: through a Ray of 2 CPUs that the process started before the clock started
  (what a build pays with a cluster already up, as with ``--ray auto``).

Then the vectors of the Ray builds against the local build's: whether every byte is the same,
and the lowest cosine. Prints one JSON object; the ratios are Ray's seconds over local's
(target <= 1.3 at 2,000 texts).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = Path(os.environ.get("QA_SCIFACT", ROOT.parent / "shared" / "datasets" / "scifact"))

_BUILD = """
import json, sys, time
from qa.config import Settings
from qa.indexing.build import build_index

corpus, index, model, how = sys.argv[1:5]
settings = Settings(model=model)
if how == "ray-running":
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
if how != "local":
    settings = settings.with_(ray_address="local")
t = time.perf_counter()
report = build_index(corpus, index, settings=settings, full=True)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "texts": report.embedded + report.embedded_sentences}))
"""


def _corpus(folder: Path, docs: int) -> None:
    folder.mkdir(parents=True)
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as f:
        for _, line in zip(range(docs), f, strict=False):
            doc = json.loads(line)
            text = f"{doc['title']}\n\n{doc['text']}\n"
            (folder / f"{doc['_id']}.txt").write_text(text, encoding="utf-8")


def _build(corpus: Path, index: Path, model: str, how: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [sys.executable, "-c", _BUILD, str(corpus), str(index), model, how],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _compare(got: Path, want: Path) -> dict[str, Any]:
    from qa.indexing.index import load_index

    a, b = load_index(got), load_index(want)
    pairs = [(a.vectors[:], b.vectors[:]), (a.sentence_vectors[:], b.sentence_vectors[:])]
    return {
        "identical": all(np.array_equal(x, y) for x, y in pairs),
        "min_cosine": min(float(np.einsum("ij,ij->i", x, y).min()) for x, y in pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=170)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "ray")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    corpus = args.work / "corpus"
    _corpus(corpus, args.docs)
    hows = ["local", "ray", "ray-running"]
    seconds: dict[str, list[float]] = {how: [] for how in hows}
    texts = 0
    for n in range(args.rounds):
        for how in hows[n % 3 :] + hows[: n % 3]:
            run = _build(corpus, args.work / how, args.model, how)
            seconds[how].append(run["seconds"])
            texts = run["texts"]
    local = float(np.median(seconds["local"]))
    report: dict[str, Any] = {"docs": args.docs, "model": args.model, "cores": os.cpu_count()}
    report["texts"] = texts
    for how in hows:
        report[f"{how}_s"] = [round(s, 2) for s in seconds[how]]
        if how != "local":
            report[f"{how}_ratio"] = round(float(np.median(seconds[how])) / local, 3)
            report[f"{how}_vectors"] = _compare(args.work / how, args.work / "local")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
