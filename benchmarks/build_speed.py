"""Build speed on this machine: a full build against bare ``model.encode`` of the same texts,
and an unchanged rebuild against the full build.

    python benchmarks/build_speed.py [--docs 300] [--work .bench] [--rounds 2]

The corpus is the first ``--docs`` SciFact abstracts, one .txt file each. In every round, in
one process and back to back (so a busy spell of the machine hits both alike):

* a full build (``build_index(full=True)``): read, clean, chunk, embed chunks and sentences,
  write; the model already loaded;
* bare ``SentenceTransformer.encode`` of exactly the texts that build embedded (the chunks and
  their sentences, read back from the index), in one call, batch size as the build's;
  (the two change places from one round to the next, so neither always runs first;)
* the ratio of the two throughputs (target >= 0.9: the build costs little beyond the model).

Then, against the fastest full build of the rounds:

* a 1% rebuild (1% of the files changed), in the same process (the model loaded), and again
  in a fresh process (imports and the model load included);
* an unchanged rebuild in a fresh process, which must load no model and import no torch and
  read no file (target <= 1%);
* a full build in a fresh process, for its peak resident memory.

The corpus files are dated an hour back, as files people index usually are (a file modified
in the last 2 s is read again on every build). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SCIFACT = Path(os.environ.get("QA_SCIFACT", "/work/shared/datasets/scifact"))

_REBUILD = """
import json, sys, time

def peak_mb():  # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

t = time.perf_counter()
from qa import build_index
report = build_index(sys.argv[1], sys.argv[2], full=sys.argv[3] == "full")
print(json.dumps({"seconds": time.perf_counter() - t, "embedded": report.embedded,
                  "embedded_sentences": report.embedded_sentences, "wrote": report.wrote,
                  "torch_imported": "torch" in sys.modules,
                  "peak_rss_mb": peak_mb()}))
"""
HOUR = 3600


def _corpus(folder: Path, docs: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as f:
        for _, line in zip(range(docs), f, strict=False):
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    _date_back(sorted(folder.iterdir()))


def _date_back(paths: list[Path]) -> None:
    past = time.time() - HOUR
    for path in paths:
        os.utime(path, (past, past))


def _change(corpus: Path, share: float, round_: int) -> int:
    """Append a sentence to ``share`` of the files (a different slice each round), dated back."""
    files = sorted(corpus.iterdir())
    n = max(1, round(len(files) * share))
    picked = files[round_ * n : (round_ + 1) * n]
    for path in picked:
        with path.open("a", encoding="utf-8") as f:
            f.write(f"This abstract was revised in round {round_}.\n")
    _date_back(picked)
    return len(picked)


def run_json(script: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``python -c script args`` in a new process: the JSON object of its last line of
    output. A failure stops the benchmark with the end of the script's error."""
    run = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env
    )
    if run.returncode:
        raise SystemExit(f"benchmark script failed:\n{run.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def _fresh(corpus: Path, index: Path, mode: str) -> dict[str, Any]:
    """A build in a new process: its report's figures, its time and its peak memory."""
    return run_json(_REBUILD, str(corpus), str(index), mode)


def _embedded_texts(index_dir: Path) -> list[str]:
    """The texts a full build embeds: every chunk, then every sentence of the chunks."""
    from qa.indexing.index import load_index

    index = load_index(index_dir)
    chunks = [index.chunks.text(row) for row in range(len(index.chunks))]
    sentences: dict[int, str] = {}
    for row in range(len(index.chunks)):
        _, texts, _ = index.sentences(row)
        first = int(index.sentence_first[row])
        sentences.update((first + i, t) for i, t in enumerate(texts))
    return chunks + [sentences[i] for i in sorted(sentences)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--work", type=Path, default=Path(".bench"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from qa import Settings, build_index
    from qa.encode.embedding import default_batch_size, get_embedder

    corpus, index = args.work / f"build-{args.docs}", args.work / f"build-{args.docs}-index"
    _corpus(corpus, args.docs)
    settings = Settings()
    embedder = get_embedder(settings.model, settings.device)
    embedder.encode(["warm up"])
    # The floor: sentence-transformers' own encode of the same texts, on the same device.
    from sentence_transformers import SentenceTransformer

    from qa.encode.embedding import model_path

    model: Any = SentenceTransformer(str(model_path(settings.model)), device=embedder.device)
    report = build_index(corpus, index, full=True, settings=settings)
    texts = _embedded_texts(index)
    assert len(texts) == report.embedded + report.embedded_sentences

    def bare() -> float:
        t = time.perf_counter()
        batch = settings.batch_size or default_batch_size(embedder.device)  # the build's
        model.encode(texts, batch_size=batch, normalize_embeddings=True)
        return time.perf_counter() - t

    rounds = []
    for n in range(args.rounds):
        bare_s = bare() if n % 2 else 0.0
        report = build_index(corpus, index, full=True, settings=settings)
        bare_s = bare_s or bare()
        rounds.append(
            {
                "texts": len(texts),
                "build_s": report.seconds,
                "bare_encode_s": bare_s,
                "build_texts_per_s": len(texts) / report.seconds,
                "bare_texts_per_s": len(texts) / bare_s,
                "ratio": bare_s / report.seconds,
            }
        )
    full_s = min(r["build_s"] for r in rounds)
    changed = _change(corpus, 0.01, 0)
    t = time.perf_counter()
    one = build_index(corpus, index, settings=settings)
    one_percent = {
        "files": changed,
        "seconds": time.perf_counter() - t,
        "embedded": one.embedded + one.embedded_sentences,
    }
    _change(corpus, 0.01, 1)
    one_percent_fresh = _fresh(corpus, index, "incremental")
    unchanged = _fresh(corpus, index, "incremental")
    full_fresh = _fresh(corpus, index, "full")
    for part in (one_percent, one_percent_fresh, unchanged, full_fresh):
        part["share_of_full_build"] = part["seconds"] / full_s
    print(
        json.dumps(
            {
                "docs": args.docs,
                "rounds": rounds,
                "one_percent_rebuild": one_percent,
                "one_percent_rebuild_fresh": one_percent_fresh,
                "unchanged_rebuild": unchanged,
                "full_build_fresh": full_fresh,
            }
        )
    )


if __name__ == "__main__":
    main()
