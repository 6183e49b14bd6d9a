"""Run the benchmarks and write docs/benchmarks.md (``make bench``; never part of ``make test``).

    python benchmarks/report.py [--work .bench] [--million] [--reuse]

Runs ``benchmarks/scale.py`` at 100k chunks (and at 1M with ``--million``: it writes about
10 GB under ``--work`` and takes a quarter of an hour to build on 2 cores, once; later runs
reuse it), ``build_speed.py``, ``build_memory.py`` and ``query_speed.py``, then writes the
machine, the versions and every figure as a median with its range. Each part's figures are
saved under ``--work``; ``--reuse`` takes those instead of measuring a part again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "docs" / "benchmarks.md"
PACKAGES = ("numpy", "faiss-cpu", "bm25s", "torch", "sentence-transformers", "transformers")


def _run(saved: Path, reuse: bool, script: str, *args: str) -> dict[str, Any]:
    """The figures of one benchmark script: measured now, or those saved by an earlier run."""
    if reuse and saved.is_file():
        result: dict[str, Any] = json.loads(saved.read_text())
        return result
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    out = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(out.stdout.strip().splitlines()[-1])
    return _run(saved, True, script)


def _machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in PACKAGES)
    return [
        f"- machine: {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB memory "
        f"(shared with other work while measured)",
        f"- Python {platform.python_version()}, {versions}",
        f"- written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `make bench`",
    ]


def _range(values: list[float], fmt: str) -> str:
    """Median, then the range over the runs."""
    if len(values) == 1:
        return format(values[0], fmt)
    low, mid, high = (format(v, fmt) for v in (min(values), float(np.median(values)), max(values)))
    return f"{mid} ({low}–{high})"


def _scale_rows(results: dict[int, dict[str, Any]]) -> list[str]:
    sizes = sorted(results)
    head = "| | " + " | ".join(f"{n:,} chunks" for n in sizes) + " | target at 1M |"
    rows = [head, "|---" * (len(sizes) + 2) + "|"]

    def row(label: str, target: str, get: Any, fmt: str) -> None:
        cells = [_range([get(r) for r in results[n]["runs"]], fmt) for n in sizes]
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")

    def kind(run: dict[str, Any]) -> str:
        settings = ", ".join(f"{k} {v}" for k, v in run["dense_params"].items())
        return f"{run['dense_kind']} ({settings})" if settings else run["dense_kind"]

    rows.append(
        "| vector index | " + " | ".join(kind(results[n]["runs"][0]) for n in sizes) + " | |"
    )
    row("recall@10 against exact search", "≥ 0.95", lambda r: r["recall_at_10"], ".3f")
    row(
        "vector search p50, ms (100 candidates)",
        "≤ 10",
        lambda r: r["vector_search_ms"]["p50"],
        ".2f",
    )
    row("keyword top-100 p50, ms", "", lambda r: r["keyword_top_ms"]["p50"], ".2f")
    row("encoding the question p50, ms (the floor)", "", lambda r: r["encode_ms"]["p50"], ".1f")
    row("whole `search()` p50, ms", "≤ 60", lambda r: r["search_ms"]["p50"], ".1f")
    row("`search()` p90, ms", "", lambda r: r["search_ms"]["p90"], ".1f")
    row("`search()` minus encoding, p50 ms", "", lambda r: r["overhead_ms"]["p50"], ".1f")
    row("index load, s (fresh process)", "≤ 2", lambda r: r["load_s"], ".3f")
    row("vectors, MB", "", lambda r: r["vectors_mb"], ".0f")
    row("process memory with the model, MB", "", lambda r: r["memory_mb"]["model"]["rss"], ".0f")
    row("… after the queries, MB", "", lambda r: r["memory_mb"]["end"]["rss"], ".0f")
    row("index memory / vectors (all resident)", "≤ 1.5", lambda r: r["rss_ratio"], ".2f")
    row("index memory / vectors (anonymous only)", "", lambda r: r["anon_ratio"], ".2f")
    made = [results[n]["made"] for n in sizes]
    rows.append(
        "| synthetic index written in, s | "
        + " | ".join(f"{m['total_s']:.0f}" for m in made)
        + " | |"
    )
    return rows  # fmt: skip


def _build_rows(build: dict[str, Any]) -> list[str]:
    rounds, unchanged = build["rounds"], build["unchanged_rebuild"]
    one, one_fresh = build["one_percent_rebuild"], build["one_percent_rebuild_fresh"]
    full_fresh = build["full_build_fresh"]
    ratio = _range([r["ratio"] for r in rounds], ".2f")
    return [
        f"{build['docs']} SciFact abstracts, {rounds[0]['texts']:,} texts embedded "
        f"(chunks and their sentences); {len(rounds)} rounds, median (range). Rebuilds are "
        "compared with the fastest full build of the rounds (model loaded).",
        "",
        "| | value | target |",
        "|---|---|---|",
        f"| full build, texts/s | {_range([r['build_texts_per_s'] for r in rounds], '.0f')} | |",
        f"| bare `model.encode` of the same texts, texts/s | "
        f"{_range([r['bare_texts_per_s'] for r in rounds], '.0f')} | |",
        f"| build throughput / bare encode | {ratio} | ≥ 0.9 |",
        f"| 1% rebuild ({one['files']} files changed, {one['embedded']} texts embedded), s, "
        f"model loaded (as `qa build --watch` runs it) | {one['seconds']:.2f} | |",
        f"| 1% rebuild / full build | {one['share_of_full_build']:.1%} | ≤ 3% (on an H100) |",
        f"| 1% rebuild in a new process (imports included; imported torch: "
        f"{one_fresh['torch_imported']}), s | {one_fresh['seconds']:.2f} "
        f"({one_fresh['share_of_full_build']:.1%} of a full build) | |",
        f"| unchanged rebuild, s (new process, imports included) | {unchanged['seconds']:.2f} | |",
        f"| unchanged rebuild / full build | {unchanged['share_of_full_build']:.2%} | ≤ 1% |",
        f"| unchanged rebuild imported torch; wrote a generation | "
        f"{unchanged['torch_imported']}; {unchanged['wrote']} | False; False |",
        f"| peak memory (RSS), MB: full build in a new process; 1% rebuild; unchanged | "
        f"{full_fresh['peak_rss_mb']:.0f}; {one_fresh['peak_rss_mb']:.0f}; "
        f"{unchanged['peak_rss_mb']:.0f} | |",
    ]  # fmt: skip


def _memory_rows(memory: dict[str, Any]) -> list[str]:
    runs = memory["runs"]
    rows = [
        "Full builds of corpora made from SciFact abstracts, each in a new process with an "
        "instant stand-in for the model (random unit vectors), everything in the one process; "
        "anonymous resident memory (the process's own: the vectors and texts the build keeps "
        "in files are page cache), sampled every 20 ms.",
        "",
        "| files | chunks | sentences | s | peak anonymous MB | peak while reading; "
        "embedding (BM25 built here); writing (HNSW) |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        phases = run["phase_peaks_mb"]
        rows.append(
            f"| {run['files']:,} | {run['chunks']:,} | {run['sentences']:,} | "
            f"{run['seconds']:.1f} | {run['anon_peak_mb']:.0f} | {phases.get('read', 0):.0f}; "
            f"{phases.get('embed', 0):.0f}; {phases.get('write', 0):.0f} |"
        )
    rows += [
        "",
        f"Growth: {memory['mb_per_1000_chunks']:.2f} MB per 1,000 chunks (with their "
        "sentences), between the smallest and the largest corpus.",
    ]
    return rows


def _query_rows(query: dict[str, Any]) -> list[str]:
    cold, warm = query["cold"], query["warm"]

    def seconds(name: str) -> str:
        return _range([run["seconds"] for run in cold[name]], ".2f")

    def peak(name: str) -> str:
        return _range([run["peak_rss_mb"] for run in cold[name]], ".0f")

    ask, floor = ([run["seconds"] for run in cold[name]] for name in ("qa_ask", "floor"))
    ratio = [a / f for a, f in zip(ask, floor, strict=True)]
    torch = any(run["torch"] for run in cold["qa_ask"])
    p50 = warm["p50_ms"]
    return [
        f"The default corpus (`seeds/`, {warm['chunks']} chunks) with all-MiniLM-L6-v2. Cold: "
        f"{len(ask)} rounds, each script in a new process in turn, wall-clock seconds from "
        "outside (start-up included) and peak memory (VmHWM), median (range). Warm: the "
        f"{warm['questions']} seeds questions in one process, each timed with its floor "
        "beside it.",
        "",
        "| | value | target |",
        "|---|---|---|",
        f"| cold `qa ask` (answer printed), s | {seconds('qa_ask')} | ≤ 1.5 |",
        f"| … imported torch | {torch} | False |",
        f"| floor: load qa's query encoder (numpy) and encode the question, s | "
        f"{seconds('floor')} | |",
        f"| cold `qa ask` / floor | {_range(ratio, '.2f')} | |",
        f"| the interpreter starting alone, s | {seconds('interpreter')} | |",
        f"| before qa.encode.bert's floor: import sentence-transformers, load, encode, s | "
        f"{seconds('sentence_transformers_floor')} | |",
        f"| peak memory, MB: `qa ask`; floor; sentence-transformers floor | {peak('qa_ask')}; "
        f"{peak('floor')}; {peak('sentence_transformers_floor')} | |",
        f"| warm `search()` p50, ms | {p50['search']:.1f} | |",
        f"| warm floor p50 (encode the question, exact FAISS search), ms | {p50['floor']:.1f} | |",
        f"| warm `search()` / floor, median of each question's ratio | "
        f"{warm['search_over_floor_each']:.2f} | |",
        f"| warm `ask()` p50 (search, then the answer sentence), ms | {p50['ask']:.1f} | |",
        f"| warm `ask()` − `search()`, median of each question's difference (the reader's pass "
        f"included), ms | {warm['ask_minus_search_each_ms']:.1f} | ≤ 150 |",
    ]  # fmt: skip


GPU_RESULT = HERE / "gpu-h200.json"  # written by gpu_build.py on a lent GPU machine


def _reading(spans: dict[str, float]) -> float:
    """Seconds a GPU build spent on its files before planning (``_inputs`` in runs of code
    that read every file first; ``_full`` or ``_update`` since a full build streams them)."""
    if "_inputs" in spans:
        return spans["_inputs"]
    return spans.get("_full", 0.0) + spans.get("_update", 0.0)


def _reading_label(spans: dict[str, float]) -> str:
    if "_inputs" in spans:
        return "reading and cleaning (16 processes); chunking"
    return (
        "files looked at (an update reads its changed ones here); planning (a full build "
        "reads, cleans and chunks in 16 processes here)"
    )


def _mark(build: dict[str, Any], name: str) -> tuple[float, float]:
    """When a step of a build began and ended, seconds into it (its first mark so named)."""
    began, ended = next((m[2], m[3]) for m in build["marks"] if m[0] == name)
    return float(began), float(ended)


def _gpu_rows(gpu: dict[str, Any]) -> list[str]:
    """The GPU build figures that ``benchmarks/gpu_build.py`` saved (no GPU here to rerun)."""
    full, bare, one, same = gpu["full"], gpu["bare"], gpu["rebuild_1pct"], gpu["unchanged"]
    spans, load, cosine = full["spans"], bare["loading"], bare["cosine_vs_cpu_fp32"]
    texts = full["embedded"] + full["sentences"]
    embedding = spans["encode_resumable"]
    loaded, fed = _mark(full, "BertEmbedder")[1], _mark(full, "encode_resumable")[0]
    feed = [bare[f"qa_feed_fp16{k}"] for k in ("", "_other_half", "_again")]
    threads = [bare[f"qa_feed_fp16{k}"] for k in ("_threads4", "", "_threads15")]
    rows = [
        f"Measured by `benchmarks/gpu_build.py` on {gpu['device']}, {gpu['date']}: "
        f"{gpu['versions']}; {gpu['weights']}; bytecode {gpu['bytecode']}. `make bench` does "
        "not rerun it (no GPU here);",
        "the figures are saved in `benchmarks/gpu-h200.json`. Every build runs in a new "
        "process, imports and model load included.",
        "",
        "| | value | target |",
        "|---|---|---|",
        f"| full build: {full['files']:,} files, {full['embedded']:,} chunks + "
        f"{full['sentences']:,} sentences, s | {full['seconds']:.1f} | |",
        f"| full build, texts/s end to end | {full['texts_per_s']:,.0f} | ≥ 15,000 (H100) |",
        f"| … {_reading_label(spans)}; embedding; writing, s | {_reading(spans):.1f}; "
        f"{spans['_plan']:.1f}; {embedding:.1f}; {spans['_write']:.1f} | |",
        f"| … embedding alone, texts/s | {texts / embedding:,.0f} | |",
        f"| … the model, loading while files are read: loaded, then meeting batch shapes "
        f"until the first batch came, s into the build | {loaded:.1f}; {fed:.1f} | |",
        f"| bare sentence-transformers `encode`, float16, texts/s (a sample of {bare['texts']:,}, "
        f"longest first, batch 256) | {bare['st_encode_fp16']:,.0f} | |",
        f"| qa's encoder (qa.encode.feed, float16), shapes met ahead "
        f"({bare['warm_up_s']:.1f} s): one "
        f"half of the sample; the other; the first again, texts/s | "
        f"{feed[0]:,.0f}; {feed[1]:,.0f}; {feed[2]:,.0f} | |",
        f"| … against sentence-transformers' float16 `encode` | "
        f"{feed[0] / bare['st_encode_fp16']:.1f}× | |",
        f"| … batches of 512, shapes not met ahead, texts/s | "
        f"{bare['qa_feed_fp16_batch512']:,.0f} | |",
        f"| … tokenizer threads 4; 8; 15, texts/s | "
        f"{threads[0]:,.0f}; {threads[1]:,.0f}; {threads[2]:,.0f} | |",
        f"| tokenizing alone (8 threads); forward passes alone (inputs already on the GPU), "
        f"texts/s | {bare['tokenize_alone']:,.0f}; {bare['forward_alone_fp16']:,.0f} | |",
        f"| float16 vectors against CPU float32 ones, cosine min; mean ({cosine['texts']:,} "
        f"texts) | {cosine['min']:.7f}; {cosine['mean']:.7f} | ≥ 0.999 |",
        f"| model load in a new process: torch; CUDA; model, s | "
        f"{load['torch']:.2f}; {load['cuda_init']:.2f}; {load['model']:.2f} | |",
        f"| 1% rebuild ({one['embedded'] + one['sentences']:,} texts), s; share of the full "
        f"build | {one['seconds']:.1f}; {one['share_of_full']:.0%} | ≤ 3% (H100) |",
        f"| … looking at the files; opening the previous index; planning; embedding; writing, "
        f"s | {_reading(one['spans']):.1f}; {one['spans']['_load_previous']:.1f}; "
        f"{one['spans']['_plan']:.1f}; {one['spans']['_embed']:.1f}; "
        f"{one['spans']['_write']:.1f} | |",
        f"| unchanged rebuild, s; share of the full build | {same['seconds']:.2f}; "
        f"{same['share_of_full']:.1%} | |",
        f"| peak memory: build RSS; GPU (torch), MB | {full['peak_rss_mb']:,.0f}; "
        f"{full['gpu_peak_mb']:,.0f} | |",
    ]
    h100 = gpu.get("h100")
    if h100 is not None:  # the same code and run on the kind of machine the targets name
        f, b = h100["full"], h100["bare"]
        rows += [
            "",
            f"The same run on {h100['device']}, {h100['date']} (in `h100`): full build "
            f"{f['seconds']:.1f} s, {f['texts_per_s']:,.0f} texts/s end to end (target 15,000); "
            f"{_reading_label(f['spans'])}: {_reading(f['spans']):.1f} s; "
            f"{f['spans']['_plan']:.1f} s, "
            f"embedding {f['spans']['encode_resumable']:.1f} s, writing "
            f"{f['spans']['_write']:.1f} s; qa's encoder {b['qa_feed_fp16']:,.0f} texts/s "
            f"(4 tokenizer threads: {b['qa_feed_fp16_threads4']:,.0f}), forward passes alone "
            f"{b['forward_alone_fp16']:,.0f}, tokenizing alone {b['tokenize_alone']:,.0f}; "
            f"1% rebuild {h100['rebuild_1pct']['seconds']:.1f} s "
            f"({h100['rebuild_1pct']['share_of_full']:.0%}), unchanged "
            f"{h100['unchanged']['seconds']:.2f} s ({h100['unchanged']['share_of_full']:.1%}).",
        ]
    rows += [
        "",
        "Earlier code, on the H200, same corpus:",
        "",
        "| code | full build, s | texts/s | 1% rebuild, s | unchanged, s |",
        "|---|---|---|---|---|",
    ]
    for run in gpu.get("earlier", []):
        rows.append(
            f"| {run['what']} | {run['full_seconds']:.1f} | {run['full_texts_per_s']:,} | "
            f"{run['rebuild_1pct_seconds']:.1f} | {run['unchanged_seconds']:.2f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(".bench"))
    parser.add_argument("--million", action="store_true", help="also the 1M-chunk scale run")
    parser.add_argument("--reuse", action="store_true", help="take saved figures where there are")
    parser.add_argument(
        "--base-index",
        help="a qa index of SciFact whose vectors the scale runs perturb (make bench uses the "
        "one `qa eval --beir` builds; without it, 3,000 abstracts are embedded, which at 1M "
        "makes 333 near-copies of each vector and a much harder recall test)",
    )
    args = parser.parse_args()
    work, reuse = args.work, args.reuse
    sizes = [100_000, 1_000_000] if args.million else [100_000]
    scale = {
        n: _run(
            work / f"scale-{n}.result.json",
            reuse,
            "scale.py",
            "--chunks",
            str(n),
            "--work",
            str(work),
            *(["--base-index", args.base_index] if args.base_index else []),
        )
        for n in sizes
    }
    build = _run(work / "build.result.json", reuse, "build_speed.py", "--work", str(work))
    memory = _run(work / "memory.result.json", reuse, "build_memory.py", "--work", str(work))
    query = _run(work / "query.result.json", reuse, "query_speed.py", "--work", str(work))
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/report.py`); `make bench BENCH_1M=1` adds the",
        "1M-chunk run. Every ratio compares figures measured in the same run.",
        "",
        *_machine(),
        "",
        "## Scale (`benchmarks/scale.py`)",
        "",
        "Synthetic indexes written by `qa.indexing.index`: the chunk and sentence embeddings of "
        "the",
        "SciFact index `qa eval --beir` builds (all-MiniLM-L6-v2) perturbed to N rows, SciFact",
        "sentences as texts (4 a chunk, 2 chunks a document), 200 SciFact claims as questions.",
        "Each column: 3 fresh processes, median (range). Memory: resident set beyond the",
        "process with the model loaded; memory-mapped index pages are page cache the kernel",
        "can take back, the anonymous part is the process's own.",
        "",
        *_scale_rows(scale),
        "",
        "## Build (`benchmarks/build_speed.py`)",
        "",
        *_build_rows(build),
        "",
        "## Build memory (`benchmarks/build_memory.py`)",
        "",
        *_memory_rows(memory),
        "",
        "## Query (`benchmarks/query_speed.py`)",
        "",
        *_query_rows(query),
        "",
    ]
    if GPU_RESULT.is_file():
        gpu = json.loads(GPU_RESULT.read_text(encoding="utf-8"))
        lines += ["## GPU build (`benchmarks/gpu_build.py`)", "", *_gpu_rows(gpu), ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
