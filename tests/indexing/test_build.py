"""Building: files unchanged since the index are not read again, nothing is written when
nothing changed, and (with the real model) an unchanged rebuild imports no torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import DATA, ROOT, SEEDS
from hypothesis import given
from hypothesis import strategies as st

import qa.indexing.build
import qa.ingest.documents
from qa import Settings, build_index
from qa.indexing.build import RACY_NS, unchanged_file
from qa.indexing.index import load_index
from qa.indexing.manifest import Boilerplate, DocumentRecord
from qa.indexing.store import current_generation
from qa.ingest.documents import FileStat
from qa.searching.query import document_text

_REBUILD = """
import json, sys
from qa import build_index
report = build_index(sys.argv[1], sys.argv[2])
print(json.dumps({"embedded": report.embedded, "reused": report.reused,
                  "torch": "torch" in sys.modules,
                  "sentence_transformers": "sentence_transformers" in sys.modules}))
"""


def _rebuild_in_a_new_process(corpus: Path, index: Path) -> dict[str, Any]:
    """What _REBUILD prints: the report's counts and which heavy modules were imported."""
    out = subprocess.run(
        [sys.executable, "-c", _REBUILD, str(corpus), str(index)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_unchanged_rebuild_imports_no_torch(real_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(real_index, index)  # file times kept: loads without hashing
    result = _rebuild_in_a_new_process(SEEDS, index)
    assert result["embedded"] == 0 and result["reused"] > 0
    assert not result["torch"] and not result["sentence_transformers"]


@pytest.mark.slow
def test_a_small_update_embeds_without_torch(real_index: Path, tmp_path: Path) -> None:
    """One changed article: its texts are embedded by the numpy encoder, no torch imported,
    and its vectors are sentence-transformers' to a cosine of 0.9999."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SEEDS, corpus)
    shutil.copytree(real_index, index)
    changed = corpus / "004_230749e99c2d62ef.txt"
    changed.write_text(changed.read_text() + "\nCavendish also plans to ride a tandem.\n")
    result = _rebuild_in_a_new_process(corpus, index)
    assert result["embedded"] > 0 and not result["torch"]
    from qa.encode.embedding import SentenceTransformerEmbedder
    from qa.indexing.build import indexed_text

    got = load_index(index)
    rows = [r for r in range(len(got.chunks)) if got.chunks[r].source == changed.name]
    texts = [indexed_text(got.chunks[r], Settings()) for r in rows]
    want = SentenceTransformerEmbedder(Settings().model, "cpu").encode(texts)
    assert float((got.vectors[rows] * want).sum(axis=1).min()) > 0.9999


@given(st.lists(st.integers(-1, 29), max_size=60), st.booleans())
def test_reused_vectors_are_gathered_row_for_row(sources: list[int], in_kernel: bool) -> None:
    """Runs of rows that follow one another in both indexes are copied straight into place
    (within the kernel, or read where the system cannot copy so); any other order, repeats
    and gaps come out row for row, and new rows stay zero."""
    import tempfile
    from unittest import mock

    import qa.indexing.index
    from qa.indexing.index import RowFile
    from qa.indexing.scratch import scratch

    old = np.random.default_rng(len(sources)).random((30, 4), dtype=np.float32)
    copy = qa.indexing.index._copy_file_range if in_kernel else None
    with (
        tempfile.TemporaryDirectory() as folder,
        mock.patch.object(qa.indexing.index, "_copy_file_range", copy),
    ):
        np.save(Path(folder) / "old.npy", old, allow_pickle=False)
        with scratch(Path(folder) / "index") as disk:
            out = qa.indexing.build._gather(
                sources, RowFile(Path(folder) / "old.npy"), 4, disk, "v"
            )
            for row, source in enumerate(sources):
                np.testing.assert_array_equal(out[row], old[source] if source >= 0 else 0)


def _record(bytes_: int, mtime_ns: int, seen_ns: int) -> DocumentRecord:
    return DocumentRecord(
        "a.txt",
        "0" * 64,
        bytes_,
        mtime_ns,
        "A",
        None,
        0,
        1,
        0,
        1,
        Boilerplate(False, 0, 1),
        seen_ns=seen_ns,
    )


@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**12),
    st.integers(0, 10**12),
    st.integers(0, 10**12),
)
def test_a_file_is_kept_only_when_size_and_time_match_and_are_not_racy(
    old_size: int, size: int, old_mtime: int, mtime: int, seen: int
) -> None:
    keep = unchanged_file({"a.txt": _record(old_size, old_mtime, seen)})
    kept = keep("a.txt", FileStat(size, mtime, seen + 10**9))
    assert kept == (size == old_size and mtime == old_mtime and old_mtime < seen - RACY_NS)
    assert not keep("b.txt", FileStat(size, mtime, seen))  # a file the index never had


def _age(corpus: Path, seconds: float = 3600) -> None:
    """Set every file's modification time ``seconds`` back (by default older than RACY_NS)."""
    past = time.time() - seconds
    for path in corpus.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources of the files the build reads."""
    seen: list[str] = []
    real = qa.ingest.documents.load_document

    def load_document(path: Path, source: str, settings: Settings) -> object:
        seen.append(source)
        return real(path, source, settings)

    monkeypatch.setattr(qa.ingest.documents, "load_document", load_document)
    return seen


def test_nothing_changed_reads_no_file_and_writes_nothing(
    corpus: Path, tmp_path: Path, hash_settings: Settings, reads: list[str]
) -> None:
    index = tmp_path / "index"
    _age(corpus)
    first = build_index(corpus, index, settings=hash_settings)
    reads.clear()
    again = build_index(corpus, index, settings=hash_settings)
    assert reads == []
    assert not again.wrote and again.generation == first.generation == current_generation(index)
    assert (again.files, again.chunks, again.reused, again.embedded) == (
        5,
        first.chunks,
        first.chunks,
        0,
    )
    assert again.unchanged_files == 5 and not again.full
    assert again.cleaning == first.cleaning and again.formats == first.formats


def test_a_file_just_written_is_read_again(
    corpus: Path, tmp_path: Path, hash_settings: Settings, reads: list[str]
) -> None:
    """Within RACY_NS of being looked at, a file's time cannot vouch for its bytes: it is read
    again; when its bytes are as recorded, nothing is written."""
    index = tmp_path / "index"
    _age(corpus, -30)  # modified "in 30 s": racy for the whole test, however slow
    first = build_index(corpus, index, settings=hash_settings)
    reads.clear()
    again = build_index(corpus, index, settings=hash_settings)
    assert len(reads) == 5 and again.embedded == 0
    assert not again.wrote and again.generation == first.generation
    _age(corpus)  # now old: the next build reads every file and records that
    reads.clear()
    assert build_index(corpus, index, settings=hash_settings).wrote and len(reads) == 5
    reads.clear()
    assert not build_index(corpus, index, settings=hash_settings).wrote and reads == []


def test_only_touched_and_changed_files_are_read(
    corpus: Path, tmp_path: Path, hash_settings: Settings, reads: list[str]
) -> None:
    """One file touched (same bytes), one changed: only those two are read; the touched one
    keeps its vectors; the index equals a build from scratch."""
    index = tmp_path / "index"
    _age(corpus)
    first = build_index(corpus, index, settings=hash_settings)
    (corpus / "001_1bde5f3f857fbb0b.txt").touch()
    changed = corpus / "004_230749e99c2d62ef.txt"
    changed.write_text(changed.read_text() + "\nCavendish also plans to ride a tandem.\n")
    reads.clear()
    again = build_index(corpus, index, settings=hash_settings)
    assert sorted(reads) == ["001_1bde5f3f857fbb0b.txt", "004_230749e99c2d62ef.txt"]
    assert again.wrote and again.generation != first.generation
    assert (again.unchanged_files, again.changed_files) == (4, 1)

    fresh = build_index(corpus, tmp_path / "fresh", settings=hash_settings)
    got, want = load_index(index), load_index(tmp_path / "fresh")
    assert [got.chunks.text(i) for i in range(fresh.chunks)] == [
        want.chunks.text(i) for i in range(fresh.chunks)
    ]
    assert np.array_equal(got.chunks.columns, want.chunks.columns)
    assert np.array_equal(got.vectors[:], want.vectors[:])
    assert np.array_equal(got.sentence_vectors[:], want.sentence_vectors[:])
    ignore = ("mtime_ns", "seen_ns")
    assert [{k: v for k, v in vars(r).items() if k not in ignore} for r in got.documents] == [
        {k: v for k, v in vars(r).items() if k not in ignore} for r in want.documents
    ]


def _keyword_postings(index: Path) -> dict[str, tuple[list[int], list[float], list[int]]]:
    """Every term's rows, scores and term counts in the live index's keyword index."""
    keyword = load_index(index).keyword
    p = keyword._p
    out = {}
    for term, i in keyword._vocab.items():
        a, b = int(p.indptr[i]), int(p.indptr[i + 1])
        out[term] = (p.indices[a:b].tolist(), p.data[a:b].tolist(), p.tf[a:b].tolist())
    return out


@pytest.mark.parametrize("counts_kept", [True, False])
def test_an_update_makes_the_keyword_index_a_fresh_build_makes(
    corpus: Path,
    tmp_path: Path,
    hash_settings: Settings,
    counts_kept: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files removed, copied, changed and added: the update tokenizes only new chunks (or,
    from an index without term counts, all of them) and gets a fresh build's postings."""
    index = tmp_path / "index"
    _age(corpus)
    build_index(corpus, index, settings=hash_settings)
    if not counts_kept:  # as an index written before term counts were kept
        monkeypatch.setattr(qa.indexing.build, "keyword_updatable", lambda folder: False)
    files = sorted(corpus.iterdir())
    files[0].unlink()
    shutil.copy(files[1], corpus / "zz_copy.txt")  # one file's chunks reused twice
    files[2].write_text(files[2].read_text() + "\nA tandem for two riders.\n")
    (corpus / "aa_new.txt").write_text("Riders of stage nine climbed in the rain.\n")
    _age(corpus)
    again = build_index(corpus, index, settings=hash_settings)
    assert again.reused > 0 and again.embedded > 0 and again.removed == 1
    build_index(corpus, tmp_path / "fresh", settings=hash_settings)
    assert _keyword_postings(index) == _keyword_postings(tmp_path / "fresh")


def test_the_model_starts_loading_only_when_much_is_new(
    corpus: Path,
    tmp_path: Path,
    hash_settings: Settings,
    reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full build starts loading the model before any file is read, and meeting its batch
    shapes; an update only when more new text than a small job's is read, and meets no
    shapes ahead (it embeds few); a touched file or an unchanged corpus never."""
    events: list[str] = []

    def preload(model: str, device: str | None, warm: bool = False, **_: object) -> None:
        events.append("preload, warm" if warm else "preload")

    monkeypatch.setattr(qa.indexing.build, "preload", preload)
    real_load = qa.ingest.documents.load_document
    monkeypatch.setattr(
        qa.ingest.documents, "load_document", lambda *a: events.append("read") or real_load(*a)
    )
    index = tmp_path / "index"
    _age(corpus)
    build_index(corpus, index, settings=hash_settings)
    assert events[0] == "preload, warm" and events.count("preload, warm") == 1
    assert "read" in events and "preload" not in events
    events.clear()
    _age(corpus, 1800)  # every file touched, its bytes the same: nothing to embed
    build_index(corpus, index, settings=hash_settings)
    assert events == ["read"] * 5
    events.clear()
    assert not build_index(corpus, index, settings=hash_settings).wrote and events == []
    changed = corpus / "004_230749e99c2d62ef.txt"
    changed.write_text(changed.read_text() + "\nCavendish also plans to ride a tandem.\n")
    build_index(corpus, index, settings=hash_settings)
    assert events == ["read"]  # a small update: maybe no model at all (numpy encodes it)
    events.clear()
    sentence = "Riders of stage {} climbed in the rain for hours. "
    long = "".join(sentence.format(i) for i in range(qa.indexing.build.SMALL_JOB_CHARS // 40))
    (corpus / "long.txt").write_text(f"A long new article\n\n{long}\n")
    assert len(long) * qa.indexing.build.EMBEDDED_PER_CHAR > qa.indexing.build.SMALL_JOB_CHARS
    build_index(corpus, index, settings=hash_settings)
    assert events[-1] == "preload" and events.count("preload") == 1  # once the files are read
    assert "preload, warm" not in events


def test_a_full_build_holds_a_few_documents_at_a_time(
    tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full build lays each document out on disk as it is read and lets it go: the
    documents alive at once do not grow with the corpus."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(60):
        body = f"Cavendish won stage {i} in the rain. The team celebrated the win for hours."
        (corpus / f"{i:03d}.txt").write_text(f"Stage {i}\n\n{body}\n", encoding="utf-8")
    alive: set[int] = set()
    most = 0
    real_load = qa.ingest.documents.load_document

    def load(*args: Any) -> Any:
        nonlocal most
        doc, warning = real_load(*args)
        alive.add(id(doc))
        weakref.finalize(doc, alive.discard, id(doc))
        most = max(most, len(alive))
        return doc, warning

    monkeypatch.setattr(qa.ingest.documents, "load_document", load)
    report = build_index(corpus, tmp_path / "index", settings=hash_settings)
    assert report.files == 60 and report.chunks == 60
    assert 1 <= most <= 3


def test_a_kept_web_page_keeps_its_stored_text(
    tmp_path: Path, hash_settings: Settings, reads: list[str]
) -> None:
    """A web page not read again still has its extracted text in the new generation."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    page = next(DATA.rglob("*.html"))
    shutil.copy(page, corpus / "page.html")
    (corpus / "notes.txt").write_text("Tandem bikes carry two riders.\n", encoding="utf-8")
    _age(corpus)
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    before = document_text("page.html", index_dir=index)
    (corpus / "notes.txt").write_text("Tandem bikes carry two riders, or three.\n")
    reads.clear()
    report = build_index(corpus, index, settings=hash_settings)
    assert reads == ["notes.txt"] and report.wrote
    assert document_text("page.html", index_dir=index) == before


def test_a_new_skipped_file_or_a_moved_corpus_is_written(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    _age(corpus)
    build_index(corpus, index, settings=hash_settings)
    (corpus / "empty.txt").write_text("")
    report = build_index(corpus, index, settings=hash_settings)
    assert report.wrote and report.skipped == ("empty.txt: empty file",)
    assert load_index(index).manifest.skipped == {"empty.txt": "empty file"}
    moved = tmp_path / "moved"
    corpus.rename(moved)
    report = build_index(moved, index, settings=hash_settings)
    assert report.wrote and load_index(index).manifest.corpus_dir == str(moved.resolve())


def test_a_lowered_size_limit_applies_to_unchanged_files(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    _age(corpus)
    build_index(corpus, index, settings=hash_settings)
    big = max(corpus.iterdir(), key=lambda p: p.stat().st_size)
    smaller = hash_settings.with_(max_file_bytes=big.stat().st_size - 1)
    report = build_index(corpus, index, settings=smaller)
    assert report.wrote and report.files == 4
    assert any(s.startswith(f"{big.name}: too large") for s in report.skipped)


@pytest.mark.slow
def test_chunks_the_model_reads_cut_are_counted_and_reported(tmp_path: Path) -> None:
    """Chunks longer than the model's window (chunks of 400 cl100k tokens here): the build
    counts those the model read cut short, as the model's tokenizer counts them."""
    from qa.encode.embedding import get_embedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "The sprinter won stage {} of the Giro after a long breakaway in the rain. "
    long = "".join(sentence.format(i) for i in range(60))  # about 1,000 wordpieces
    (corpus / "long.txt").write_text(f"Long\n\n{long}\n", encoding="utf-8")
    (corpus / "short.txt").write_text("Short\n\nA short article.\n", encoding="utf-8")
    settings = Settings(chunk_tokens=400, chunk_overlap=0)
    report = build_index(corpus, tmp_path / "index", settings=settings)
    index = load_index(tmp_path / "index")
    embedder = get_embedder(settings.model)
    texts = [qa.indexing.build.indexed_text(c, settings) for c in index.chunks]
    want = sum(n > embedder.max_tokens for n in embedder.token_counts(texts))
    assert want >= 2 and report.truncated_chunks == want
    assert any(f"{want} chunk(s) exceed the model's" in w for w in report.warnings)


@given(st.integers(0, 12), st.integers(0, 12), st.randoms(use_true_random=False))
def test_embedded_rows_go_straight_into_the_chunk_and_sentence_arrays(
    chunks: int, sentences: int, random: Any
) -> None:
    """What _Split is given row by row (text i of the texts to embed, chunks first) lands in
    the row of the chunk or sentence vectors it stands for, read back the same."""
    chunk_rows = np.array(random.sample(range(20), chunks), dtype=np.int64)
    sentence_rows = np.array(random.sample(range(30), sentences), dtype=np.int64)
    vectors, sentence_vectors = np.zeros((20, 3), np.float32), np.zeros((30, 3), np.float32)
    into = qa.indexing.build._Split((vectors, chunk_rows), (sentence_vectors, sentence_rows))
    texts = chunks + sentences
    want = np.arange(texts * 3, dtype=np.float32).reshape(texts, 3) + 1
    order = np.array(random.sample(range(texts), texts), dtype=np.int64)
    into[order[: texts // 2]] = want[order[: texts // 2]]
    for row in order[texts // 2 :].tolist():  # one row and one vector, as a checkpoint gives
        into[[row]] = want[row]
    np.testing.assert_array_equal(vectors[chunk_rows], want[:chunks])
    np.testing.assert_array_equal(sentence_vectors[sentence_rows], want[chunks:])
    assert vectors.any(axis=1).sum() == chunks and sentence_vectors.any(axis=1).sum() == sentences
    np.testing.assert_array_equal(into[order], want[order])


def test_build_uses_workers_it_is_given_and_leaves_them_running(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    from qa.ingest.pool import Workers

    index = tmp_path / "index"
    with Workers(2, min_items=1) as workers:
        first = build_index(corpus, index, settings=hash_settings, workers=workers)
        pool = workers._pool
        assert pool is not None  # the files were read in its processes
        (corpus / "000_2f40f508961ca104.txt").write_text("Cavendish won in Saint-Vulbas.\n")
        again = build_index(corpus, index, settings=hash_settings, workers=workers)
        assert workers._pool is pool  # the same processes, still running, for both builds
    assert (first.files, again.changed_files) == (5, 1)


def test_an_index_inside_its_corpus_is_not_read_as_articles(
    corpus: Path, hash_settings: Settings
) -> None:
    """Its stored texts are .txt files: read as articles, every build would change the
    corpus it indexes."""
    (corpus / "page.html").write_text(
        "<html><body><article><h1>Bridge</h1><p>The harbour bridge reopens on Monday after "
        "two years of repairs, the council said.</p></article></body></html>"
    )
    index = corpus / "index"
    first = build_index(corpus, index, settings=hash_settings)
    assert first.files == 6 and list(index.glob("gen-*/texts/*.txt"))  # the page's text
    assert any("index: the index folder" in w for w in first.warnings)
    again = build_index(corpus, index, settings=hash_settings)
    assert not again.wrote and again.files == 6
    sources = [record.source for record in load_index(index).documents]
    assert len(sources) == 6 and not any(s.startswith("index/") for s in sources)
