"""Querying an index: search, ask, ask_stream, answer_signals, and what an index holds
(index_info, document_text, removed_text).

Each index loads once per process and stays cached here until its folder's live generation
changes, so a rebuilt index is picked up on the next call (and swapped in atomically). The
embedding model is cached in one place only, qa.encode.embedding.get_embedder, which builds share.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..answer import extractive as _answer
from ..answer import generate as _generate
from ..answer.reader import get_reader
from ..config import MilvusTarget, Settings, settings_or_env
from ..encode.embedding import Embedder, get_query_embedder
from ..errors import (
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    InvalidArgumentError,
    QuestionError,
)
from ..indexing import milvus as _milvus
from ..indexing.index import DocumentTable, StoredIndex, load_index, open_documents
from ..indexing.keyword import KeywordTerms
from ..indexing.manifest import DocumentRecord, Manifest
from ..indexing.store import current_generation, read_manifest, read_stored_text, verify
from ..ingest.dedup import collapse
from ..ingest.documents import decode
from ..types import Answer, Citation, DocumentText, Hit, RemovedSpan, RemovedText
from .passages import LocalPassages, Passages, rank_milvus
from .retrieval import Scored, SentenceFacts, rank


def check_question(question: object, settings: Settings) -> str:
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    q = question.strip()
    if not q:
        raise QuestionError("the question is empty")
    if len(q) > settings.max_question_chars:
        raise QuestionError(
            f"the question is too long ({len(q):,} characters; the limit is "
            f"{settings.max_question_chars:,})"
        )
    if not any(ch.isalnum() for ch in q):
        raise QuestionError("the question has no words in it")
    return q


def check_k(k: object, settings: Settings) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidArgumentError(f"k must be a whole number, got {k!r}")
    if k < 1:
        raise InvalidArgumentError(f"k must be at least 1, got {k}")
    if k > settings.max_k:
        raise InvalidArgumentError(f"k must be at most {settings.max_k}, got {k}")
    return k


# ---------------------------------------------------------------------------------------------
# The cache of loaded indexes


@dataclass(frozen=True)
class _Loaded:
    """A loaded local generation."""

    index: StoredIndex
    facts: SentenceFacts

    @property
    def generation(self) -> str:
        return self.index.generation

    @property
    def keyword(self) -> KeywordTerms:
        return self.index.keyword

    def __len__(self) -> int:
        return len(self.index.chunks)

    def rank(
        self, query: str, vector: np.ndarray, n: int, settings: Settings
    ) -> tuple[list[Scored], Passages]:
        scored = rank(
            self.index,
            self.facts,
            query,
            vector,
            n,
            mode=settings.retrieval,
            candidates=max(settings.fusion_candidates, n),
            fusion=settings.fusion,
            alpha=settings.fusion_alpha,
            sentence_weight=settings.sentence_weight,
        )
        return scored, LocalPassages(self.index)


@dataclass(frozen=True)
class _InMilvus:
    """The live generation of a Milvus store: nothing of it on this machine's disk."""

    index: _milvus.MilvusIndex

    @property
    def generation(self) -> str:
        return self.index.generation

    @property
    def keyword(self) -> KeywordTerms:
        return self.index.keyword

    def __len__(self) -> int:
        return len(self.index)

    def rank(
        self, query: str, vector: np.ndarray, n: int, settings: Settings
    ) -> tuple[list[Scored], Passages]:
        return rank_milvus(
            self.index,
            query,
            vector,
            n,
            mode=settings.retrieval,
            candidates=max(settings.fusion_candidates, n),
            fusion=settings.fusion,
            alpha=settings.fusion_alpha,
            sentence_weight=settings.sentence_weight,
        )


_Source = _Loaded | _InMilvus
_LOADED: dict[Path, _Loaded] = {}
# the indexes; the models are cached by qa.encode.embedding
_IN_MILVUS: dict[tuple[str, str | None], _InMilvus] = {}
_LOAD_LOCK = threading.Lock()


