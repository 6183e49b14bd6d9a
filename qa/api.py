"""The public functions: build_index, search, ask, index_info, document_text, removed_text.

The embedding model and each index load once per process and are reused; a rebuilt index is
picked up on the next call (the live generation is re-read, and swapped in atomically).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import answer as _answer
from . import generate as _generate
from .chunking import chunk_document
from .cleaning import visible_chars
from .config import SCHEMA_VERSION, WARN_REMOVED_SHARE, Settings
from .dedup import collapse
from .documents import Corpus, decode, load_corpus
from .embedding import Embedder, get_embedder
from .errors import (
    CorpusError,
    IndexCorruptError,
    IndexError_,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidArgumentError,
    QuestionError,
)
from .keyword import KeywordIndex
from .readers import FORMATS, format_of
from .retrieval import rank
from .store import (
    StoredIndex,
    build_lock,
    current_generation,
    load_index,
    read_manifest,
    read_stored_text,
    write_index,
)
from .tokens import token_counter
from .types import (
    Answer,
    BuildReport,
    Chunk,
    Citation,
    CleaningStats,
    Document,
    DocumentText,
    FormatCount,
    Hit,
    RemovedSpan,
    RemovedText,
    Section,
    page_at,
    section_at,
)

ProgressFn = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)
# (phase, done, total): phase "read" counts files, "embed" chunks and sentences, "write" steps.
PhaseFn = Callable[[str, int, int], None]


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else Settings.from_env()


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
# Build


def indexed_text(chunk: Chunk, settings: Settings) -> str:
    """What is embedded and keyword-indexed for a chunk: with its article's title in front
    (when the chunk does not already start with it), so a passage deep in an article still
    carries what the article is about."""
    if settings.title_prefix and chunk.title and not chunk.text.startswith(chunk.title):
        return f"{chunk.title}\n{chunk.text}"
    return chunk.text


def _incompatibility(manifest: dict[str, Any], settings: Settings) -> str:
    """Why the old index cannot be reused ('' when it can)."""
    if manifest["model"]["id"] != settings.model:
        return f"model changed ({manifest['model']['id']} -> {settings.model})"
    old = manifest.get("chunker") or {}
    if old != settings.chunker():
        if old.get("clean", "auto") != settings.clean:
            return f"cleaning changed ({old.get('clean', 'auto')} -> {settings.clean})"
        return "chunker settings changed"
    return ""


def _cleaning(doc: Document) -> CleaningStats:
    removed = sum(visible_chars(doc.text, s.start, s.end) for s in doc.removed)
    return CleaningStats(doc.source, removed, visible_chars(doc.text), doc.web_page)


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stored_name(doc: Document) -> str | None:
    """Where the index keeps the document's extracted text (None: plain text, read from the
    file). Keyed by the file's content hash, so copies of one file share it."""
    return None if doc.plain else f"{doc.sha256}.txt"


def _reader_meta(doc: Document) -> dict[str, Any]:
    """What the reader found, as the manifest records it (qa.api.document_text returns it)."""
    return {
        "format": doc.format,
        "author": doc.author,
        "site": doc.site,
        "pages": list(doc.pages),
        "sections": [[s.start, s.title] for s in doc.sections],
        "text": _stored_name(doc),
        "text_sha256": _text_sha256(doc.text),
    }


def _format_counts(corpus: Corpus) -> tuple[FormatCount, ...]:
    """Files read, skipped and failed, by format, in the order of qa.readers.FORMATS."""
    counts: dict[str, list[int]] = {}
    for doc in corpus.documents:
        counts.setdefault(doc.format, [0, 0, 0])[0] += 1
    for s in corpus.skipped:
        counts.setdefault(format_of(s.source).name, [0, 0, 0])[2 if s.failed else 1] += 1
    return tuple(FormatCount(f.name, *counts[f.name]) for f in FORMATS if f.name in counts)


