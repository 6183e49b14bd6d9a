"""The index in Milvus: a live generation published from a built one, and read by queries.

The same client code (pymilvus) drives Milvus Lite (embedded, on a ``.db`` file) and a Milvus
server (``http(s)://host:19530``, with a token). A generation is three collections named with
its suffix:

    qa_chunks_<gen>     a row a chunk, its id the chunk's row: the chunk's text, document row,
                        offsets and sentence rows; its embedding (``vector``, HNSW, inner
                        product); its BM25 term scores as a sparse vector (``sparse``, an inverted
                        index, inner product): the project's own BM25 (qa.indexing.keyword), so a
                        query's keyword scores are the local store's to the last digit
    qa_sentences_<gen>  a row a sentence, its id the sentence's row: its offsets and embedding
                        (for the answer step; fetched by id, never searched: a FLAT index)
    qa_meta_<gen>       named JSON values, split in parts of at most 16,000 characters: the
                        manifest, the generation's counts, the keyword vocabulary, a record a
                        document (path, size, time, content hash, ...)

The alias ``qa_live`` names the live generation's ``qa_meta`` collection: a build writes a new
generation's collections whole, then moves the alias (one call), so a question never sees a
half-written build. The generation before stays (a query that started on it finishes), older
ones are dropped; a build first drops every generation that is neither live nor the one before
(what a killed build left).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import MilvusTarget
from ..errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    StoreError,
)
from ..types import Span
from .index import StoredIndex, load_index
from .keyword import KeywordTerms
from .manifest import DocumentRecord, Manifest, document_from_json, document_to_json
from .store import read_stored_text

ALIAS = "qa_live"
CHUNKS, SENTENCES, META = "qa_chunks_", "qa_sentences_", "qa_meta_"
_GENERATION = re.compile(r"^qa_(?:chunks|sentences|meta)_(g\d+)$")
MISSING = "the Milvus store needs pymilvus: pip install 'qa[milvus]'"
PART = 16_000  # characters of a meta value a row (at most 64,000 bytes of UTF-8 < 65,535)
TEXT_BYTES = 65_535  # the longest VARCHAR Milvus stores
BATCH = 2_000  # rows inserted at a time
FETCH = 4_096  # ids fetched at a time
EMPTY_TERM = 2**31 - 1  # the one term of a chunk without any (Milvus wants a nonzero weight)
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 256
_REBUILD = "rebuild with `qa build --full`"


# ---------------------------------------------------------------------------------------------
# Connecting


_CLIENTS: dict[tuple[str, str | None], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _pymilvus() -> Any:
    # grpc's core logs to stderr (keep-alive notices between idle calls): not for qa's users.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        import pymilvus
    except ImportError as exc:
        raise StoreError(MISSING) from exc
    # pymilvus logs each failed call with its traceback on stderr; qa says what failed in one
    # line (StoreError) instead.
    for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


def _reason(exc: BaseException) -> str:
    """A Milvus error in a few words (its message, not its traceback)."""
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:300]


def connect(target: MilvusTarget) -> Any:
    """A client of the target, one a process (Milvus Lite starts its server on the first)."""
    key = (target.uri, target.token)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            pymilvus = _pymilvus()
            if target.lite:
                Path(target.uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
            try:
                client = pymilvus.MilvusClient(uri=target.uri, token=target.token or "", timeout=10)
            except Exception as exc:
                raise _connect_error(target, exc) from exc
            _CLIENTS[key] = client
    return client


def _connect_error(target: MilvusTarget, exc: BaseException) -> StoreError:
    reason = _reason(exc)
    low = reason.lower()
    if any(w in low for w in ("auth", "token", "credential", "permission", "denied")):
        return StoreError(
            f"Milvus at {target.uri} refused the token ({reason}); check QA_MILVUS_TOKEN"
        )
    if target.lite:
        return StoreError(
            f"cannot open the Milvus Lite file {target.uri} ({reason}); Milvus Lite serves one "
            "process at a time: is another (qa serve, a build) using it?"
        )
    return StoreError(f"cannot reach Milvus at {target.uri} ({reason}); is the server running?")


def close_all() -> None:
    """Close every client this process opened, and stop its Milvus Lite servers (which hold
    their files locked against other processes until then)."""
    with _CLIENTS_LOCK:
        for (uri, _), client in _CLIENTS.items():
            with contextlib.suppress(Exception):  # closing a dead client is no error
                client.close()
            if not uri.startswith(("http://", "https://")):  # Milvus Lite: its server too
                with contextlib.suppress(Exception):
                    from milvus_lite.server_manager import server_manager_instance

                    server_manager_instance.release_server(uri)
        _CLIENTS.clear()
        _LOADED.clear()


def _call(target: MilvusTarget, what: str, fn: Callable[[], Any]) -> Any:
    """fn(), a Milvus error made a StoreError naming what was being done."""
    try:
        return fn()
    except (StoreError, IndexNotFoundError, IndexCorruptError, IndexMismatchError):
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("pymilvus") or isinstance(exc, (OSError,)):
            raise StoreError(f"Milvus at {target.uri}: {what} failed ({_reason(exc)})") from exc
        raise


def live_generation(client: Any) -> str | None:
    """The live generation's suffix (``g<ms>``), None when no build finished yet."""
    if ALIAS not in client.list_aliases().get("aliases", []):
        return None
    name = client.describe_alias(ALIAS).get("collection_name", "")
    return name[len(META) :] if name.startswith(META) else None