def _one_thread_per_query() -> None:
    """Queries come one at a time and their matrix products are small: numpy's OpenBLAS thread
    pool only spins against torch's threads that encode the next question. Measured on 2 cores,
    SciFact, 300 passages deep: 107 ms per query with it, 20 ms without. Only BLAS is limited:
    OpenMP (FAISS) shares its setting with torch, and one OpenMP thread halves embedding speed."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _open(path: Path, settings: Settings) -> _Loaded:
    """Load the live index of path and its model, and check that they belong together."""
    index = load_index(path)
    _one_thread_per_query()
    _check_model(index.model, index.manifest.model.dimension, str(path), settings)
    return _Loaded(index, SentenceFacts(index))


def _check_model(model: str, dimension: int, where: str, settings: Settings) -> None:
    if model != settings.model:
        raise IndexMismatchError(
            f"index {where} was built with model {model!r}, but this program uses "
            f"{settings.model!r}; rebuild it with `qa build --full`"
        )
    embedder = get_query_embedder(model, settings.device)
    if embedder.dimension != dimension:
        raise IndexMismatchError(
            f"index {where} has dimension {dimension}, "
            f"the model gives {embedder.dimension}; rebuild with `qa build --full`"
        )


def _load_milvus(target: MilvusTarget, settings: Settings) -> _InMilvus:
    """The live generation in Milvus, opened once and reused until a build moves the alias."""
    key = (target.uri, target.token)
    live = _milvus.current(target)
    with _LOAD_LOCK:
        loaded = _IN_MILVUS.get(key)
        if loaded is None or loaded.generation != live:
            index = _milvus.open_live(target)
            _one_thread_per_query()
            _check_model(index.model, index.manifest.model.dimension, target.uri, settings)
            loaded = _IN_MILVUS[key] = _InMilvus(index)
    if len(loaded) == 0:
        raise IndexCorruptError(f"index {target.uri} holds no passages; rebuild it")
    return loaded


def _load(index_dir: str | os.PathLike[str], settings: Settings) -> _Source:
    """The live index of index_dir (or of the Milvus store the settings name) with its model,
    loaded once and reused until rebuilt."""
    target = settings.milvus()
    if target is not None:
        return _load_milvus(target, settings)
    path = Path(index_dir).expanduser().resolve()
    with _LOAD_LOCK:
        loaded = _LOADED.get(path)
        live = current_generation(path) if path.is_dir() else None
        if loaded is None or loaded.index.generation != live:
            loaded = _LOADED[path] = _open(path, settings)
    if len(loaded.index.chunks) == 0:
        raise IndexCorruptError(f"index {path} holds no passages; rebuild it")
    return loaded


def _embedder(loaded: _Source, settings: Settings) -> Embedder:
    return get_query_embedder(loaded.index.model, settings.device)


# ---------------------------------------------------------------------------------------------
# Search and answers


def _hits(
    loaded: _Source,
    query: str,
    vector: np.ndarray,
    k: int,
    settings: Settings,
) -> tuple[list[Hit], Passages]:
    """The k best passages: fused ranking, near-duplicates collapsed; and what was read of
    them."""
    # k + 10: room for near-duplicates that collapse into one hit
    scored, passages = loaded.rank(query, vector, k + 10, settings)
    chunks = [passages.chunk(s.row) for s in scored]
    distinct = collapse(
        [c.text for c in chunks],
        [c.source for c in chunks],
        passages.vectors([s.row for s in scored]),
        k,
    )
    hits = []
    for rank_, (i, also_in) in enumerate(distinct, start=1):
        s, c = scored[i], chunks[i]
        hits.append(
            Hit(
                text=c.text,
                source=c.source,
                score=round(s.score, 6),
                start=c.start,
                end=c.end,
                title=c.title,
                date=c.date,
                rank=rank_,
                chunk_id=s.row,
                dense_score=round(s.dense, 6),
                keyword_score=round(s.keyword, 6),
                sentence_score=None if s.sentence is None else round(s.sentence, 6),
                also_in=also_in,
                page=c.page,
                section=c.section,
                site=passages.document(s.row).site,
            )
        )
    return hits, passages


def _prepare(
    question: str, k: int, index_dir: str | os.PathLike[str], settings: Settings
) -> tuple[str, int, _Source, Embedder]:
    """The checked question and k, the loaded index and its model: what every query starts
    from."""
    q, k = check_question(question, settings), check_k(k, settings)
    loaded = _load(index_dir, settings)
    return q, k, loaded, _embedder(loaded, settings)


def search(
    question: str,
    k: int = 5,
    index_dir: str | os.PathLike[str] = "index",
    *,
    settings: Settings | None = None,
) -> list[Hit]:
    """The k passages that best match the question, best first."""
    settings = settings_or_env(settings)
    q, k, loaded, embedder = _prepare(question, k, index_dir, settings)
    vector = embedder.encode([q])[0]
    return _hits(loaded, q, vector, k, settings)[0]


@dataclass(frozen=True)
class Signals:
    """Everything ask() decides from: the passages, the chosen sentences, the key terms no
    passage mentions, and the confidence's inputs (also read by evaluation and calibration)."""

    question: str
    vector: np.ndarray  # the question's embedding
    hits: list[Hit]
    choice: _answer.Choice | None
    missing: tuple[str, ...]
    unheard: tuple[str, ...]  # names and numbers of the question that no article holds
    features: dict[str, float]
    # What was read of the passages (their documents and sentences, for the citations).
    passages: Passages | None = field(default=None, repr=False, compare=False)


