"""Building an index: plan (which files are reused, which are chunked anew) → embed (only what
is new) → write (a new generation, made live atomically).

Only new and changed files are embedded; an unchanged file keeps its chunks and vectors, found
by content hash (so a renamed file is reused too); files that left the corpus are dropped. An
unchanged corpus embeds nothing and never loads the model. What is embedded is saved in
batches as it goes (qa.indexing.checkpoint): a build that was killed resumes from them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..config import WARN_REMOVED_SHARE, Settings, settings_or_env
from ..encode.embedding import (
    SMALL_JOB_CHARS,
    default_batch_size,
    get_build_embedder,
    get_embedder,
    preload,
)
from ..errors import IndexNotFoundError, IndexUnusableError
from ..ingest.chunking import Chunked, chunk_document
from ..ingest.cleaning import visible_chars
from ..ingest.documents import (
    Corpus,
    FileStat,
    KeepFn,
    Reading,
    Skipped,
    corpus_folder,
    load_corpus,
)
from ..ingest.pool import Workers
from ..ingest.readers import FORMATS, format_of
from ..ingest.tokens import token_counter
from ..types import BuildReport, Chunk, CleaningStats, Document, FormatCount
from . import milvus as _milvus
from .checkpoint import discard as discard_checkpoint
from .checkpoint import encode_resumable
from .index import (
    DOC,
    KEYWORD,
    TEXT_END,
    TEXT_START,
    IndexData,
    RowFile,
    StoredIndex,
    load_index,
    open_documents,
    save_index,
)
from .keyword import DESCRIPTION, KeywordIndex, keyword_index_later
from .keyword import updatable as keyword_updatable
from .manifest import Boilerplate, DocumentRecord, Manifest, ModelInfo
from .remote import check_ray, embed_on_ray
from .rows import Laid, RowLayout
from .scratch import Scratch, npy_file, scratch
from .spool import Spooled
from .store import TEXTS, build_lock, current_generation, write_error

ProgressFn = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)
# A file whose modification time is closer than this to when it was looked at is read again
# (2 s: the coarsest timestamps in use, FAT's).
RACY_NS = 2_000_000_000
# Each character of a new document is embedded about twice: in its chunk and in its sentence.
# An update with less new text than SMALL_JOB_CHARS / EMBEDDED_PER_CHAR may embed in numpy,
# and loads no model ahead.
EMBEDDED_PER_CHAR = 2
# (phase, done, total): phase "read" counts files, "embed" chunks and sentences, "write" steps.
PhaseFn = Callable[[str, int, int], None]


def indexed_text(chunk: Chunk, settings: Settings) -> str:
    """What is embedded and keyword-indexed for a chunk: with its article's title in front
    (when the chunk does not already start with it), so a passage deep in an article still
    carries what the article is about."""
    return _indexed(chunk.title, chunk.text, settings)


def _indexed(title: str, text: str, settings: Settings) -> str:
    if settings.title_prefix and title and not text.startswith(title):
        return f"{title}\n{text}"
    return text


# ---------------------------------------------------------------------------------------------
# Plan


@dataclass
class _Plan:
    """The new index as planning lays out its documents (their rows: qa.indexing.rows.RowLayout)."""

    documents: dict[str, DocumentRecord] = field(default_factory=dict)  # by source, in order
    texts: dict[str, Path] = field(default_factory=dict)  # files of stored texts, by name
    cleaning: list[CleaningStats] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    new_files: int = 0
    changed_files: int = 0
    unchanged_files: int = 0
    reused: int = 0


def _incompatibility(manifest: Manifest, settings: Settings) -> str:
    """Why the old index cannot be reused ('' when it can)."""
    if manifest.model.id != settings.model:
        return f"model changed ({manifest.model.id} -> {settings.model})"
    old = manifest.chunker
    if old != settings.chunker():
        if old.get("clean", "auto") != settings.clean:
            return f"cleaning changed ({old.get('clean', 'auto')} -> {settings.clean})"
        return "chunker settings changed"
    return ""


def _live(
    index_path: Path, full: bool, settings: Settings, warnings: list[str]
) -> tuple[Manifest | None, dict[str, DocumentRecord], str]:
    """The manifest and documents (by source) of the live index when its vectors can be
    reused, else None and no documents; and why a full build happens. Reads no more than the
    manifest and the document table."""
    if full:
        return None, {}, "requested"
    try:
        _, manifest, table = open_documents(index_path)
        documents = {record.source: record for record in table}
    except IndexNotFoundError:
        return None, {}, "no previous index"
    except IndexUnusableError as exc:
        warnings.append(f"previous index unusable ({exc})")
        return None, {}, f"previous index unusable ({exc})"
    why = _incompatibility(manifest, settings)
    return (None, {}, why) if why else (manifest, documents, "")


def unchanged_file(known: Mapping[str, DocumentRecord]) -> KeepFn:
    """A test of whether a file is as the index recorded it (``known``, by source), by its
    size and modification time, so that it need not be read again. A file modified less
    than RACY_NS before the index looked at it fails the test: it may have changed since
    within the file system's timestamp granularity, leaving both unchanged."""

    def keep(source: str, stat: FileStat) -> bool:
        old = known.get(source)
        return (
            old is not None
            and (old.bytes, old.mtime_ns) == (stat.bytes, stat.mtime_ns)
            and settled(old.mtime_ns, old.seen_ns)
        )

    return keep