def build_index(
    corpus_dir: str | os.PathLike[str] = "seeds",
    index_dir: str | os.PathLike[str] = "index",
    full: bool = False,
    *,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
    phases: PhaseFn | None = None,
) -> BuildReport:
    """Build or update the index of the articles in corpus_dir.

    Only new and changed files are embedded; files that left the corpus are dropped; an
    unchanged corpus embeds nothing. ``full=True``, or a change of model or chunker settings,
    re-embeds everything. The previous index stays live until the new one is complete.
    ``progress(done, total)`` follows the embedding; ``phases(phase, done, total)`` follows
    every phase: "read" (files), "embed" (chunks and sentences), "write" (steps).
    """
    settings = _settings(settings)
    t0 = time.perf_counter()
    index_path = Path(index_dir).expanduser()

    def on(phase: str) -> ProgressFn | None:
        if phases is None:
            return None
        return lambda done, total: phases(phase, done, total)

    # Raises before anything is touched.
    corpus = load_corpus(Path(corpus_dir), settings, progress=on("read"))
    count = token_counter(settings.encoding)
    warnings = list(corpus.warnings)

    with build_lock(index_path):
        previous: StoredIndex | None = None
        reason = "requested" if full else ""
        if not full:
            try:
                previous = load_index(index_path)
            except IndexNotFoundError:
                reason = "no previous index"
            except IndexError_ as exc:
                reason = f"previous index unusable ({exc})"
                warnings.append(reason)
            if previous is not None:
                why = _incompatibility(previous.manifest, settings)
                if why:
                    reason, previous = why, None

        old_docs: dict[str, Any] = previous.manifest["documents"] if previous else {}
        by_hash = {meta["sha256"]: meta for meta in old_docs.values()}

        chunks: list[Chunk] = []
        chunk_vecs: list[np.ndarray | None] = []  # reused vector, or None: embed it
        sent_spans: list[tuple[int, int]] = []
        sent_vecs: list[np.ndarray | None] = []
        sent_texts: list[str] = []
        documents: dict[str, Any] = {}
        texts: dict[str, str] = {}
        cleaning: list[CleaningStats] = []
        new_files = changed_files = unchanged_files = reused = 0
        for doc in corpus.documents:
            first, first_sentence = len(chunks), len(sent_spans)
            old = by_hash.get(doc.sha256) if previous else None
            if old is not None and old.get("text_sha256") != _text_sha256(doc.text):
                old = None  # the same file now reads differently (a reader changed)
            if old is not None and previous is not None:
                lo, n = old["first_chunk"], old["chunks"]
                s_lo, s_n = old["first_sentence"], old["sentences"]
                shift = first_sentence - s_lo
                for row in range(lo, lo + n):
                    c = previous.chunks[row]
                    chunks.append(
                        Chunk(
                            doc.source,
                            c.start,
                            c.end,
                            c.text,
                            doc.title,
                            doc.date,
                            doc.sha256,
                            c.sentence_start + shift,
                            c.sentence_end + shift,
                            doc.page_at(c.start),
                            doc.section_at(c.start),
                        )
                    )
                    chunk_vecs.append(previous.vectors[row])
                for row in range(s_lo, s_lo + s_n):
                    a, b = (int(x) for x in previous.sentence_spans[row])
                    sent_spans.append((a, b))
                    sent_vecs.append(previous.sentence_vectors[row])
                    sent_texts.append("")
                reused += n
                unchanged_files += 1
            else:
                if doc.source in old_docs:
                    changed_files += 1
                else:
                    new_files += 1
                chunked = chunk_document(
                    doc.text, doc.segments, count, settings.chunk_tokens, settings.chunk_overlap
                )
                for unit in chunked.units:
                    sent_spans.append((unit.start, unit.end))
                    sent_vecs.append(None)
                    sent_texts.append(unit.of(doc.text))
                for r, span in zip(chunked.ranges, chunked.spans(), strict=True):
                    chunks.append(
                        Chunk(
                            doc.source,
                            span.start,
                            span.end,
                            span.of(doc.text),
                            doc.title,
                            doc.date,
                            doc.sha256,
                            first_sentence + r.start,
                            first_sentence + r.end,
                            doc.page_at(span.start),
                            doc.section_at(span.start),
                        )
                    )
                    chunk_vecs.append(None)
            stat = (corpus.root / doc.source).stat()
            stats = _cleaning(doc)
            cleaning.append(stats)
            if stats.share > WARN_REMOVED_SHARE:
                warnings.append(
                    f"{doc.source}: {stats.share:.0%} of its text was removed as boilerplate "
                    f"(more than {WARN_REMOVED_SHARE:.0%}); see `qa status --removed "
                    f"{doc.source}`, or build with `--clean none` to keep everything"
                )
            documents[doc.source] = {
                "sha256": doc.sha256,
                "bytes": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "title": doc.title,
                "date": doc.date,
                "first_chunk": first,
                "chunks": len(chunks) - first,
                "first_sentence": first_sentence,
                "sentences": len(sent_spans) - first_sentence,
                "boilerplate": {
                    "web_page": doc.web_page,
                    "removed_chars": stats.removed_chars,
                    "total_chars": stats.total_chars,
                    "spans": [[s.start, s.end] for s in doc.removed],
                },
                **_reader_meta(doc),
            }
            name = _stored_name(doc)
            if name is not None:
                texts[name] = doc.text

        todo = [i for i, v in enumerate(chunk_vecs) if v is None]
        todo_s = [i for i, v in enumerate(sent_vecs) if v is None]
        # The model loads only when something needs embedding: an unchanged corpus never
        # pays for it, and its description then comes from the previous manifest.
        embedder = get_embedder(settings.model, settings.device) if todo or todo_s else None
        if embedder is not None:
            model_info: dict[str, Any] = {
                "id": embedder.model_id,
                "dimension": embedder.dimension,
                "normalized": True,
                "max_tokens": embedder.max_tokens,
            }
        else:
            assert previous is not None  # nothing to embed implies everything was reused
            model_info = dict(previous.manifest["model"])
        dimension = int(model_info["dimension"])
        vectors = np.empty((len(chunks), dimension), dtype=np.float32)
        sentence_vectors = np.empty((len(sent_spans), dimension), dtype=np.float32)
        for i, v in enumerate(chunk_vecs):
            if v is not None:
                vectors[i] = v
        for i, v in enumerate(sent_vecs):
            if v is not None:
                sentence_vectors[i] = v
        truncated = 0
        if embedder is not None:
            total, done = len(todo) + len(todo_s), 0

            embed_phase = on("embed")

            def step(n: int) -> None:
                nonlocal done
                done += n
                for report in (progress, embed_phase):
                    if report:
                        report(done, total)

            step(0)
            chunk_texts = [indexed_text(chunks[i], settings) for i in todo]
            both = embedder.encode(
                chunk_texts + [sent_texts[i] for i in todo_s], settings.batch_size, progress=step
            )
            vectors[todo] = both[: len(todo)]
            sentence_vectors[todo_s] = both[len(todo) :]
            truncated = sum(
                1 for t in chunk_texts if embedder.count_tokens(t) > embedder.max_tokens
            )
            if truncated:
                warnings.append(
                    f"{truncated} chunk(s) exceed the model's {embedder.max_tokens}-token window "
                    "and were embedded truncated"
                )

        removed_sources = [s for s in old_docs if s not in documents]
        removed_chunks = sum(old_docs[s]["chunks"] for s in removed_sources)
        write_phase = on("write")
        if write_phase:
            write_phase(0, 1)
        keyword = KeywordIndex.build([indexed_text(c, settings) for c in chunks])
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "corpus_dir": str(corpus.root),
            "model": model_info,
            "chunker": settings.chunker(),
            "keyword": {"engine": "bm25s", "stemmer": "english", "stopwords": "en"},
            "documents": documents,
            "skipped": {s.source: s.reason for s in corpus.skipped},
        }
        generation = write_index(
            index_path,
            manifest,
            chunks,
            vectors,
            keyword,
            np.array(sent_spans, dtype=np.int64).reshape(-1, 2),
            sentence_vectors,
            texts=texts,
            progress=write_phase,
        )

    return BuildReport(
        files=len(documents),
        chunks=len(chunks),
        embedded=len(todo),
        embedded_sentences=len(todo_s),
        reused=reused,
        removed=len(removed_sources),
        removed_chunks=removed_chunks,
        new_files=new_files,
        changed_files=changed_files,
        unchanged_files=unchanged_files,
        skipped=tuple(str(s) for s in corpus.skipped),
        warnings=tuple(warnings),
        full=previous is None,
        reason=reason,
        truncated_chunks=truncated,
        seconds=time.perf_counter() - t0,
        index_dir=str(index_path),
        generation=generation,
        cleaning=tuple(cleaning),
        formats=_format_counts(corpus),
    )