def answer_signals(
    question: str,
    k: int = 5,
    index_dir: str | os.PathLike[str] = "index",
    *,
    settings: Settings | None = None,
) -> Signals:
    """Search, choose the answer sentences and compute the confidence's inputs."""
    settings = settings_or_env(settings)
    return _signals(*_prepare(question, k, index_dir, settings), settings)


def _signals(q: str, k: int, loaded: _Source, embedder: Embedder, settings: Settings) -> Signals:
    """answer_signals() over one loaded index (a rebuild meanwhile cannot mix two)."""
    keyword = loaded.keyword
    # Words no article holds are embedded too, to tell a paraphrase from a real gap: apart
    # from the question, as a batch is padded to its longest text (a few words cost little
    # padded to each other, and much padded to the question).
    unknown = _answer.unknown_words(q, keyword.vocabulary, keyword.stems)
    vector = embedder.encode([q])[0]
    hits, passages = _hits(loaded, q, vector, k, settings)
    choice = _answer.choose(
        q,
        vector,
        _answer.topic_terms(q, keyword.query_terms),
        hits,
        sentences_of=lambda hit: passages.sentences(hit.chunk_id),
        stem_terms=keyword.query_terms,
        read=get_reader().probabilities,
    )
    similarity: list[float] = []
    if unknown:
        sentences = np.vstack([passages.sentences(h.chunk_id)[2] for h in hits])
        words = embedder.encode(unknown)
        similarity = [float(s) for s in (sentences @ words.T).max(axis=0)]
    missing = _answer.missing_terms(q, [h.text for h in hits], keyword.stems, unknown, similarity)
    unheard = _answer.unheard(q, missing, keyword.vocabulary, keyword.stems)
    features: dict[str, float] = {}
    if choice is not None:
        top_dense = hits[0].dense_score or 0.0
        features = _answer.confidence_features(choice, len(missing), top_dense)
    choice, hits = _answer.lead_first(choice, hits)  # the confidence's inputs taken before
    return Signals(q, vector, hits, choice, missing, unheard, features, passages)


def _place(record: DocumentRecord, offset: int) -> dict[str, Any]:
    """The page and section of an indexed document at an offset."""
    return {"page": record.page_at(offset), "section": record.section_at(offset)}


def _extractive(signals: Signals, settings: Settings) -> Answer:
    """The quoted answer (or the likeliest sentence, or none) that the signals support, each
    citation with its page and section."""
    choice, hits = signals.choice, signals.hits
    probability = _answer.confidence(signals.features) if choice is not None else 0.0
    status = _answer.outcome(
        choice,
        probability,
        answer_from=settings.answer_threshold(),
        not_found_below=settings.not_found_threshold(),
        min_cosine=settings.abstain_threshold(),
        unheard=bool(signals.unheard),
        read_below=settings.read_threshold(),
    )
    chosen = choice.sentences if choice is not None and status != "not_found" else ()
    if status == "passages":
        chosen = chosen[:1]  # the likeliest sentence, highlighted in its passage
    passages = signals.passages
    assert passages is not None or not hits
    citations = tuple(
        replace(c, **_place(passages.document(hits[c.passage].chunk_id), c.start))  # type: ignore[union-attr]
        for c in _answer.citations(chosen, hits)
    )
    return Answer(
        question=signals.question,
        text=" ".join(c.text for c in chosen) if status == "answered" else "",
        citations=citations,
        passages=tuple(hits),
        status=status,
        confidence=round(probability, 6),
        missing=signals.missing,
    )


def _best_sentence(passages: Passages, signals: Signals) -> _generate.BestSentence:
    """For a generated answer: the sentence of a cited passage closest to the question."""

    def best(passage: int, number: int, claim: str) -> Citation:
        hit = signals.hits[passage]
        spans, texts, vectors = passages.sentences(hit.chunk_id)
        i = int(np.argmax(vectors @ signals.vector)) if len(texts) else -1
        start, end, text = (
            (spans[i].start, spans[i].end, texts[i]) if i >= 0 else (hit.start, hit.end, hit.text)
        )
        place = _place(passages.document(hit.chunk_id), start)
        return Citation(number, hit.source, start, end, text, hit.title, hit.date, passage, **place)

    return best


