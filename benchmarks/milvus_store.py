"""Both stores at N synthetic chunks: the local index folder against Milvus Lite.

    python benchmarks/milvus_store.py --chunks 100000 [--work .bench] [--base-index DIR]

The synthetic index is benchmarks/scale.py's (SciFact sentences and perturbed real embeddings,
written by ``save_index``; built once under ``--work``). It is published to Milvus Lite as
``qa build --store milvus:...`` publishes a build (``qa.indexing.milvus.publish``). Then, each
store in a fresh process: load, recall@10 of its vector search against exact search, the
public ``search()`` p50 (the same SciFact claims), the process's resident memory after the
queries, and the store's size on disk. Prints one JSON object.

Milvus Lite 3 runs inside the querying process (a gRPC server on threads): its memory is the
process's. Against a Milvus server the query process holds only the vocabulary and a cache
of document records.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # benchmarks/scale.py

CANDIDATES = 100


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def measure(index_dir: Path, store: str, queries: int) -> dict[str, Any]:
    """One store, in this (fresh) process."""
    import faiss

    from qa import search
    from qa.config import DEFAULT_MODEL, Settings
    from qa.encode.embedding import get_query_embedder
    from qa.indexing.index import load_index
    from qa.searching.query import _load

    settings = Settings(model=DEFAULT_MODEL, store=store)
    memory = {"start": scale._memory_mb()}
    embedder = get_query_embedder(DEFAULT_MODEL)
    claims = scale._claims(queries)
    vectors = embedder.encode(claims)
    memory["model"] = scale._memory_mb()
    t = time.perf_counter()
    loaded = _load(index_dir, settings)
    load_s = time.perf_counter() - t
    found, vector_ms = [], []
    for v in vectors:
        t = time.perf_counter()
        if store == "local":
            _, rows = loaded.index.dense.search(v[None], CANDIDATES)  # type: ignore[union-attr]
            top = rows[0][:10]
        else:
            ids, _ = loaded.index.dense(v, CANDIDATES)  # type: ignore[union-attr]
            top = ids[:10]
        vector_ms.append((time.perf_counter() - t) * 1000)
        found.append(top)
    search(claims[0], k=5, index_dir=index_dir, settings=settings)  # first touch, untimed
    search_ms = []
    for claim in claims:
        t = time.perf_counter()
        search(claim, k=5, index_dir=index_dir, settings=settings)
        search_ms.append((time.perf_counter() - t) * 1000)
    memory["end"] = scale._memory_mb()
    # The exact neighbours last (from the local vectors: reading them counts in no figure).
    local = load_index(index_dir)
    _, truth = faiss.knn(
        vectors, local.vectors[: len(local.vectors)], 10, faiss.METRIC_INNER_PRODUCT
    )
    recall = [
        len(set(np.asarray(a).tolist()) & set(b.tolist())) / 10
        for a, b in zip(found, truth, strict=True)
    ]
    return {
        "store": store,
        "queries": len(claims),
        "load_s": load_s,
        "recall_at_10": float(np.mean(recall)),
        "vector_search_ms": scale._spread(vector_ms),
        "search_ms": scale._spread(search_ms),
        "memory_mb": memory,
        "index_memory_mb": memory["end"]["rss"] - memory["model"]["rss"],
    }


def _in_new_process(index_dir: Path, store: str, queries: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(index_dir), "--store", store,
         "--queries", str(queries)],
        check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path(".bench"))
    parser.add_argument("--base-index", type=Path, default=None)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--store", default="local", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.store, args.queries)))
        return
    from qa.config import parse_store
    from qa.indexing.milvus import close_all, publish, published
    from qa.indexing.store import current_generation

    args.work.mkdir(parents=True, exist_ok=True)
    index_dir = args.work / f"scale-{args.chunks}"
    made_file = index_dir / "synthetic.json"
    if not made_file.is_file():
        made = scale.synthesize(
            index_dir, args.chunks, scale._base_vectors(args.work, args.base_index)
        )
        made_file.write_text(json.dumps(made))
    made = json.loads(made_file.read_text())
    db = (args.work / f"milvus-{args.chunks}.db").resolve()
    store = f"milvus:{db}"
    target = parse_store(store)
    assert target is not None
    published_file = args.work / f"milvus-{args.chunks}.json"
    if published(target) != current_generation(index_dir) or not published_file.is_file():
        t = time.perf_counter()
        publish(index_dir, target)
        published_file.write_text(json.dumps({"publish_s": time.perf_counter() - t}))
    close_all()
    runs = [_in_new_process(index_dir, s, args.queries) for s in ("local", store)]
    gen = index_dir / str(current_generation(index_dir))
    print(
        json.dumps(
            {
                "chunks": args.chunks,
                "local_write_s": made["write_s"],  # the vector index's build included
                "milvus_publish_s": json.loads(published_file.read_text())["publish_s"],
                "local_disk_mb": _size_mb(gen),
                "milvus_disk_mb": _size_mb(db),
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