# ---------------------------------------------------------------------------------------------
# Query


@dataclass
class _Loaded:
    index: StoredIndex
    embedder: Embedder


_LOADED: dict[Path, _Loaded] = {}
_LOAD_LOCK = threading.Lock()


def _load(index_dir: str | os.PathLike[str], settings: Settings) -> _Loaded:
    """The live index of index_dir with its embedder, loaded once and reused until rebuilt."""
    path = Path(index_dir).expanduser().resolve()
    with _LOAD_LOCK:
        cached = _LOADED.get(path)
        live = current_generation(path) if path.is_dir() else None
        if cached is not None and cached.index.generation == live:
            loaded = cached
        else:
            index = load_index(path)
            model = index.model
            if model != settings.model:
                raise IndexMismatchError(
                    f"index {path} was built with model {model!r}, but this program uses "
                    f"{settings.model!r}; rebuild it with `qa build --full`"
                )
            embedder = get_embedder(model, settings.device)
            if embedder.dimension != int(index.manifest["model"]["dimension"]):
                raise IndexMismatchError(
                    f"index {path} has dimension {index.manifest['model']['dimension']}, "
                    f"the model gives {embedder.dimension}; rebuild with `qa build --full`"
                )
            loaded = _Loaded(index, embedder)
            _LOADED[path] = loaded
    if loaded.index.vectors.shape[0] == 0:
        raise IndexCorruptError(f"index {path} holds no passages; rebuild it")
    return loaded