def ask_stream(
    question: str,
    k: int = 5,
    index_dir: str | os.PathLike[str] = "index",
    *,
    settings: Settings | None = None,
) -> Iterator[str | Answer]:
    """Like ask(), for a chat that shows a generated answer as it is written: yields the
    language model's text piece by piece, then the final Answer (always last). Without a
    language model configured, yields only the Answer."""
    settings = settings_or_env(settings)
    q, k, loaded, embedder = _prepare(question, k, index_dir, settings)
    signals = _signals(q, k, loaded, embedder, settings)  # one generation, as the citations
    extractive = _extractive(signals, settings)
    config = settings.llm()
    if config is None or not extractive.passages:
        yield extractive
        return
    assert signals.passages is not None  # there are passages
    yield from _generate.generate(extractive, config, _best_sentence(signals.passages, signals))


def ask(
    question: str,
    k: int = 5,
    index_dir: str | os.PathLike[str] = "index",
    *,
    settings: Settings | None = None,
) -> Answer:
    """Search, then quote the sentence(s) of the top passages that answer the question, or say
    that no sentence is certain enough (status ``passages``) or that nothing answers it
    (``not_found``). With a language model configured (``Settings.llm_url``), the answer is
    written by it, citing the passages, and falls back to the quoted one when it fails or
    cites a passage it was not given (``Answer.note`` says why)."""
    final = None
    for item in ask_stream(question, k, index_dir, settings=settings):
        final = item
    assert isinstance(final, Answer)  # ask_stream always ends with the Answer
    return final


# ---------------------------------------------------------------------------------------------
# What the index holds


def index_manifest(
    index_dir: str | os.PathLike[str] = "index", *, settings: Settings | None = None
) -> Manifest:
    """The live index's manifest (what it was built from and with), from its store."""
    target = settings_or_env(settings).milvus()
    if target is not None:
        return _milvus.open_live(target).manifest
    return read_manifest(Path(index_dir).expanduser())[1]


def index_info(
    index_dir: str | os.PathLike[str] = "index", *, settings: Settings | None = None
) -> dict[str, Any]:
    """What the live index holds, and which corpus files changed since it was built."""
    target = settings_or_env(settings).milvus()
    documents: DocumentTable | list[DocumentRecord]
    if target is not None:
        index = _milvus.open_live(target)
        generation, manifest, documents = index.generation, index.manifest, index.all_documents()
        where = target.uri
    else:
        path = Path(index_dir).expanduser()
        generation, manifest, documents = open_documents(path)
        where = str(path)
    root = Path(manifest.corpus_dir)
    changed, missing, dates, formats = [], [], [], Counter[str]()
    for record in documents:
        formats[record.format] += 1
        if record.date:
            dates.append(record.date)
        try:
            st = (root / record.source).stat()
        except OSError:
            missing.append(record.source)
            continue
        if st.st_size != record.bytes or st.st_mtime_ns != record.mtime_ns:
            changed.append(record.source)
    return {
        "index_dir": where,
        "store": "local" if target is None else "milvus",
        "generation": generation,
        "created_at": manifest.created_at,
        "corpus_dir": str(root),
        "model": manifest.model.id,
        "dimension": manifest.model.dimension,
        "chunker": dict(manifest.chunker),
        "clean": manifest.chunker.get("clean"),
        "files": len(documents),
        "formats": dict(formats),
        "chunks": manifest.dense.count if manifest.dense is not None else None,
        "vector_index": _vector_index(manifest),
        "changed_files": changed,
        "missing_files": missing,
        "stale": bool(changed or missing),
        "first_date": min(dates) if dates else None,
        "last_date": max(dates) if dates else None,
    }


def verify_index(
    index_dir: str | os.PathLike[str] = "index", *, settings: Settings | None = None
) -> dict[str, Any]:
    """Hash every file of the live generation and compare it with its manifest (``qa verify``).

    Loading checks sizes and modification times only; this also finds bytes changed in place.
    Raises IndexCorruptError naming the first damaged file; returns what was checked.
    On the Milvus store: the live generation's collections hold as many rows as its manifest
    says, and every document record reads (``qa.indexing.milvus.verify``).
    """
    target = settings_or_env(settings).milvus()
    if target is not None:
        return _milvus.verify(target)
    path = Path(index_dir).expanduser()
    generation, manifest = read_manifest(path)
    verify(path / generation, manifest)
    return {
        "index_dir": str(path),
        "generation": generation,
        "files": len(manifest.artifacts),
        "bytes": sum(a.bytes for a in manifest.artifacts.values()),
    }


