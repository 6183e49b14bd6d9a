"""Build memory against corpus size: does what a full build holds grow with the corpus?

    python benchmarks/build_memory.py [--docs 5000 20000] [--work .bench] [--processes 1]

For each size, a corpus of that many files made from SciFact abstracts (as
``benchmarks/gpu_build.py`` makes them: past 5,183 files each holds two abstracts, numbered so
that no text repeats) is built in full in a new process, with an instant stand-in for the model
(random unit vectors): the model's own memory does not depend on the corpus, and a real model
on this machine would take hours at these sizes. A thread samples the process's anonymous
resident memory (``RssAnon``: what the process itself holds; memory-mapped files are page
cache the kernel can take back) every 20 ms, and notes the peak of each build phase.

With ``--processes 1`` (this machine's default) everything runs in the one process, so its
peak is the build's whole memory. Prints one JSON object: a run a size, and the growth in MB
per 1,000 chunks between the smallest and the largest.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_BUILD = """
import json, sys, threading, time
from pathlib import Path
import numpy as np
import qa.indexing.build
from qa.config import DEFAULT_MODEL

class Instant:  # the model's work done at once: random unit vectors
    model_id, dimension, max_tokens, device = DEFAULT_MODEL, 384, 256, "cpu"
    def encode(self, texts, batch_size=64, progress=None):
        rng = np.random.default_rng(len(texts))
        out = rng.standard_normal((len(texts), 384), dtype=np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        if progress:
            progress(len(texts))
        return out
    def token_counts(self, texts):
        return [len(t) // 5 for t in texts]

instant = Instant()
qa.indexing.build.get_embedder = lambda *a, **k: instant
qa.indexing.build.get_build_embedder = lambda *a, **k: instant
qa.indexing.build.preload = lambda *a, **k: None

def anon_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0

phase, peaks, done = ["start"], {}, threading.Event()
def sample():
    while not done.is_set():
        peaks[phase[0]] = max(peaks.get(phase[0], 0.0), anon_mb())
        done.wait(0.02)

if __name__ == "__main__":
    corpus, index, processes = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    before = anon_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    report = qa.indexing.build.build_index(
        corpus, index, full=True, processes=processes,
        phases=lambda name, done_, total: phase.__setitem__(0, name),
    )
    seconds = time.perf_counter() - t
    done.set()
    sampler.join()
    sentences = int(np.load(next(index.glob("gen-*")) / "sentences.npy", mmap_mode="r").shape[0])
    print(json.dumps({
        "files": report.files, "chunks": report.chunks, "sentences": sentences,
        "seconds": round(seconds, 2), "anon_before_mb": round(before, 1),
        "anon_peak_mb": round(max(peaks.values()), 1),
        "phase_peaks_mb": {k: round(v, 1) for k, v in peaks.items()},
    }))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--docs", type=int, nargs="+", default=[5000, 20000], help="two sizes or more"
    )
    parser.add_argument("--work", type=Path, default=Path(".bench"))
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    if len(set(args.docs)) < 2:
        parser.error("--docs needs two sizes or more: growth is measured between them")
    sys.path.insert(0, str(HERE))
    from build_speed import run_json
    from gpu_build import _corpus

    runs = []
    for docs in sorted(args.docs):
        corpus, index = args.work / f"memory-corpus-{docs}", args.work / f"memory-index-{docs}"
        if not corpus.is_dir():
            _corpus(corpus, docs)
        runs.append(run_json(_BUILD, str(corpus), str(index), str(args.processes)))
    small, large = runs[0], runs[-1]
    growth = (large["anon_peak_mb"] - small["anon_peak_mb"]) / (large["chunks"] - small["chunks"])
    print(
        json.dumps({"processes": args.processes, "runs": runs, "mb_per_1000_chunks": growth * 1000})
    )


if __name__ == "__main__":
    main()