def settled(mtime_ns: int, seen_ns: int) -> bool:
    """Whether a file's modification time, looked at when seen_ns, can vouch for its bytes."""
    return mtime_ns < seen_ns - RACY_NS


def _as_recorded(
    doc: Document, text_sha256: str, stat: FileStat, old: DocumentRecord | None
) -> bool:
    """Whether a file that was read is byte for byte as the index records it, and a new
    record would still not let the next build skip it (its time is still too recent)."""
    return (
        old is not None
        and (old.sha256, old.text_sha256) == (doc.sha256, text_sha256)
        and (old.bytes, old.mtime_ns) == (stat.bytes, stat.mtime_ns)
        and not settled(stat.mtime_ns, stat.seen_ns)
    )


def _nothing_changed(
    corpus: Corpus, digests: Mapping[str, str], known: dict[str, DocumentRecord], live: Manifest
) -> bool:
    """Whether the live index already is what this build would write (``digests``: the
    sha256 of each document's text, by source)."""
    return (
        # Files kept or read as recorded are known ones: with as many, the same set.
        len(corpus.kept) + len(corpus.documents) == len(known)
        and all(
            _as_recorded(d, digests[d.source], corpus.stats[d.source], known.get(d.source))
            for d in corpus.documents
        )
        and dict(live.skipped) == _skipped(corpus)
        and live.corpus_dir == str(corpus.root)
        and dict(live.keyword) == DESCRIPTION
    )


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reuse(plan: _Plan, rows: RowLayout, old: DocumentRecord, previous: StoredIndex) -> None:
    """Take an unchanged document's chunks, sentences and their vectors from the old index."""
    rows.reused(
        len(plan.documents), previous, old.first_chunk, old.chunks, old.first_sentence,
        old.sentences,
    )  # fmt: skip
    plan.reused += old.chunks


def _chunks_of(doc: Document, settings: Settings) -> Chunked:
    """A document's chunks and sentences (in the worker process that read it, when it may)."""
    count = token_counter(settings.encoding)  # loaded once a process
    return chunk_document(
        doc.text, doc.segments, count, settings.chunk_tokens, settings.chunk_overlap
    )


def _chunked(job: tuple[Document, Settings]) -> Chunked:
    return _chunks_of(*job)


def _chunk(
    plan: _Plan, rows: RowLayout, doc: Document, chunked: Chunked, settings: Settings
) -> None:
    """Plan a new or changed document's chunks; they and their sentences are to be embedded."""
    embedded = [_indexed(doc.title, span.of(doc.text), settings) for span in chunked.spans()]
    rows.new(len(plan.documents), doc.text, chunked.units, chunked.ranges, embedded)


