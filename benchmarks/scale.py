"""Scale benchmark: a synthetic index of N chunks, written and queried as a real one is.

    python benchmarks/scale.py --chunks 100000 [--work .bench] [--base-index DIR] [--queries 200]

Vectors: real all-MiniLM-L6-v2 embeddings of SciFact (chunk and sentence vectors), each copy
perturbed (Gaussian noise, sigma 0.03 a dimension, renormalised: a query's nearest chunks then
sit as close as in SciFact itself, top-1 cosine about 0.65). They come from ``--base-index``
(any qa index of SciFact, e.g. the one ``qa eval --beir`` builds under ``.eval-cache``), else
from embedding a sample of SciFact here. Texts, for BM25 and for the passages returned: SciFact
sentences, four to a chunk, two chunks to a document. Queries: SciFact claims.

The index is written by ``qa.indexing.index.save_index`` (so HNSW is built from 50,000 chunks on)
under
``--work`` and reused by later runs. Each measurement then runs in a fresh process:

* recall@10 of the vector index against exact search (faiss.knn over every vector);
* the vector search alone, as retrieval calls it (100 candidates), p50 ms;
* the whole public ``search()`` (encode the claim, dense + BM25 candidates, best sentences,
  fusion, near-duplicate collapse), p50 ms, and beside it, interleaved, encoding the claim
  alone (the floor no index can go under);
* index load (``load_index`` in a new process, the model already loaded), seconds;
* the query process's resident memory after the queries, against the vectors' size plus the
  model (the process's memory with the model loaded, before the index); all of it, and the
  anonymous part (memory-mapped index pages are file-backed page cache, shared and
  reclaimable).

Prints one JSON object; ``benchmarks/report.py`` (``make bench``) turns it into
docs/benchmarks.md. Targets on a 2-core machine at 1M chunks: recall@10 >= 0.95, vector search
p50 <= 10 ms, search() p50 <= 60 ms, load <= 2 s, RSS <= 1.5x vectors + model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SCIFACT = Path(os.environ.get("QA_SCIFACT", "/work/shared/datasets/scifact"))
SIGMA = 0.03
SENTENCES_PER_CHUNK = 4
CHUNKS_PER_DOCUMENT = 2
CANDIDATES = 100  # what retrieval asks the vector index for (Settings.fusion_candidates)


def _memory_mb() -> dict[str, float]:
    """Resident memory of this process: all of it, and its anonymous and file-backed parts
    (memory-mapped index pages are file-backed: page cache the kernel can take back)."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in fields:
            out[fields[key]] = int(line.split()[1]) / 1024
    return out


def _claims(limit: int) -> list[str]:
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for _, line in zip(range(limit), f, strict=False)]


def _sentences() -> list[str]:
    """Every sentence of the SciFact abstracts (qa's own splitter)."""
    from qa.ingest.sentences import split_sentences

    out = []
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            out += [" ".join(s.of(text).split()) for s in split_sentences(text)]
    return [s for s in out if len(s.split()) >= 3]