def _hits(
    loaded: _Loaded,
    query: str,
    vector: np.ndarray,
    k: int,
    settings: Settings,
) -> list[Hit]:
    """The k best passages: fused ranking, near-duplicates collapsed."""
    scored = rank(
        loaded.index,
        query,
        vector,
        k + 10,  # room for near-duplicates that collapse into one hit
        mode=settings.retrieval,
        candidates=max(settings.fusion_candidates, k),
        fusion=settings.fusion,
        alpha=settings.fusion_alpha,
        sentence_weight=settings.sentence_weight,
    )
    chunks = [loaded.index.chunks[s.row] for s in scored]
    distinct = collapse(
        [c.text for c in chunks],
        [c.source for c in chunks],
        loaded.index.vectors[[s.row for s in scored]],
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
            )
        )
    return hits


def _prepare(
    question: str, k: int, index_dir: str | os.PathLike[str], settings: Settings
) -> tuple[str, int, _Loaded]:
    """The checked question and k, and the loaded index: what every query starts from."""
    q = check_question(question, settings)
    return q, check_k(k, settings), _load(index_dir, settings)


def search(
    question: str,
    k: int = 5,
    index_dir: str | os.PathLike[str] = "index",
    *,
    settings: Settings | None = None,
) -> list[Hit]:
    """The k passages that best match the question, best first."""
    settings = _settings(settings)
    q, k, loaded = _prepare(question, k, index_dir, settings)
    vector = loaded.embedder.encode([q])[0]
    return _hits(loaded, q, vector, k, settings)


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


def answer_signals(
    question: str,
    k: int = 5,
    index_dir: str | os.PathLike[str] = "index",
    *,
    settings: Settings | None = None,
) -> Signals:
    """Search, choose the answer sentences and compute the confidence's inputs."""
    settings = _settings(settings)
    q, k, loaded = _prepare(question, k, index_dir, settings)
    return _signals(q, k, loaded, settings)