def _vector_index(manifest: Manifest) -> dict[str, Any] | None:
    """The kind of vector search (exact or HNSW) and its settings, as `qa status` shows them."""
    if manifest.dense is None:
        return None
    return {"kind": manifest.dense.kind, "metric": manifest.dense.metric, **manifest.dense.params}


class _Records:
    """The document records of a Milvus store, found by source as a DocumentTable finds them."""

    def __init__(self, records: list[DocumentRecord]) -> None:
        self._by_source = {r.source: r for r in records}

    def __len__(self) -> int:
        return len(self._by_source)

    def find(self, source: str) -> DocumentRecord | None:
        return self._by_source.get(source)


def document_text(
    file: str | os.PathLike[str],
    index_dir: str | os.PathLike[str] = "index",
    *,
    settings: Settings | None = None,
) -> DocumentText:
    """The text that an indexed file's offsets (passages, citations, removed spans) point into,
    with its format, metadata, page starts and sections.

    For HTML, PDF and DOCX files this is the extracted text the index stores (checked against
    its checksum; the file is neither re-read nor needed). For .txt and .md files it is the
    file itself, which must not have changed since the build. ``file`` is the file's name in
    the index (``Hit.source``) or a path to it.
    """
    target = settings_or_env(settings).milvus()
    if target is not None:
        index = _milvus.open_live(target)
        root = Path(index.manifest.corpus_dir)
        record = _record_of(_Records(index.all_documents()), root, file)
        if record.text:
            return _document_text(record, index.stored_text(record))
        return _document_text(record, _file_text(root, record.source, record.sha256))
    path = Path(index_dir).expanduser()
    generation, manifest, documents = open_documents(path)
    root = Path(manifest.corpus_dir)
    record = _record_of(documents, root, file)
    if record.text:
        text = read_stored_text(path / generation, record.text, record.text_sha256)
    else:
        text = _file_text(root, record.source, record.sha256)
    return _document_text(record, text)


def _document_text(record: DocumentRecord, text: str) -> DocumentText:
    return DocumentText(
        source=record.source,
        format=record.format,
        text=text,
        title=record.title,
        date=record.date,
        author=record.author,
        site=record.site,
        pages=record.pages,
        sections=record.sections,
        stored=bool(record.text),
    )


def _file_text(root: Path, source: str, sha256: str) -> str:
    """A plain-text file of the corpus as the build read it; raises if it changed since."""
    try:
        data = (root / source).read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {root / source} ({exc.strerror or exc})") from exc
    text, _ = decode(data)
    if text is None or hashlib.sha256(data).hexdigest() != sha256:
        raise CorpusError(f"{source} changed since the index was built; run `qa build` first")
    return text


def removed_text(
    file: str | os.PathLike[str],
    index_dir: str | os.PathLike[str] = "index",
    *,
    settings: Settings | None = None,
) -> RemovedText:
    """What the cleaner removed from one indexed file: offsets and text of every removed span.

    ``file`` is the file's name in the index (as ``qa status`` lists it, relative to the corpus
    folder) or a path to it. The text is the document's (qa.api.document_text): a plain-text
    file must not have changed since the build.
    """
    path = Path(index_dir).expanduser()
    target = settings_or_env(settings).milvus()
    if target is not None:
        index = _milvus.open_live(target)
        manifest = index.manifest
        record = _record_of(_Records(index.all_documents()), Path(manifest.corpus_dir), file)
    else:
        _, manifest, documents = open_documents(path)
        record = _record_of(documents, Path(manifest.corpus_dir), file)
    boilerplate = record.boilerplate
    text = document_text(record.source, path, settings=settings).text
    return RemovedText(
        source=record.source,
        clean=str(manifest.chunker.get("clean", "auto")),
        web_page=boilerplate.web_page,
        removed_chars=boilerplate.removed_chars,
        total_chars=boilerplate.total_chars,
        spans=tuple(RemovedSpan(a, b, text[a:b]) for a, b in boilerplate.spans),
    )


def _record_of(
    documents: DocumentTable | _Records, root: Path, file: str | os.PathLike[str]
) -> DocumentRecord:
    """The record of file, named as the index names it or by its path (from the current
    folder, or relative to the corpus folder)."""
    name = os.fspath(file)
    record = documents.find(name)
    if record is not None:
        return record
    candidate = Path(name).expanduser()
    for base in (Path.cwd(), root):
        try:
            rel = (base / candidate).resolve().relative_to(root.resolve()).as_posix()
        except (OSError, ValueError):
            continue
        record = documents.find(rel)
        if record is not None:
            return record
    raise InvalidArgumentError(
        f"{name} is not in the index (it holds {len(documents)} files from {root}; give the path "
        "of one, or its name relative to that folder)"
    )