def _base_vectors(work: Path, base_index: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Real chunk and sentence embeddings to perturb: from an index, or embedded here."""
    if base_index is not None:
        gen = base_index / (base_index / "CURRENT").read_text().strip()
        return np.load(gen / "vectors.npy"), np.load(gen / "sentence_vectors.npy")
    cache = work / "base-vectors.npz"
    if not cache.is_file():
        from qa.config import DEFAULT_MODEL
        from qa.encode.embedding import get_embedder

        with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as f:
            docs = [json.loads(line) for _, line in zip(range(3000), f, strict=False)]
        embedder = get_embedder(DEFAULT_MODEL)
        chunks = embedder.encode([f"{d['title']}\n{d['text']}" for d in docs])
        sentences = embedder.encode(_sentences()[:12000])
        np.savez(cache, chunks=chunks, sentences=sentences)
    data = np.load(cache)
    return data["chunks"], data["sentences"]


def perturbed(base: np.ndarray, n: int, seed: int, out: np.ndarray | None = None) -> np.ndarray:
    """n unit vectors, each a random row of base plus noise (sigma SIGMA a dimension)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), np.float32) if out is None else out
    for a in range(0, n, 100_000):
        b = min(n, a + 100_000)
        x = base[rng.integers(0, len(base), b - a)]
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * SIGMA
        out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def layout(n_chunks: int, pool: list[str], seed: int = 0) -> list[list[list[str]]]:
    """Documents, as lists of chunks, as lists of SciFact sentences."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(pool), (n_chunks, SENTENCES_PER_CHUNK))
    chunks = [[pool[i] for i in row] for row in picks]
    return [chunks[a : a + CHUNKS_PER_DOCUMENT] for a in range(0, n_chunks, CHUNKS_PER_DOCUMENT)]


def synthesize(
    index_dir: Path, n_chunks: int, base: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    """Write a synthetic index of n_chunks chunks; returns what it took."""
    from qa.config import DEFAULT_MODEL
    from qa.indexing.index import ChunkRows, IndexData, save_index
    from qa.indexing.keyword import DESCRIPTION, KeywordIndex
    from qa.indexing.manifest import Boilerplate, DocumentRecord, Manifest, ModelInfo
    from qa.types import Chunk

    t0 = time.perf_counter()
    documents, chunks, spans = [], [], []
    for d, doc_chunks in enumerate(layout(n_chunks, _sentences())):
        source, pos, first_chunk, first_sentence = f"d{d:07d}.txt", 0, len(chunks), len(spans)
        title, text_parts = doc_chunks[0][0][:80], []
        for sentences in doc_chunks:
            start, s0 = pos, len(spans)
            for s in sentences:
                spans.append((pos, pos + len(s)))
                pos += len(s) + 1
            body = " ".join(sentences)
            text_parts.append(body)
            chunks.append(
                Chunk(
                    source,
                    start,
                    start + len(body),
                    body,
                    title,
                    None,
                    "",
                    s0,
                    len(spans),
                )
            )
        text = " ".join(text_parts)
        documents.append(
            DocumentRecord(
                source, hashlib.sha256(text.encode()).hexdigest(), len(text), 0,
                title, None, first_chunk, len(doc_chunks), first_sentence,
                len(spans) - first_sentence, Boilerplate(False, 0, len(text)),
            )
        )  # fmt: skip
    t_layout = time.perf_counter() - t0
    index_dir.mkdir(parents=True, exist_ok=True)
    sentence_vectors = np.lib.format.open_memmap(
        index_dir.parent / f"{index_dir.name}.sentences.tmp.npy",
        "w+",
        np.float32,
        (len(spans), 384),
    )
    perturbed(base[1], len(spans), 2, out=sentence_vectors)
    t = time.perf_counter()
    keyword = KeywordIndex.build([c.text for c in chunks])
    t_keyword = time.perf_counter() - t
    rows = ChunkRows.write(chunks, documents, index_dir.parent / f"{index_dir.name}.chunks.tmp")
    del chunks
    data = IndexData(
        documents, rows, perturbed(base[0], n_chunks, 1), keyword,
        np.array(spans, np.int64), sentence_vectors, {},
    )  # fmt: skip
    manifest = Manifest(
        "", str(SCIFACT), ModelInfo(DEFAULT_MODEL, 384, True, 254), {}, DESCRIPTION, 0
    )
    t = time.perf_counter()
    save_index(index_dir, manifest, data)
    t_write = time.perf_counter() - t
    Path(sentence_vectors.filename).unlink()
    rows.texts.unlink()
    return {
        "chunks": n_chunks,
        "documents": len(documents),
        "sentences": len(spans),
        "layout_s": t_layout,
        "keyword_build_s": t_keyword,
        "write_s": t_write,  # the vector index's build included
        "total_s": time.perf_counter() - t0,
    }


def _spread(values: list[float]) -> dict[str, float]:
    """Median and the 10th and 90th percentiles."""
    p10, p50, p90 = np.percentile(np.asarray(values), [10, 50, 90])
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90)}


def measure(index_dir: Path, queries: int) -> dict[str, Any]:
    """Load the index in this (fresh) process and query it: the figures of the module doc."""
    import faiss

    from qa import search
    from qa.config import DEFAULT_MODEL, Settings
    from qa.encode.embedding import get_query_embedder
    from qa.searching.query import _load  # what search() calls first: timed alone here

    settings = Settings(model=DEFAULT_MODEL)
    memory = {"start": _memory_mb()}
    # The encoder search() itself uses (qa.encode.bert's, no torch): the floor, and the model's
    # memory, are those of the real query path.
    embedder = get_query_embedder(DEFAULT_MODEL)
    claims = _claims(queries)
    vectors = embedder.encode(claims)
    memory["model"] = _memory_mb()
    t = time.perf_counter()
    index = _load(index_dir, settings).index
    load_s = time.perf_counter() - t
    memory["loaded"] = _memory_mb()
    vector_ms, found, keyword_ms = [], [], []
    for claim, v in zip(claims, vectors, strict=True):
        t = time.perf_counter()
        _, rows = index.dense.search(v[None], CANDIDATES)
        vector_ms.append((time.perf_counter() - t) * 1000)
        found.append(rows[0][:10])
        t = time.perf_counter()
        index.keyword.top(claim, CANDIDATES)
        keyword_ms.append((time.perf_counter() - t) * 1000)
    search(claims[0], k=5, index_dir=index_dir, settings=settings)  # first touch, untimed
    search_ms, encode_ms = [], []
    for claim in claims:  # interleaved: a busy spell of the machine slows both alike
        t = time.perf_counter()
        embedder.encode([claim])
        encode_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        search(claim, k=5, index_dir=index_dir, settings=settings)
        search_ms.append((time.perf_counter() - t) * 1000)
    memory["end"] = _memory_mb()
    # The exact neighbours last: reading every vector would count in the memory above.
    every = index.vectors[: len(index.vectors)]
    _, truth = faiss.knn(vectors, every, 10, metric=faiss.METRIC_INNER_PRODUCT)
    recall = [
        len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(found, truth, strict=True)
    ]
    vector_mb = index.vectors.nbytes / 2**20
    return {
        "chunks": len(index.chunks),
        "sentences": len(index.sentence_spans),
        "dense_kind": index.dense.kind,
        "dense_params": index.dense.params(),
        "queries": len(claims),
        "recall_at_10": float(np.mean(recall)),
        "vector_search_ms": _spread(vector_ms),
        "keyword_top_ms": _spread(keyword_ms),
        "encode_ms": _spread(encode_ms),
        "search_ms": _spread(search_ms),
        "overhead_ms": _spread([s - e for s, e in zip(search_ms, encode_ms, strict=True)]),
        "load_s": load_s,
        "memory_mb": memory,
        "vectors_mb": vector_mb,
        # Index memory per byte of vectors (target <= 1.5), all of it and its anonymous part.
        "rss_ratio": (memory["end"]["rss"] - memory["model"]["rss"]) / vector_mb,
        "anon_ratio": (memory["end"]["anon"] - memory["model"]["anon"]) / vector_mb,
    }


def _measure_in_new_process(index_dir: Path, queries: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(index_dir), "--queries", str(queries)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path(".bench"))
    parser.add_argument("--base-index", type=Path, default=None)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--loads", type=int, default=3, help="fresh processes measured")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:  # the child: one fresh process, one measurement
        print(json.dumps(measure(args.measure, args.queries)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    index_dir = args.work / f"scale-{args.chunks}"
    made_file = index_dir / "synthetic.json"
    if not made_file.is_file():
        made = synthesize(index_dir, args.chunks, _base_vectors(args.work, args.base_index))
        made_file.write_text(json.dumps(made))
    runs = [_measure_in_new_process(index_dir, args.queries) for _ in range(args.loads)]
    print(json.dumps({"made": json.loads(made_file.read_text()), "runs": runs}))


if __name__ == "__main__":
    main()