def _signals(q: str, k: int, loaded: _Loaded, settings: Settings) -> Signals:
    """answer_signals() over one loaded index (a rebuild meanwhile cannot mix two)."""
    keyword = loaded.index.keyword
    # Words no article holds are embedded with the question (one model call), to tell a
    # paraphrase from a real gap.
    unknown = _answer.unknown_words(q, keyword.vocabulary, keyword.stems)
    vectors = loaded.embedder.encode([q, *unknown])
    vector = vectors[0]
    hits = _hits(loaded, q, vector, k, settings)
    choice = _answer.choose(
        q,
        vector,
        _answer.topic_terms(q, keyword.query_terms),
        hits,
        sentences_of=lambda hit: loaded.index.sentences(hit.chunk_id),
        stem_terms=keyword.query_terms,
    )
    similarity: list[float] = []
    if unknown:
        sentences = np.vstack([loaded.index.sentences(h.chunk_id)[2] for h in hits])
        similarity = [float(s) for s in (sentences @ vectors[1:].T).max(axis=0)]
    missing = _answer.missing_terms(q, [h.text for h in hits], keyword.stems, unknown, similarity)
    unheard = _answer.unheard(q, missing, keyword.vocabulary, keyword.stems)
    features: dict[str, float] = {}
    if choice is not None:
        top_dense = hits[0].dense_score or 0.0
        features = _answer.confidence_features(choice, len(missing), top_dense)
    return Signals(q, vector, hits, choice, missing, unheard, features)


def _place(meta: dict[str, Any], offset: int) -> dict[str, Any]:
    """The page and section of a document (as the manifest records it) at an offset."""
    sections = [Section(int(a), str(t)) for a, t in meta.get("sections") or ()]
    pages = [int(p) for p in meta.get("pages") or ()]
    return {"page": page_at(pages, offset), "section": section_at(sections, offset)}