def _cleaning(doc: Document) -> CleaningStats:
    removed = sum(visible_chars(doc.text, s.start, s.end) for s in doc.removed)
    return CleaningStats(doc.source, removed, visible_chars(doc.text), doc.web_page)


def _recorded_cleaning(record: DocumentRecord) -> CleaningStats:
    b = record.boilerplate
    return CleaningStats(record.source, b.removed_chars, b.total_chars, b.web_page)


def _cleaning_warning(stats: CleaningStats) -> str | None:
    if stats.share <= WARN_REMOVED_SHARE:
        return None
    return (
        f"{stats.source}: {stats.share:.0%} of its text was removed as boilerplate "
        f"(more than {WARN_REMOVED_SHARE:.0%}); see `qa status --removed "
        f"{stats.source}`, or build with `--clean none` to keep everything"
    )


def _note_cleaning(plan: _Plan, stats: CleaningStats) -> None:
    plan.cleaning.append(stats)
    warning = _cleaning_warning(stats)
    if warning:
        plan.warnings.append(warning)


def _record(
    plan: _Plan,
    rows: RowLayout,
    read: _Read,
    stat: FileStat,
    first: int,
    first_sentence: int,
) -> None:
    """Record a planned document: its rows (from ``first`` and ``first_sentence`` to the
    layout's end), what its reader found, what cleaning removed."""
    doc = read.doc
    stats = _cleaning(doc)
    _note_cleaning(plan, stats)
    stored = None if doc.plain else f"{doc.sha256}.txt"  # by content: copies share it
    if stored is not None:
        plan.texts[stored] = rows.stored_text(stored, doc.text)
    plan.documents[doc.source] = DocumentRecord(
        source=doc.source,
        sha256=doc.sha256,
        bytes=stat.bytes,
        mtime_ns=stat.mtime_ns,
        title=doc.title,
        date=doc.date,
        first_chunk=first,
        chunks=rows.chunks - first,
        first_sentence=first_sentence,
        sentences=rows.sentences - first_sentence,
        boilerplate=Boilerplate(
            doc.web_page,
            stats.removed_chars,
            stats.total_chars,
            tuple((s.start, s.end) for s in doc.removed),
        ),
        format=doc.format,
        author=doc.author,
        site=doc.site,
        pages=doc.pages,
        sections=doc.sections,
        text=stored,
        text_sha256=read.text_sha256,
        seen_ns=stat.seen_ns,
    )


def _keep(plan: _Plan, rows: RowLayout, old: DocumentRecord, previous: StoredIndex) -> None:
    """Plan a file that was not read again (unchanged since the previous index): its rows,
    record and stored text are the previous index's."""
    first, first_sentence = rows.chunks, rows.sentences
    _reuse(plan, rows, old, previous)
    _note_cleaning(plan, _recorded_cleaning(old))
    if old.text is not None:  # linked as it is: loading the previous index checked it
        plan.texts[old.text] = previous.path / TEXTS / old.text
    plan.documents[old.source] = replace(old, first_chunk=first, first_sentence=first_sentence)
    plan.unchanged_files += 1


@dataclass(frozen=True)
class _Read:
    """A document read, the sha256 of its text, and its chunks when they were made as it was
    read (in the worker process that read it)."""

    doc: Document
    text_sha256: str
    chunked: Chunked | None = None


def _prepared(doc: Document, settings: Settings) -> tuple[str, Chunked]:
    """What a full build's worker makes of a document it read: its text's sha256, its chunks."""
    return _text_sha256(doc.text), _chunks_of(doc, settings)


# A file as planning takes it: the record of a file not read again, or a document read.
_Entry = DocumentRecord | _Read


def _source(entry: _Entry) -> str:
    return entry.source if isinstance(entry, DocumentRecord) else entry.doc.source


def _reusable(read: _Read, by_hash: Mapping[str, DocumentRecord]) -> DocumentRecord | None:
    """The previous index's record of a document's content (None: it is to be chunked). The
    same file may read differently now (a reader changed): then it is chunked anew."""
    old = by_hash.get(read.doc.sha256)
    return old if old is not None and old.text_sha256 == read.text_sha256 else None