def generations(client: Any) -> set[str]:
    """Every generation that has a collection, whole or not."""
    found = set()
    for name in client.list_collections():
        m = _GENERATION.match(name)
        if m:
            found.add(m.group(1))
    return found


_LOADED: set[tuple[int, str]] = set()  # (client, collection) known to be loaded


def _load(client: Any, generation: str) -> None:
    """Load a generation's collections for queries (a Milvus Lite file opened again holds
    them released), once a process."""
    for prefix in (META, CHUNKS, SENTENCES):
        key = (id(client), prefix + generation)
        if key not in _LOADED:
            client.load_collection(prefix + generation)
            _LOADED.add(key)


def _drop(client: Any, generation: str) -> None:
    for prefix in (META, CHUNKS, SENTENCES):
        name = prefix + generation
        if client.has_collection(name):
            client.drop_collection(name)


# ---------------------------------------------------------------------------------------------
# Writing


def _meta_rows(name: str, value: Any) -> list[dict[str, Any]]:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    parts = [text[i : i + PART] for i in range(0, len(text), PART)] or [""]
    return [
        {"key": f"{name}#{j}", "name": name, "part": j, "parts": len(parts), "value": p,
         "v": [1.0, 0.0]}
        for j, p in enumerate(parts)
    ]  # fmt: skip


def _create(client: Any, generation: str, dim: int) -> None:
    from pymilvus import DataType

    def schema() -> Any:
        return client.create_schema(auto_id=False, enable_dynamic_field=False)

    chunks = schema()
    chunks.add_field("id", DataType.INT64, is_primary=True)
    chunks.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    chunks.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
    for name in ("doc", "start", "end", "sentence_first", "sentence_stop"):
        chunks.add_field(name, DataType.INT64)
    params = client.prepare_index_params()
    params.add_index(
        "vector",
        index_type="HNSW",
        metric_type="IP",
        params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
    )
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection(CHUNKS + generation, schema=chunks, index_params=params)

    sentences = schema()
    sentences.add_field("id", DataType.INT64, is_primary=True)
    sentences.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    sentences.add_field("start", DataType.INT64)
    sentences.add_field("end", DataType.INT64)
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(SENTENCES + generation, schema=sentences, index_params=params)

    meta = schema()
    meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
    meta.add_field("name", DataType.VARCHAR, max_length=512)
    meta.add_field("part", DataType.INT64)
    meta.add_field("parts", DataType.INT64)
    meta.add_field("value", DataType.VARCHAR, max_length=TEXT_BYTES)
    meta.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    params = client.prepare_index_params()
    params.add_index("v", index_type="FLAT", metric_type="IP")
    client.create_collection(META + generation, schema=meta, index_params=params)


