"""Build throughput on a GPU: a full build of a corpus made from SciFact abstracts against bare
encodes of the same texts, float16 vectors against CPU float32 ones, a 1% rebuild.

    python benchmarks/gpu_build.py --docs 20000 --work /tmp/gpu --reference ref.npz --out r.json
    python benchmarks/gpu_build.py --make-reference ref.npz      (on the CPU, float32)

Every build runs in a fresh process (imports and the model load included), as ``qa build``
does. Where the installed packages carry no compiled bytecode (the lent GPU machines' image:
every process compiled torch's modules again, 5.5 s to import torch), compile it once first,
as any pip install has: ``PYTHONPYCACHEPREFIX=/tmp/pyc python -c "import torch, qa.indexing.build"``
with the same variable set for this script. In order, one JSON object written to ``--out``
after each step:

* ``full``: a full build; texts/s counts chunks and sentences embedded over the whole run;
  ``phases`` says when reading, embedding and writing began (seconds into the build),
  ``spans`` how long each step took, ``marks`` when steps began and ended, in which thread;
* ``full_profiled`` (with ``--profile FILE``): the same build again, its main thread under
  cProfile (slower), the top functions written to FILE;
* ``bare``: in one process, the model loaded once, on an evenly spaced sample of the texts
  that build embedded, longest first, batch 256: sentence-transformers' ``encode`` in
  float16; qa's build encoder (qa.encode.feed), warmed up as a build warms it (``warm_up_s``), on
  one half of the sample, then on the other half, on the first again, with batches of 512
  (shapes not warmed up), with 4 and 15 tokenizer threads; the tokenizer alone; and the
  model's forward passes alone on batches tokenized and copied to the GPU beforehand (the
  ceiling);
* ``cosine``: the build encoder's float16 vectors of the reference texts against float32
  vectors made on a CPU by ``--make-reference`` (2,000 SciFact titles and abstracts);
* ``rebuild``: 1% of the files changed, then an unchanged rebuild, against the full build.
* ``resident``: 1% rebuilds in a process that stays, as ``qa build --watch`` runs them: the
  model loaded and warmed up once (as the watcher's first build leaves it), then three
  rounds of another 1% of the files changed and built.

The corpus: file i holds abstract i mod 5,183 and, from the second round on, a second
abstract and the file's number on every sentence, so that no text repeats (a build embeds
each distinct text once); dated an hour back.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from build_speed import SCIFACT, _change, _date_back, _embedded_texts, run_json

# The steps of qa.indexing.build a build's time is split into (tests/test_benchmarks.py: they
# exist).
STEPS = ("_full", "_update", "_load_previous", "_plan", "get_embedder", "_embed", "_write",
         "_keywords_later", "get_build_embedder", "encode_resumable", "preload")  # fmt: skip
_BUILD = """
import json, os, sys, threading, time
t = time.perf_counter()
phases = {}
def phase(name, done, total):
    phases.setdefault(name, round(time.perf_counter() - t, 2))
from qa import Settings, build_index
from qa.encode.embedding import default_batch_size, get_embedder
import qa.indexing.build, qa.ingest.documents, qa.encode.embedding, qa.indexing.checkpoint
spans = {}
marks = []  # (what, thread, began, ended): seconds into the build
def timed(module, name, total=True):  # seconds spent in one step of the build
    step = getattr(module, name)
    def run(*args, **kwargs):
        t1 = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            t2 = time.perf_counter()
            if total:
                spans[name] = round(spans.get(name, 0) + t2 - t1, 2)
            thread = threading.current_thread().name
            marks.append((name, thread, round(t1 - t, 2), round(t2 - t, 2)))
    setattr(module, name, run)
for name in STEPS:
    timed(qa.indexing.build, name)
timed(qa.ingest.documents, "scan", False)
timed(qa.encode.embedding, "BertEmbedder", False)
import qa.encode.feed
timed(qa.encode.feed.AheadEncoder, "warm_up", False)
profile = os.environ.get("QA_PROFILE")
if profile:
    import cProfile, pstats
    prof = cProfile.Profile()
    prof.enable()
report = build_index(sys.argv[1], sys.argv[2], full=sys.argv[3] == "full", phases=phase,
                     processes=None)  # as `qa build` does
seconds = time.perf_counter() - t
if profile:
    prof.disable()
    with open(profile, "w") as f:
        for key in ("tottime", "cumulative"):
            pstats.Stats(prof, stream=f).sort_stats(key).print_stats(35)