def _update_entries(
    corpus: Corpus,
    digests: Mapping[str, str],
    old_docs: dict[str, DocumentRecord],
    settings: Settings,
    workers: Workers,
) -> list[_Entry]:
    """The files of an update, in order: documents read (``digests``: their texts' sha256;
    chunked by ``workers`` where the previous index, whose documents are old_docs, does not
    hold them) and files kept."""
    by_hash = {record.sha256: record for record in old_docs.values()}
    reads = [_Read(doc, digests[doc.source]) for doc in corpus.documents]
    new = [read.doc for read in reads if _reusable(read, by_hash) is None]
    made = workers.map(_chunked, [(doc, settings) for doc in new])
    chunked = dict(zip([doc.source for doc in new], made, strict=True))
    entries: list[_Entry] = [replace(r, chunked=chunked.get(r.doc.source)) for r in reads]
    entries += [old_docs[source] for source in corpus.kept]
    return sorted(entries, key=_source)


def _plan(
    entries: Iterable[_Entry],
    stats: Mapping[str, FileStat],
    previous: StoredIndex | None,
    old_docs: dict[str, DocumentRecord],
    settings: Settings,
    disk: Scratch,
) -> tuple[_Plan, Laid]:
    """Lay out the new index from its files in order (``stats``: theirs), on ``disk`` as it
    goes: reuse what is unchanged in the previous index (whose documents are old_docs), chunk
    what is new or changed."""
    rows = RowLayout(disk.folder, disk.index_dir)
    plan = _Plan()
    by_hash = {r.sha256: r for r in old_docs.values()} if previous is not None else {}
    for entry in entries:
        if isinstance(entry, DocumentRecord):
            assert previous is not None  # files are kept only against a previous index
            _keep(plan, rows, entry, previous)
            continue
        first, first_sentence = rows.chunks, rows.sentences
        old = _reusable(entry, by_hash)
        if old is not None:
            assert previous is not None
            _reuse(plan, rows, old, previous)
            plan.unchanged_files += 1
        else:
            chunked = entry.chunked
            if chunked is None:  # not made as it was read
                chunked = _chunks_of(entry.doc, settings)
            _chunk(plan, rows, entry.doc, chunked, settings)
            if entry.doc.source in old_docs:
                plan.changed_files += 1
            else:
                plan.new_files += 1
        _record(plan, rows, entry, stats[entry.doc.source], first, first_sentence)
    return plan, rows.close()


# ---------------------------------------------------------------------------------------------
# Embed


@dataclass(frozen=True)
class _Embedded:
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    model: ModelInfo
    chunks: int  # embedded in this build
    sentences: int
    truncated: int  # chunks longer than the model reads
    resumed: int = 0  # texts whose vectors a killed build had saved


def _gather(
    sources: np.ndarray, old: RowFile | None, dimension: int, disk: Scratch, name: str
) -> np.ndarray:
    """An array on disk with a row per entry of sources, reused rows copied from old: each
    run of rows that follow one another in both is copied into place at once, within the
    kernel where it can (qa.indexing.index.RowFile.copy_into)."""
    out = disk.array(name, len(sources), dimension)
    if old is None:
        return out
    rows = np.asarray(sources, dtype=np.int64)
    kept = np.flatnonzero(rows >= 0)
    breaks = np.flatnonzero((np.diff(kept) != 1) | (np.diff(rows[kept]) != 1)) + 1
    starts = np.concatenate(([0], breaks)).astype(np.int64)
    stops = np.concatenate((breaks, [len(kept)])).astype(np.int64)
    target, fd, base = npy_file(out), -1, 0  # base: where out's rows begin in its file
    with contextlib.ExitStack() as stack:
        if target is not None:
            assert isinstance(out, np.memmap)
            try:
                fd, base = os.open(target, os.O_WRONLY), out.offset
            except OSError as exc:
                raise write_error(disk.index_dir, exc) from exc
            stack.callback(os.close, fd)
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            if b > a:
                first, count = int(kept[a]), b - a
                at = base + first * out.strides[0]
                if fd < 0 or not old.copy_into(int(rows[first]), count, fd, at):
                    old.read_into(int(rows[first]), out[first : first + count])
    return out