def _sparse_rows(
    rowptr: np.ndarray, terms: np.ndarray, scores: np.ndarray, start: int, stop: int
) -> Iterator[dict[int, float]]:
    for row in range(start, stop):
        a, b = int(rowptr[row]), int(rowptr[row + 1])
        if a == b:
            yield {EMPTY_TERM: 1e-30}
        else:
            yield dict(zip(terms[a:b].tolist(), scores[a:b].tolist(), strict=True))


def _chunk_rows(
    index: StoredIndex, start: int, stop: int, sparse_rows: Iterator[dict[int, float]]
) -> list[dict[str, Any]]:
    from .index import DOC, END, SENTENCE_END, SENTENCE_START
    from .index import START as BEGIN

    cols = index.chunks.columns
    vectors = index.vectors[start:stop]
    rows = []
    for i, sparse in enumerate(sparse_rows):
        row = start + i
        text = index.chunks.text(row)
        if len(text.encode("utf-8")) > TEXT_BYTES:
            raise StoreError(
                f"a chunk of {index.chunks.document(row).source} is longer than Milvus stores "
                f"({TEXT_BYTES:,} bytes); lower chunk_tokens"
            )
        rows.append(
            {
                "id": row,
                "vector": vectors[i],
                "sparse": sparse,
                "text": text,
                "doc": int(cols[DOC, row]),
                "start": int(cols[BEGIN, row]),
                "end": int(cols[END, row]),
                "sentence_first": int(cols[SENTENCE_START, row]),
                "sentence_stop": int(cols[SENTENCE_END, row]),
            }
        )
    return rows


Progress = Callable[[int, int], None]


def publish(index_dir: Path, target: MilvusTarget, progress: Progress | None = None) -> str:
    """Copy the live generation of the local index in index_dir into new Milvus collections,
    then make them live (the alias moves once they are whole). Returns the Milvus generation.

    Generations that are neither live nor the one before are dropped first (what a killed
    build left) and after (the older ones)."""
    client = connect(target)
    index = load_index(index_dir)
    local, manifest = index.generation, index.manifest

    def work() -> str:
        live = live_generation(client)
        for old in generations(client) - {live}:
            _drop(client, old)
        generation = f"g{time.time_ns() // 1_000_000}"
        while generation in generations(client) or generation == live:
            time.sleep(0.002)
            generation = f"g{time.time_ns() // 1_000_000}"
        _write(client, generation, index, manifest, local, progress)
        if live is None:
            client.create_alias(META + generation, ALIAS)
        else:
            client.alter_alias(META + generation, ALIAS)
        for old in generations(client) - {generation, live}:
            _drop(client, old)
        _LOADED.add((id(client), META + generation))
        return generation

    result: str = _call(target, "writing the index", work)
    return result