out = {"seconds": seconds, "embedded": report.embedded, "sentences": report.embedded_sentences,
       "files": report.files, "chunks": report.chunks, "wrote": report.wrote, "phases": phases,
       "spans": spans, "marks": sorted(marks, key=lambda m: m[2]),
       "torch": "torch" in sys.modules}
if report.embedded:
    embedder = get_embedder(Settings.from_env().model)
    out.update(device=embedder.device, precision=getattr(embedder, "precision", "?"),
               batch=default_batch_size(embedder.device))
    import torch
    if torch.cuda.is_available():
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        out["peak_rss_mb"] = int(line.split()[1]) / 1024
print(json.dumps(out))
"""

# 1% rebuilds in one process with the model loaded and warm (qa build --watch).
_RESIDENT = """
import json, sys, time
sys.path.insert(0, sys.argv[3])
from build_speed import _change
from qa import Settings, build_index
from qa.encode.embedding import Streaming, default_batch_size, get_embedder
t = time.perf_counter()
embedder = get_embedder(Settings.from_env().model)
if isinstance(embedder, Streaming):
    embedder.warm_up(default_batch_size(embedder.device))
out = {"loaded_s": round(time.perf_counter() - t, 2), "device": embedder.device, "rounds": []}
for round_ in (1, 2, 3):
    _change(__import__("pathlib").Path(sys.argv[1]), 0.01, round_)
    t = time.perf_counter()
    report = build_index(sys.argv[1], sys.argv[2], processes=None)
    out["rounds"].append({"seconds": round(time.perf_counter() - t, 3),
                          "texts": report.embedded + report.embedded_sentences})