def _extractive(signals: Signals, settings: Settings, documents: dict[str, Any]) -> Answer:
    """The quoted answer (or the likeliest sentence, or none) that the signals support;
    ``documents`` is the manifest's, for each citation's page and section."""
    choice, hits = signals.choice, signals.hits
    probability = _answer.confidence(signals.features) if choice is not None else 0.0
    status = _answer.outcome(
        choice,
        probability,
        answer_from=settings.answer_threshold(),
        not_found_below=settings.not_found_threshold(),
        min_cosine=settings.abstain_threshold(),
        unheard=bool(signals.unheard),
    )
    chosen = choice.sentences if choice is not None and status != "not_found" else ()
    if status == "passages":
        chosen = chosen[:1]  # the likeliest sentence, highlighted in its passage
    citations = tuple(
        replace(c, **_place(documents.get(c.source) or {}, c.start))
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


def _best_sentence(
    loaded: _Loaded, signals: Signals, documents: dict[str, Any]
) -> _generate.BestSentence:
    """For a generated answer: the sentence of a cited passage closest to the question."""

    def best(passage: int, number: int, claim: str) -> Citation:
        hit = signals.hits[passage]
        spans, texts, vectors = loaded.index.sentences(hit.chunk_id)
        i = int(np.argmax(vectors @ signals.vector)) if len(texts) else -1
        start, end, text = (
            (spans[i].start, spans[i].end, texts[i]) if i >= 0 else (hit.start, hit.end, hit.text)
        )
        place = _place(documents.get(hit.source) or {}, start)
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
    settings = _settings(settings)
    q, k, loaded = _prepare(question, k, index_dir, settings)
    signals = _signals(q, k, loaded, settings)  # the same generation as the documents below
    documents = loaded.index.manifest["documents"]
    extractive = _extractive(signals, settings, documents)
    config = settings.llm()
    if config is None or not extractive.passages:
        yield extractive
        return
    best = _best_sentence(loaded, signals, documents)
    yield from _generate.generate(extractive, config, best)


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


def index_info(index_dir: str | os.PathLike[str] = "index") -> dict[str, Any]:
    """What the live index holds, and which corpus files changed since it was built."""
    path = Path(index_dir).expanduser()
    generation, manifest = read_manifest(path)
    root = Path(manifest.get("corpus_dir", ""))
    docs: dict[str, Any] = manifest.get("documents", {})
    changed, missing = [], []
    dates = sorted(str(m["date"]) for m in docs.values() if m.get("date"))
    for source, meta in docs.items():
        f = root / source
        try:
            st = f.stat()
        except OSError:
            missing.append(source)
            continue
        if st.st_size != meta["bytes"] or st.st_mtime_ns != meta["mtime_ns"]:
            changed.append(source)
    return {
        "index_dir": str(path),
        "generation": generation,
        "created_at": manifest.get("created_at"),
        "corpus_dir": str(root),
        "model": manifest["model"]["id"],
        "dimension": manifest["model"]["dimension"],
        "chunker": manifest.get("chunker"),
        "clean": (manifest.get("chunker") or {}).get("clean"),
        "files": len(docs),
        "formats": dict(Counter(str(m.get("format", "txt")) for m in docs.values())),
        "chunks": manifest.get("index", {}).get("count"),
        "changed_files": changed,
        "missing_files": missing,
        "stale": bool(changed or missing),
        "first_date": min(dates) if dates else None,
        "last_date": max(dates) if dates else None,
    }


def document_text(
    file: str | os.PathLike[str], index_dir: str | os.PathLike[str] = "index"
) -> DocumentText:
    """The text that an indexed file's offsets (passages, citations, removed spans) point into,
    with its format, metadata, page starts and sections.

    For HTML, PDF and DOCX files this is the extracted text the index stores (checked against
    its checksum; the file is neither re-read nor needed). For .txt and .md files it is the
    file itself, which must not have changed since the build. ``file`` is the file's name in
    the index (``Hit.source``) or a path to it.
    """
    path = Path(index_dir).expanduser()
    generation, manifest = read_manifest(path)
    root = Path(manifest.get("corpus_dir", ""))
    docs: dict[str, Any] = manifest.get("documents", {})
    source = _source_in(docs, root, file)
    meta = docs[source]
    if meta.get("text"):
        text = read_stored_text(path / generation, meta["text"], meta["text_sha256"])
    else:
        text = _file_text(root, source, meta["sha256"])
    return DocumentText(
        source=source,
        format=str(meta.get("format", "txt")),
        text=text,
        title=str(meta["title"]),
        date=meta.get("date"),
        author=meta.get("author"),
        site=meta.get("site"),
        pages=tuple(int(p) for p in meta.get("pages") or ()),
        sections=tuple(Section(int(a), str(t)) for a, t in meta.get("sections") or ()),
        stored=bool(meta.get("text")),
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
    file: str | os.PathLike[str], index_dir: str | os.PathLike[str] = "index"
) -> RemovedText:
    """What the cleaner removed from one indexed file: offsets and text of every removed span.

    ``file`` is the file's name in the index (as ``qa status`` lists it, relative to the corpus
    folder) or a path to it. The text is the document's (qa.api.document_text): a plain-text
    file must not have changed since the build.
    """
    path = Path(index_dir).expanduser()
    _, manifest = read_manifest(path)
    root = Path(manifest.get("corpus_dir", ""))
    docs: dict[str, Any] = manifest.get("documents", {})
    source = _source_in(docs, root, file)
    meta = docs[source]
    boilerplate = meta.get("boilerplate")
    if boilerplate is None:
        raise IndexMismatchError(
            f"index {path} was built before removed text was recorded; run `qa build`"
        )
    text = document_text(source, path).text
    spans = tuple(RemovedSpan(a, b, text[a:b]) for a, b in boilerplate["spans"])
    return RemovedText(
        source=source,
        clean=str((manifest.get("chunker") or {}).get("clean", "auto")),
        web_page=bool(boilerplate["web_page"]),
        removed_chars=int(boilerplate["removed_chars"]),
        total_chars=int(boilerplate["total_chars"]),
        spans=spans,
    )


def _source_in(docs: dict[str, Any], root: Path, file: str | os.PathLike[str]) -> str:
    """The index's name for file: itself, or its path relative to the corpus folder."""
    name = os.fspath(file)
    if name in docs:
        return name
    candidate = Path(name).expanduser()
    for base in (Path.cwd(), root):
        try:
            rel = (base / candidate).resolve().relative_to(root.resolve()).as_posix()
        except (OSError, ValueError):
            continue
        if rel in docs:
            return rel
    raise InvalidArgumentError(
        f"{name} is not in the index (it holds {len(docs)} files from {root}; give the path "
        "of one, or its name relative to that folder)"
    )