def _write(
    client: Any,
    generation: str,
    index: StoredIndex,
    manifest: Manifest,
    local: str,
    progress: Progress | None,
) -> None:
    n, m = len(index.chunks), len(index.sentence_spans)
    _create(client, generation, manifest.model.dimension)
    total, done = n + m + 1, 0
    rowptr, terms, scores = index.keyword.by_row()
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        sparse = _sparse_rows(rowptr, terms, scores, start, stop)
        client.insert(CHUNKS + generation, _chunk_rows(index, start, stop, sparse))
        done += stop - start
        if progress:
            progress(done, total)
    spans = np.asarray(index.sentence_spans)
    for start in range(0, m, BATCH * 4):
        stop = min(start + BATCH * 4, m)
        vectors = index.sentence_vectors[start:stop]
        rows = [
            {
                "id": start + i,
                "vector": vectors[i],
                "start": int(spans[start + i, 0]),
                "end": int(spans[start + i, 1]),
            }
            for i in range(stop - start)
        ]
        client.insert(SENTENCES + generation, rows)
        done += stop - start
        if progress:
            progress(done, total)
    meta: list[dict[str, Any]] = []
    meta += _meta_rows("manifest", manifest.to_json())
    meta += _meta_rows(
        "info",
        {"generation": generation, "local": local, "chunks": n, "sentences": m,
         "files": len(index.documents)},
    )  # fmt: skip
    meta += _meta_rows("vocabulary", list(index.keyword.vocabulary))
    stored: set[str] = set()
    for i, record in enumerate(index.documents):
        meta += _meta_rows(f"doc:{i}", document_to_json(record))
        if record.text and record.text not in stored:  # the text an HTML, PDF, DOCX file gave
            stored.add(record.text)
            text = read_stored_text(index.path, record.text, record.text_sha256)
            meta += _meta_rows(f"text:{record.text}", text)
        if len(meta) >= BATCH:
            client.insert(META + generation, meta)
            meta = []
    if meta:
        client.insert(META + generation, meta)
    for prefix in (CHUNKS, SENTENCES, META):
        client.flush(prefix + generation)
        client.load_collection(prefix + generation)
    if progress:
        progress(total, total)


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class ChunkRow:
    """A chunk as Milvus holds it."""

    id: int
    vector: np.ndarray
    sparse: Mapping[int, float]
    text: str
    doc: int
    start: int
    end: int
    sentence_first: int
    sentence_stop: int