class _Split:
    """The rows of the texts to embed (the new chunks, then the new sentences) written
    straight into the arrays they end in: text i is row ``chunk_rows[i]`` of the chunk
    vectors, text ``len(chunk_rows) + j`` row ``sentence_rows[j]`` of the sentence vectors.
    (An array of them all would be copied into those afterwards: 630 MB for 20,000 files.)"""

    def __init__(self, *parts: tuple[np.ndarray, np.ndarray]) -> None:
        self._arrays = [array for array, _ in parts]
        self._rows = [np.asarray(rows, dtype=np.int64) for _, rows in parts]
        self._starts = np.cumsum([0] + [len(rows) for rows in self._rows])

    def _parts(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For each array: which of rows fall in it, and their rows there."""
        part = np.searchsorted(self._starts, rows, side="right") - 1
        for i, (array, own) in enumerate(zip(self._arrays, self._rows, strict=True)):
            mine = part == i
            if mine.any():
                yield array, mine, own[rows[mine] - self._starts[i]]

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self._arrays[0].shape[1]), dtype=np.float32)
        for array, mine, there in self._parts(rows):
            out[mine] = array[there]
        return out

    def __setitem__(self, rows: np.ndarray | list[int], values: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        values = np.broadcast_to(values, (len(rows), self._arrays[0].shape[1]))
        for array, mine, there in self._parts(rows):
            array[there] = values[mine]


def _embed(
    laid: Laid,
    previous: StoredIndex | None,
    index_path: Path,
    settings: Settings,
    progress: ProgressFn | None,
    disk: Scratch,
) -> _Embedded:
    """Vectors for every laid-out row, in arrays on disk: reused ones copied, those a killed
    build saved taken back, the others embedded now. The model loads only when something
    needs embedding."""
    todo, todo_s = laid.new_chunks, laid.new_sentences

    def gathered(model: ModelInfo) -> tuple[np.ndarray, np.ndarray]:
        old_vectors = previous.vectors if previous is not None else None
        old_sentences = previous.sentence_vectors if previous is not None else None
        return (
            _gather(laid.chunk_from, old_vectors, model.dimension, disk, "vectors"),
            _gather(laid.sentence_from, old_sentences, model.dimension, disk, "s"),
        )

    if not len(todo) and not len(todo_s):
        assert previous is not None  # nothing to embed implies everything was reused
        return _Embedded(*gathered(previous.manifest.model), previous.manifest.model, 0, 0, 0)
    texts = laid.to_embed
    if previous is None:  # a full build
        embedder = get_embedder(settings.model, settings.device)
    else:  # an update: a small one may not need torch at all
        chars = int((texts.stops - texts.starts).sum())  # bytes: about as many
        embedder = get_build_embedder(settings.model, settings.device, chars)
    model = ModelInfo(embedder.model_id, embedder.dimension, True, embedder.max_tokens)
    vectors, sentence_vectors = gathered(model)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, len(texts))

    step(0)
    held = None
    if settings.ray_address is not None:  # Ray fills the checkpoint, taken back below
        held = embed_on_ray(embedder, texts, index_path, settings, step)
        done = 0  # counted again as they are taken back
    batch = settings.batch_size or default_batch_size(embedder.device)
    into = _Split((vectors, todo), (sentence_vectors, todo_s))
    resumed = encode_resumable(embedder, texts, index_path, batch, step, out=into)
    truncated = int(resumed.truncated[: len(todo)].sum())  # of the chunks
    taken = resumed.taken if held is None else held
    return _Embedded(vectors, sentence_vectors, model, len(todo), len(todo_s), truncated, taken)


# ---------------------------------------------------------------------------------------------
# Write, and the whole build


def _write(
    index_path: Path,
    corpus: Corpus,
    plan: _Plan,
    laid: Laid,
    embedded: _Embedded,
    keyword: KeywordIndex,
    previous: StoredIndex | None,
    settings: Settings,
    progress: ProgressFn | None,
) -> str:
    """Write the planned, embedded index as a new live generation; returns its name."""
    if progress:
        progress(0, 1)
    manifest = Manifest(
        created_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        corpus_dir=str(corpus.root),
        model=embedded.model,
        chunker=settings.chunker(),
        keyword=DESCRIPTION,
        files=len(plan.documents),
        skipped=_skipped(corpus),
    )
    data = IndexData(
        documents=list(plan.documents.values()),
        chunks=laid.chunks,
        vectors=embedded.vectors,
        keyword=keyword,
        sentence_spans=laid.sentence_spans,
        sentence_vectors=embedded.sentence_vectors,
        texts=plan.texts,
        reuse=(previous.dense, laid.chunk_from) if previous is not None else None,
    )
    return save_index(index_path, manifest, data, progress=progress)


def _skipped(corpus: Corpus) -> dict[str, str]:
    """The files left out, as the manifest records them: source -> reason."""
    return {s.source: s.reason for s in corpus.skipped}


def _format_counts(
    records: Iterable[DocumentRecord], skipped: Iterable[Skipped]
) -> tuple[FormatCount, ...]:
    """Files indexed, skipped and failed, by format, in the order of qa.ingest.readers.FORMATS."""
    counts: dict[str, list[int]] = {}
    for record in records:
        counts.setdefault(record.format, [0, 0, 0])[0] += 1
    for s in skipped:
        counts.setdefault(format_of(s.source).name, [0, 0, 0])[2 if s.failed else 1] += 1
    return tuple(FormatCount(f.name, *counts[f.name]) for f in FORMATS if f.name in counts)


def _phase(phases: PhaseFn | None, name: str) -> ProgressFn | None:
    """The progress function of one build phase (None when nobody follows the phases)."""
    if phases is None:
        return None
    return lambda done, total: phases(name, done, total)


def _both(first: ProgressFn | None, second: ProgressFn | None) -> ProgressFn:
    def report(done: int, total: int) -> None:
        for follow in (first, second):
            if follow:
                follow(done, total)

    return report


@dataclass(frozen=True)
class _Files:
    """The files a build lays out, in order, and their stats; the previous index it updates
    (None: a full build); and the corpus, complete once the entries were taken."""

    entries: Iterable[_Entry]
    stats: Mapping[str, FileStat]
    previous: StoredIndex | None
    corpus: Callable[[], Corpus]


def _full(
    root: Path, index_path: Path, settings: Settings, read: ProgressFn | None, workers: Workers
) -> _Files:
    """A full build's files: each chunked in the process that reads it, and laid out as it
    comes, a few ahead (no more are held). The model loads meanwhile."""
    preload(settings.model, settings.device, warm=True, batch_size=settings.batch_size)
    reading = Reading(root, settings, read, workers=workers, then=_prepared, index_dir=index_path)
    entries = (_Read(doc, *made) for doc, made in reading)
    return _Files(entries, reading.stats, None, reading.corpus)


def _update(
    corpus: Corpus,
    digests: Mapping[str, str],
    old_docs: dict[str, DocumentRecord],
    index_path: Path,
    settings: Settings,
    warnings: list[str],
    workers: Workers,
) -> _Files | None:
    """An update's files (the corpus as read, with the files kept); None when the previous
    index fails to load (a warning says why)."""
    if _new_chars(corpus, old_docs) * EMBEDDED_PER_CHAR > SMALL_JOB_CHARS:
        preload(settings.model, settings.device)  # loads while the previous index opens
    previous = _load_previous(index_path, warnings)
    if previous is None:
        return None
    entries = _update_entries(corpus, digests, old_docs, settings, workers)
    return _Files(entries, corpus.stats, previous, lambda: corpus)


def _load_previous(index_path: Path, warnings: list[str]) -> StoredIndex | None:
    try:
        return load_index(index_path)
    except IndexUnusableError as exc:
        warnings.append(f"previous index unusable ({exc})")
        return None


def _new_chars(corpus: Corpus, old_docs: dict[str, DocumentRecord]) -> int:
    """Characters of the documents read whose content the previous index does not hold."""
    known = {record.sha256 for record in old_docs.values()}
    return sum(len(doc.text) for doc in corpus.documents if doc.sha256 not in known)


def _keywords_later(
    plan: _Plan,
    laid: Laid,
    previous: StoredIndex | None,
    settings: Settings,
    workers: Workers,
    disk: Scratch,
) -> Callable[[], KeywordIndex]:
    """The keyword index of the laid-out chunks, started now, written in the scratch folder:
    an update tokenizes only the chunks it does not reuse, when the previous index kept the
    term counts of the others."""
    new = laid.new_chunk_texts
    folder = previous.path / KEYWORD if previous is not None else None
    if folder is not None and keyword_updatable(folder):
        return keyword_index_later(new, laid.chunk_from, folder, workers, disk)
    if previous is None:  # every chunk is new
        return keyword_index_later(new, None, None, workers, disk)
    # An update of an index written before term counts were kept: every chunk's text.
    titles = [record.title for record in plan.documents.values()]
    columns = laid.chunks.columns
    chunk_texts = Spooled(laid.chunks.texts, columns[TEXT_START], columns[TEXT_END])
    texts = [
        _indexed(titles[doc], text, settings)
        for doc, text in zip(columns[DOC].tolist(), chunk_texts, strict=True)
    ]
    return keyword_index_later(texts, None, None, workers, disk)


def _unchanged_plan(old_docs: dict[str, DocumentRecord]) -> _Plan:
    """What a build reports when the live index already holds the corpus as it is."""
    plan = _Plan(documents=dict(old_docs), unchanged_files=len(old_docs))
    plan.reused = sum(record.chunks for record in old_docs.values())
    for record in old_docs.values():
        _note_cleaning(plan, _recorded_cleaning(record))
    return plan


def build_index(
    corpus_dir: str | os.PathLike[str] = "seeds",
    index_dir: str | os.PathLike[str] = "index",
    full: bool = False,
    *,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
    phases: PhaseFn | None = None,
    processes: int | None = 1,
    workers: Workers | None = None,
) -> BuildReport:
    """Build or update the index of the articles in corpus_dir.

    Only new and changed files are embedded; files that left the corpus are dropped. Files
    whose size and modification time are as the index recorded them are not read again, and
    when nothing changed at all the live index stays as it is: nothing is written.
    ``full=True``, or a change of model or chunker settings, re-reads and re-embeds
    everything, except what a killed build of the same texts had already embedded (its saved
    batches resume). The previous index stays live until the new one is complete.
    ``progress(done, total)`` follows the embedding; ``phases(phase, done, total)`` follows
    every phase: "read" (files), "embed" (chunks and sentences), "write" (steps).
    ``processes``: worker processes that read, clean and chunk files and build the BM25
    index of a large corpus (qa.ingest.pool): 1 works in this process; None, one per core on
    machines of 4 cores or more. Workers import the calling script's main module, which
    must then guard its entry point, as for any spawned process. ``workers``: worker
    processes kept between builds (qa.indexing.watch), used instead of starting ``processes``.
    """
    settings = settings_or_env(settings)
    target = settings.milvus()
    if target is None:
        return _build(corpus_dir, index_dir, full, settings, progress, phases, processes, workers)
    # A Milvus store: the index is built in index_dir as always (the build's working copy,
    # which makes the next build incremental), then published to Milvus unless Milvus holds
    # that generation already.
    t0 = time.perf_counter()
    report = _build(corpus_dir, index_dir, full, settings, progress, phases, processes, workers)
    index_path = Path(index_dir).expanduser()
    with build_lock(index_path):
        if report.wrote or _milvus.published(target) != current_generation(index_path):
            _milvus.publish(index_path, target)
            report = replace(report, wrote=True)
    return replace(report, seconds=time.perf_counter() - t0, index_dir=target.uri)


def _build(
    corpus_dir: str | os.PathLike[str],
    index_dir: str | os.PathLike[str],
    full: bool,
    settings: Settings,
    progress: ProgressFn | None,
    phases: PhaseFn | None,
    processes: int | None,
    workers: Workers | None,
) -> BuildReport:
    """build_index() of a local index folder."""
    t0 = time.perf_counter()
    index_path = Path(index_dir).expanduser()
    root = corpus_folder(Path(corpus_dir))  # raises before anything is touched
    if settings.ray_address is not None:  # Ray missing or its head silent: said before planning
        check_ray(settings.ray_address)
    read = _phase(phases, "read")
    own = Workers(processes) if workers is None else contextlib.nullcontext(workers)
    with build_lock(index_path), own as workers:
        warnings: list[str] = []
        live, old_docs, reason = _live(index_path, full, settings, warnings)
        files = None
        if live is not None:  # an update: files unchanged since the index was built are kept
            keep = unchanged_file(old_docs)
            corpus = load_corpus(root, settings, read, keep, workers, index_path)
            digests = {doc.source: _text_sha256(doc.text) for doc in corpus.documents}
            if _nothing_changed(corpus, digests, old_docs, live):
                plan = _unchanged_plan(old_docs)
                return _report(
                    plan, None, corpus, old_docs, warnings, reason, live.generation, t0, index_path
                )
            files = _update(corpus, digests, old_docs, index_path, settings, warnings, workers)
            if files is None:  # the previous index failed to load after all
                old_docs, reason = {}, warnings[-1]
        files = files or _full(root, index_path, settings, read, workers)
        follow = _both(progress, _phase(phases, "embed"))
        with scratch(index_path) as disk:  # rows and vectors, on disk until written
            previous = files.previous
            plan, laid = _plan(files.entries, files.stats, previous, old_docs, settings, disk)
            corpus = files.corpus()
            keywords = _keywords_later(plan, laid, previous, settings, workers, disk)  # meanwhile
            embedded = _embed(laid, previous, index_path, settings, follow, disk)
            write = _phase(phases, "write")
            generation = _write(
                index_path, corpus, plan, laid, embedded, keywords(), previous, settings, write
            )
        discard_checkpoint(index_path)
    return _report(plan, embedded, corpus, old_docs, warnings, reason, generation, t0, index_path)


def _report(
    plan: _Plan,
    embedded: _Embedded | None,
    corpus: Corpus,
    old_docs: dict[str, DocumentRecord],
    warnings: list[str],
    reason: str,
    generation: str,
    t0: float,
    index_path: Path,
) -> BuildReport:
    """What the build did (``embedded`` None: nothing changed, nothing was written)."""
    removed = [s for s in old_docs if s not in plan.documents]
    notes = [*warnings, *corpus.warnings, *plan.warnings]
    if embedded is not None and embedded.truncated:
        notes.append(
            f"{embedded.truncated} chunk(s) exceed the model's {embedded.model.max_tokens}-token "
            "window and were embedded truncated"
        )
    return BuildReport(
        files=len(plan.documents),
        chunks=sum(record.chunks for record in plan.documents.values()),
        embedded=embedded.chunks if embedded else 0,
        embedded_sentences=embedded.sentences if embedded else 0,
        resumed=embedded.resumed if embedded else 0,
        reused=plan.reused,
        removed=len(removed),
        removed_chunks=sum(old_docs[s].chunks for s in removed),
        new_files=plan.new_files,
        changed_files=plan.changed_files,
        unchanged_files=plan.unchanged_files,
        skipped=tuple(str(s) for s in corpus.skipped),
        warnings=tuple(notes),
        full=bool(reason),
        reason=reason,
        truncated_chunks=embedded.truncated if embedded else 0,
        seconds=time.perf_counter() - t0,
        index_dir=str(index_path),
        generation=generation,
        cleaning=tuple(plan.cleaning),
        formats=_format_counts(plan.documents.values(), corpus.skipped),
        wrote=embedded is not None,
    )