print(json.dumps(out))
"""


def _corpus(folder: Path, docs: int) -> None:
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as f:
        abstracts = [json.loads(line) for line in f]
    folder.mkdir(parents=True, exist_ok=True)
    n = len(abstracts)
    for i in range(docs):
        a = abstracts[i % n]
        text = f"{a['title']}\n\n{a['text']}\n"
        if i >= n:  # a second abstract, and the file's number on each sentence: no text repeats
            b = abstracts[(i * 7919) % n]
            text = re.sub(r"(?<=[.!?]) ", f" [{i}] ", text + f"\n{b['text']}\n")
        (folder / f"doc{i:06d}.txt").write_text(text, encoding="utf-8")
    _date_back(sorted(folder.iterdir()))


def _fresh(corpus: Path, index: Path, mode: str, profile: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ, QA_PROFILE=str(profile)) if profile else None
    result = run_json(_BUILD.replace("STEPS", repr(STEPS)), str(corpus), str(index), mode, env=env)
    result["texts_per_s"] = (result["embedded"] + result["sentences"]) / result["seconds"]
    return result


def _reference_texts() -> list[str]:
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as f:
        abstracts = [json.loads(line) for _, line in zip(range(1000), f, strict=False)]
    return [a["title"] for a in abstracts] + [f"{a['title']}\n{a['text']}" for a in abstracts]


def make_reference(path: Path) -> None:
    import numpy as np

    from qa.config import DEFAULT_MODEL
    from qa.encode.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu")
    np.save(path, embedder.encode(_reference_texts(), 64))


def _timed(run: Any, sync: Any) -> float:
    sync()
    t = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - t


def bare(texts: list[str], model_id: str, reference: Path | None) -> dict[str, Any]:
    """Throughputs of the model on texts (sorted longest first), the model loaded once."""
    t = time.perf_counter()
    import numpy as np
    import torch

    loading = {"torch": time.perf_counter() - t}
    if torch.cuda.is_available():
        torch.zeros(1, device="cuda")
        loading["cuda_init"] = time.perf_counter() - t - sum(loading.values())
    from qa.encode.embedding import BertEmbedder, model_path
    from qa.encode.feed import AheadEncoder

    embedder = BertEmbedder(model_id)  # the build's encoder: float16 on a CUDA GPU
    loading["model"] = time.perf_counter() - t - sum(loading.values())
    import sentence_transformers

    loading["sentence_transformers"] = time.perf_counter() - t - sum(loading.values())
    model: Any = sentence_transformers.SentenceTransformer(
        str(model_path(model_id)), device=embedder.device
    )
    if embedder.device == "cuda":
        model.half()
    loading["sentence_transformers_model"] = time.perf_counter() - t - sum(loading.values())
    sync = torch.cuda.synchronize if embedder.device == "cuda" else (lambda: None)
    batch = 256
    out: dict[str, Any] = {"texts": len(texts), "device": embedder.device, "loading": loading}

    def st_encode() -> None:
        model.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)

    ahead = embedder._ahead
    out["warm_up_s"] = _timed(lambda: ahead.warm_up(batch), sync)  # every shape, as a build
    ahead.encode(texts[: batch * 2], batch)
    first, second = texts[0::2], texts[1::2]  # two halves of one spread of lengths
    out["qa_feed_fp16"] = len(first) / _timed(lambda: ahead.encode(first, batch), sync)
    out["qa_feed_fp16_other_half"] = len(second) / _timed(lambda: ahead.encode(second, batch), sync)
    out["qa_feed_fp16_again"] = len(first) / _timed(lambda: ahead.encode(first, batch), sync)
    out["qa_feed_fp16_batch512"] = len(first) / _timed(lambda: ahead.encode(first, 512), sync)
    for threads in (4, 15):
        other = AheadEncoder(
            ahead._forward,
            model_path(model_id),
            dimension=embedder.dimension,
            max_length=embedder.max_tokens + 2,
            lower=ahead._lower,
            token_types=False,
            device=torch.device(embedder.device),
            threads=threads,
        )
        out[f"qa_feed_fp16_threads{threads}"] = len(first) / _timed(
            lambda encoder=other: encoder.encode(first, batch), sync
        )
    batches = [first[i : i + batch] for i in range(0, len(first), batch)]
    out["tokenize_alone"] = len(first) / _timed(
        lambda: list(ahead._pool.map(ahead._tokenize, batches)), sync
    )
    out["st_encode_fp16"] = len(texts) / _timed(st_encode, sync)
    tokenized = [
        {k: v.to(embedder.device) for k, v in ahead._tokenize(b)[0].items()} for b in batches
    ]

    def forward() -> None:
        for features in tokenized:
            ahead._forward(features)

    out["forward_alone_fp16"] = len(first) / _timed(forward, sync)
    if reference is not None:
        got = embedder.encode(_reference_texts(), batch)
        cosine = (got * np.load(reference)).sum(axis=1)
        out["cosine_vs_cpu_fp32"] = {
            "min": float(cosine.min()),
            "mean": float(cosine.mean()),
            "below_0.999": int((cosine < 0.999).sum()),
            "texts": len(cosine),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=Path(".bench/gpu"))
    parser.add_argument("--bare-texts", type=int, default=60_000)
    parser.add_argument("--reference", type=Path, default=None)
    parser.add_argument("--make-reference", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None, help="profile of a second build")
    parser.add_argument("--bare", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_reference:
        make_reference(args.make_reference)
        return
    from qa.config import Settings

    model_id = Settings.from_env().model
    if args.bare:  # the child process of the bare step
        texts = json.loads(args.bare.read_text(encoding="utf-8"))
        print(json.dumps(bare(texts, model_id, args.reference)))
        return

    results: dict[str, Any] = {"docs": args.docs, "cpus": os.cpu_count()}

    def save(key: str, value: Any) -> None:
        results[key] = value
        print(key, json.dumps(value), flush=True)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")

    corpus, index = args.work / f"corpus-{args.docs}", args.work / f"index-{args.docs}"
    if not corpus.exists():
        _corpus(corpus, args.docs)
    save("full", _fresh(corpus, index, "full"))
    if args.profile:  # the same build again, its main thread under cProfile
        save("full_profiled", _fresh(corpus, args.work / "index-profiled", "full", args.profile))
    texts = sorted(_embedded_texts(index), key=len, reverse=True)
    step = max(1, len(texts) // args.bare_texts)
    sample = args.work / "bare-texts.json"
    sample.write_text(json.dumps(texts[::step]), encoding="utf-8")
    command = [sys.executable, __file__, "--bare", str(sample)]
    if args.reference:
        command += ["--reference", str(args.reference)]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode:
        raise SystemExit(f"bare encode failed:\n{run.stderr[-4000:]}")
    save("bare", json.loads(run.stdout.strip().splitlines()[-1]))
    _change(corpus, 0.01, 0)
    rebuild = _fresh(corpus, index, "update")
    rebuild["share_of_full"] = rebuild["seconds"] / results["full"]["seconds"]
    save("rebuild_1pct", rebuild)
    unchanged = _fresh(corpus, index, "update")
    unchanged["share_of_full"] = unchanged["seconds"] / results["full"]["seconds"]
    save("unchanged", unchanged)
    resident = run_json(_RESIDENT, str(corpus), str(index), str(Path(__file__).parent))
    seconds = sorted(r["seconds"] for r in resident["rounds"])
    resident["median_s"] = seconds[len(seconds) // 2]
    resident["share_of_full"] = resident["median_s"] / results["full"]["seconds"]
    save("resident", resident)


if __name__ == "__main__":
    main()