def _meta_rows_by_key(client: Any, collection: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(0, len(keys), 1024):
        rows += client.query(
            collection,
            filter=f"key in {json.dumps(list(keys[i : i + 1024]))}",
            output_fields=["name", "part", "parts", "value"],
            limit=16_384,
        )
    return rows


def _meta_values(client: Any, collection: str, names: Sequence[str]) -> dict[str, str]:
    """The values of the named meta entries (their parts joined); a missing one is left out.
    Read by primary key: each first part, then the other parts of those that have more."""
    first = _meta_rows_by_key(client, collection, [f"{name}#0" for name in names])
    more = [f"{r['name']}#{j}" for r in first for j in range(1, int(r["parts"]))]
    parts: dict[str, list[tuple[int, str]]] = {}
    for row in first + (_meta_rows_by_key(client, collection, more) if more else []):
        parts.setdefault(row["name"], []).append((int(row["part"]), row["value"]))
    return {name: "".join(v for _, v in sorted(pieces)) for name, pieces in parts.items()}


class MilvusIndex:
    """One live generation in Milvus, as a query reads it: searched and fetched by id, nothing
    of it on this machine's disk. The keyword vocabulary (to make a query's sparse vector) is
    held in memory, and the document records asked for are cached."""

    def __init__(self, target: MilvusTarget, client: Any, generation: str) -> None:
        self.target = target
        self._client = client
        self.generation = generation
        self._meta = META + generation

        def read() -> dict[str, str]:
            _load(client, generation)
            return _meta_values(client, self._meta, ["manifest", "info"])

        values = _call(target, "reading the index", read)
        if set(values) != {"manifest", "info"}:
            raise IndexCorruptError(f"the Milvus index at {target.uri} is incomplete; {_REBUILD}")
        self.manifest = Manifest.from_json(values["manifest"], target.uri)
        self.info: dict[str, Any] = json.loads(values["info"])
        self._vocabulary: KeywordTerms | None = None
        self._documents: dict[int, DocumentRecord] = {}
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.manifest.model.id

    @property
    def keyword(self) -> KeywordTerms:
        """The keyword vocabulary, read on first use (a query's sparse vector needs it)."""
        with self._lock:
            if self._vocabulary is None:
                values = _call(
                    self.target,
                    "reading the index",
                    lambda: _meta_values(self._client, self._meta, ["vocabulary"]),
                )
                if "vocabulary" not in values:
                    raise IndexCorruptError(
                        f"the Milvus index at {self.target.uri} is incomplete; {_REBUILD}"
                    )
                self._vocabulary = KeywordTerms(json.loads(values["vocabulary"]))
            return self._vocabulary

    def count(self, prefix: str) -> int:
        """The rows of this generation's collection of that prefix."""
        rows = _call(
            self.target,
            "counting rows",
            lambda: self._client.query(
                prefix + self.generation, filter="", output_fields=["count(*)"]
            ),
        )
        return int(rows[0]["count(*)"])

    def __len__(self) -> int:
        return int(self.info["chunks"])

    def dense(self, vector: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the (about) limit chunks nearest the vector, and their cosines."""
        found = _call(
            self.target,
            "searching",
            lambda: self._client.search(
                CHUNKS + self.generation,
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                anns_field="vector",
                limit=limit,
                search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, limit)}},
                output_fields=[],
            ),
        )[0]
        ids = np.array([int(h["id"]) for h in found], dtype=np.int64)
        return ids, np.array([float(h["distance"]) for h in found], dtype=np.float32)

    def keyword_top(self, query: Mapping[int, float], limit: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the (at most) limit chunks of highest BM25 for the query's term counts,
        best first, and their scores; only chunks holding a query term."""
        if not query:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        found = _call(
            self.target,
            "searching",
            lambda: self._client.search(
                CHUNKS + self.generation,
                data=[dict(query)],
                anns_field="sparse",
                limit=limit,
                search_params={"metric_type": "IP"},
                output_fields=[],
            ),
        )[0]
        kept = [h for h in found if float(h["distance"]) > 0]
        ids = np.array([int(h["id"]) for h in kept], dtype=np.int64)
        return ids, np.array([float(h["distance"]) for h in kept], dtype=np.float32)

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        """The chunks of these ids."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, ChunkRow] = {}
        for a in range(0, len(wanted), FETCH):
            rows = _call(
                self.target,
                "fetching passages",
                lambda a=a: self._client.query(  # type: ignore[misc]
                    CHUNKS + self.generation,
                    filter=f"id in {wanted[a : a + FETCH]}",
                    output_fields=["*"],
                    limit=FETCH,
                ),
            )
            for r in rows:
                out[int(r["id"])] = ChunkRow(
                    int(r["id"]),
                    np.asarray(r["vector"], dtype=np.float32),
                    {int(k): float(v) for k, v in r["sparse"].items()},
                    r["text"],
                    int(r["doc"]),
                    int(r["start"]),
                    int(r["end"]),
                    int(r["sentence_first"]),
                    int(r["sentence_stop"]),
                )
        if len(out) != len(wanted):
            raise IndexCorruptError(
                f"the Milvus index at {self.target.uri} lacks chunks; {_REBUILD}"
            )
        return out

    def sentences(self, ids: Iterable[int]) -> dict[int, tuple[Span, np.ndarray]]:
        """The spans and vectors of these sentence rows."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, tuple[Span, np.ndarray]] = {}
        for a in range(0, len(wanted), FETCH):
            rows = _call(
                self.target,
                "fetching sentences",
                lambda a=a: self._client.query(  # type: ignore[misc]
                    SENTENCES + self.generation,
                    filter=f"id in {wanted[a : a + FETCH]}",
                    output_fields=["*"],
                    limit=FETCH,
                ),
            )
            for r in rows:
                out[int(r["id"])] = (
                    Span(int(r["start"]), int(r["end"])),
                    np.asarray(r["vector"], dtype=np.float32),
                )
        if len(out) != len(wanted):
            raise IndexCorruptError(
                f"the Milvus index at {self.target.uri} lacks sentences; {_REBUILD}"
            )
        return out

    def documents(self, rows: Iterable[int]) -> dict[int, DocumentRecord]:
        """The document records of these document rows (cached)."""
        wanted = sorted({int(i) for i in rows})
        with self._lock:
            missing = [i for i in wanted if i not in self._documents]
        if missing:
            values = _call(
                self.target,
                "fetching documents",
                lambda: _meta_values(self._client, self._meta, [f"doc:{i}" for i in missing]),
            )
            with self._lock:
                if len(self._documents) > 65_536:
                    self._documents.clear()
                for i in missing:
                    if f"doc:{i}" not in values:
                        raise IndexCorruptError(
                            f"the Milvus index at {self.target.uri} lacks document {i}; {_REBUILD}"
                        )
                    self._documents[i] = document_from_json(values[f"doc:{i}"])
        with self._lock:
            return {i: self._documents[i] for i in wanted}

    def stored_text(self, record: DocumentRecord) -> str:
        """The extracted text of an HTML, PDF or DOCX document, checked against its hash."""
        values = _call(
            self.target,
            "fetching a document's text",
            lambda: _meta_values(self._client, self._meta, [f"text:{record.text}"]),
        )
        text: str | None = values.get(f"text:{record.text}")
        if text is None or hashlib.sha256(text.encode("utf-8")).hexdigest() != record.text_sha256:
            raise IndexCorruptError(
                f"the Milvus index at {self.target.uri} lacks or damaged the text of "
                f"{record.source}; {_REBUILD}"
            )
        return text

    def all_documents(self) -> list[DocumentRecord]:
        """Every document record, in row order."""
        count = int(self.info["files"])
        records = self.documents(range(count))
        return [records[i] for i in range(count)]


def open_live(target: MilvusTarget) -> MilvusIndex:
    """The live generation of the target. Raises IndexNotFoundError when there is none."""
    client = connect(target)
    generation = _call(target, "reading the alias", lambda: live_generation(client))
    if generation is None:
        raise IndexNotFoundError(f"no index in Milvus at {target.uri}: build one with `qa build`")
    return MilvusIndex(target, client, generation)


def verify(target: MilvusTarget) -> dict[str, Any]:
    """``qa verify`` on Milvus: the live generation's collections hold the rows its manifest
    and counts say, the vocabulary and every document record read. Raises IndexCorruptError."""
    index = open_live(target)
    expected = {
        CHUNKS: int(index.info["chunks"]),
        SENTENCES: int(index.info["sentences"]),
    }
    dense = index.manifest.dense
    if dense is not None and dense.count != expected[CHUNKS]:
        raise IndexCorruptError(f"the Milvus index at {target.uri} is inconsistent; {_REBUILD}")
    for prefix, count in expected.items():
        found = index.count(prefix)
        if found != count:
            name = prefix + index.generation
            raise IndexCorruptError(
                f"the Milvus index at {target.uri} holds {found} rows in {name}, its manifest "
                f"says {count}; {_REBUILD}"
            )
    terms = len(index.keyword.vocabulary)
    documents = index.all_documents()
    if len(documents) != index.manifest.files:
        raise IndexCorruptError(f"the Milvus index at {target.uri} lacks documents; {_REBUILD}")
    return {
        "index_dir": target.uri,
        "store": "milvus",
        "generation": index.generation,
        "files": len(documents),
        "chunks": expected[CHUNKS],
        "sentences": expected[SENTENCES],
        "terms": terms,
    }


def published(target: MilvusTarget) -> str | None:
    """The local generation that the live Milvus generation was published from (None: none)."""
    client = connect(target)

    def read() -> str | None:
        generation = live_generation(client)
        if generation is None:
            return None
        _load(client, generation)
        values = _meta_values(client, META + generation, ["info"])
        local = json.loads(values["info"]).get("local") if "info" in values else None
        return str(local) if local else None

    result: str | None = _call(target, "reading the index", read)
    return result


def current(target: MilvusTarget) -> str | None:
    """The live generation's name (a cheap call: queries check it to follow a rebuild)."""
    client = connect(target)
    result: str | None = _call(target, "reading the alias", lambda: live_generation(client))
    return result
