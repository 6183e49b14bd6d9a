"""Build, incremental rebuild, search and ask through the public API (hashing embedder)."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import numpy as np
import pytest

import qa.indexing.dense
from qa import Settings, ask, build_index, index_info, removed_text, search
from qa.config import WARN_REMOVED_SHARE
from qa.errors import (
    BuildInProgressError,
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidArgumentError,
    QuestionError,
)
from qa.indexing.store import build_lock, current_generation

ORDINARY = Path(__file__).resolve().parent / "ordinary"

BOILERPLATE = (
    "Newsletter",
    "unlimited access",
    "has been writing for",
    "Image credit",
    "Published",
    "Also read",
    "verification email",
)


def _gen_dir(index: Path) -> Path:
    gen = current_generation(index)
    assert gen is not None
    return index / gen


def _documents(index: Path) -> dict[str, dict[str, object]]:
    """The live generation's document records, by source, as written (documents.jsonl)."""
    lines = (_gen_dir(index) / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    return {str(d["source"]): d for d in map(json.loads, lines)}


def test_build_reports_counts_and_writes_manifest(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    report = build_index(corpus, index, settings=hash_settings)
    assert (report.files, report.reused, report.removed) == (5, 0, 0)
    assert report.chunks == report.embedded > 5
    assert report.full and report.reason == "no previous index"
    manifest = json.loads((_gen_dir(index) / "manifest.json").read_text())
    assert manifest["schema_version"] == 4
    assert manifest["model"] == {
        "id": "hash-384",
        "dimension": 384,
        "normalized": True,
        "max_tokens": 10**9,
    }
    assert manifest["chunker"]["max_tokens"] == hash_settings.chunk_tokens
    assert manifest["files"] == 5
    assert manifest["index"] == {
        "kind": "exact",
        "count": report.chunks,
        "metric": "inner_product",
        "params": {},
    }
    documents = _documents(index)
    assert set(documents) == {p.name for p in corpus.iterdir()}
    assert documents["001_1bde5f3f857fbb0b.txt"]["date"] == "2023-10-05"
    assert sum(int(d["chunks"]) for d in documents.values()) == report.chunks  # type: ignore[call-overload]
    assert set(manifest["artifacts"]) >= {
        "documents.jsonl",
        "documents.npy",
        "chunks.npy",
        "chunks.txt",
        "vectors.npy",
        "dense.faiss",
    }
    assert all(a["mtime_ns"] > 0 for a in manifest["artifacts"].values())


def test_incremental_rebuild_embeds_only_what_changed(
    corpus: Path, tmp_path: Path, store_settings: Settings
) -> None:
    index = tmp_path / "index"
    first = build_index(corpus, index, settings=store_settings)

    again = build_index(corpus, index, settings=store_settings)
    assert (again.embedded, again.reused, again.removed) == (0, first.chunks, 0)
    assert not again.full

    changed = corpus / "004_230749e99c2d62ef.txt"
    changed.write_text(changed.read_text() + "\nCavendish also plans to ride a tandem.\n")
    (corpus / "003_23efa5f91a399b49.txt").unlink()
    (corpus / "sub").mkdir()
    (corpus / "sub" / "new.md").write_text("# Tandem news\n\nA tandem is a bike for two riders.\n")
    manifest = _documents(index)

    third = build_index(corpus, index, settings=store_settings)
    assert (third.files, third.removed, third.new_files, third.changed_files) == (5, 1, 1, 1)
    assert third.removed_chunks == manifest["003_23efa5f91a399b49.txt"]["chunks"]
    unchanged = ("000_2f40f508961ca104.txt", "001_1bde5f3f857fbb0b.txt", "002_8a0ba677f74b176c.txt")
    assert third.reused == sum(manifest[s]["chunks"] for s in unchanged)
    assert third.embedded == third.chunks - third.reused
    hits = search("tandem bike for two riders", k=3, index_dir=index, settings=store_settings)
    assert hits[0].source == "sub/new.md"
    assert all(
        h.source != "003_23efa5f91a399b49.txt"
        for h in search("Ekstra Bladet", k=10, index_dir=index, settings=store_settings)
    )


def test_renamed_file_reuses_vectors(
    corpus: Path, tmp_path: Path, store_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=store_settings)
    (corpus / "000_2f40f508961ca104.txt").rename(corpus / "renamed.txt")
    report = build_index(corpus, index, settings=store_settings)
    assert report.embedded == 0 and report.removed == 1
    hits = search("Vasilis Anastopoulos coach", k=10, index_dir=index, settings=store_settings)
    assert "renamed.txt" in {h.source for h in hits}


def test_full_and_setting_changes_rebuild_everything(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    first = build_index(corpus, index, settings=hash_settings)
    full = build_index(corpus, index, full=True, settings=hash_settings)
    assert full.embedded == first.chunks and full.reused == 0 and full.full
    smaller = build_index(corpus, index, settings=hash_settings.with_(chunk_tokens=100))
    assert smaller.full and "chunker" in smaller.reason
    assert smaller.embedded == smaller.chunks > first.chunks


def test_build_reports_boilerplate_removed_per_file(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    report = build_index(corpus, index, settings=hash_settings)
    stats = {c.source[:3]: c for c in report.cleaning}
    assert sorted(stats) == ["000", "001", "002", "003", "004"]
    assert [stats[k].web_page for k in sorted(stats)] == [True, True, True, True, False]
    assert stats["004"].removed_chars == 0
    assert all(0 < stats[k].removed_chars < stats[k].total_chars for k in ("000", "001", "002"))
    # The teaser lists, newsletter and paywall boxes make up 42% of 000, the only file over 30%.
    assert stats["000"].share > WARN_REMOVED_SHARE
    assert all(stats[k].share < WARN_REMOVED_SHARE for k in ("001", "002", "003", "004"))
    lost = [w for w in report.warnings if "removed as boilerplate" in w]
    assert len(lost) == 1 and lost[0].startswith("000_2f40f508961ca104.txt: 42% of its text")
    manifest = json.loads((_gen_dir(index) / "manifest.json").read_text())
    meta = _documents(index)["000_2f40f508961ca104.txt"]["boilerplate"]
    assert meta["removed_chars"] == stats["000"].removed_chars and meta["web_page"]  # type: ignore[index]
    assert manifest["chunker"]["clean"] == "auto"
    again = build_index(corpus, index, settings=hash_settings)  # reused files report the same
    assert again.embedded == 0 and again.cleaning == report.cleaning


def test_ordinary_notes_lose_nothing(tmp_path: Path, hash_settings: Settings) -> None:
    report = build_index(ORDINARY, tmp_path / "index", settings=hash_settings)
    assert report.files == len(report.cleaning) >= 5
    assert all(c.removed_chars == 0 and not c.web_page for c in report.cleaning)
    assert not [w for w in report.warnings if "boilerplate" in w]
    index = tmp_path / "index"
    hits = search("weekly newsletter Friday", k=1, index_dir=index, settings=hash_settings)
    assert "Our weekly newsletter goes out every Friday" in hits[0].text


def test_changing_the_clean_setting_rebuilds_everything(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    auto = build_index(corpus, index, settings=hash_settings)
    keep_all = build_index(corpus, index, settings=hash_settings.with_(clean="none"))
    assert keep_all.full and keep_all.reason == "cleaning changed (auto -> none)"
    assert keep_all.embedded == keep_all.chunks > auto.chunks and keep_all.reused == 0
    assert all(c.removed_chars == 0 for c in keep_all.cleaning)
    assert index_info(index)["clean"] == "none"
    hits = search("Get The Leadout Newsletter", k=20, index_dir=index, settings=hash_settings)
    assert any("Leadout Newsletter" in h.text for h in hits)
    same = build_index(corpus, index, settings=hash_settings.with_(clean="none"))
    assert not same.full and same.embedded == 0
    web = build_index(corpus, index, settings=hash_settings.with_(clean="web"))
    assert web.full and web.reason == "cleaning changed (none -> web)"
    assert all(c.web_page for c in web.cleaning)


def test_removed_text_quotes_the_removed_spans(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    report = build_index(corpus, index, settings=hash_settings)
    name = "000_2f40f508961ca104.txt"
    removed = removed_text(name, index)
    text = (corpus / name).read_text(encoding="utf-8")
    assert removed.source == name and removed.clean == "auto" and removed.web_page
    assert all(text[s.start : s.end] == s.text for s in removed.spans)
    assert removed.spans[0].text.startswith("Get The Leadout Newsletter")
    assert any(s.text.endswith("By Tom Davidson Published") for s in removed.spans)
    visible = sum(len("".join(s.text.split())) for s in removed.spans)
    stats = next(c for c in report.cleaning if c.source == name)
    assert visible == removed.removed_chars == stats.removed_chars
    # By path, from the current directory or relative to the corpus folder.
    assert removed_text(corpus / name, index) == removed
    monkeypatch.chdir(corpus.parent)
    assert removed_text(f"corpus/{name}", index) == removed
    assert removed_text("004_230749e99c2d62ef.txt", index).spans == ()
    with pytest.raises(InvalidArgumentError, match="not in the index"):
        removed_text("nope.txt", index)
    (corpus / name).write_text(text + "\nA new line.\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="changed since the index was built"):
        removed_text(name, index)


def test_hits_point_at_the_original_text(
    corpus: Path, tmp_path: Path, store_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=store_settings)
    hits = search("Mørkøv leadout Astana", k=8, index_dir=index, settings=store_settings)
    assert len(hits) == 8
    assert [h.rank for h in hits] == list(range(1, 9))
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    for h in hits:
        text = (corpus / h.source).read_text(encoding="utf-8")
        assert text[h.start : h.end] == h.text
        assert h.title and h.text.strip()


def test_no_boilerplate_is_ever_returned(
    corpus: Path, tmp_path: Path, store_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=store_settings)
    for q in (
        "newsletter sign up email inbox",
        "join now for unlimited access first month",
        "Tom has been writing for Cycling Weekly",
        "Remco Evenepoel postal vehicle collision",
    ):
        for h in search(q, k=20, index_dir=index, settings=store_settings):
            for phrase in BOILERPLATE:
                assert phrase not in h.text, (q, h.source, phrase)


def test_ask_quotes_a_sentence_of_a_passage(
    corpus: Path, tmp_path: Path, store_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=store_settings)
    answer = ask("fractured collarbone crash", k=3, index_dir=index, settings=store_settings)
    assert answer.citations and len(answer.passages) == 3
    first = answer.citations[0]
    assert first.text in answer.text
    source_text = (corpus / first.source).read_text(encoding="utf-8")
    assert source_text[first.start : first.end] == first.text
    passage = answer.passages[first.passage]
    assert passage.start <= first.start < first.end <= passage.end


@pytest.mark.parametrize(
    ("question", "k", "error"),
    [
        ("", 5, QuestionError),
        ("   \n\t ", 5, QuestionError),
        ("?!... ---", 5, QuestionError),
        ("x" * 100_000, 5, QuestionError),
        ("who coaches Cavendish?", 0, InvalidArgumentError),
        ("who coaches Cavendish?", -3, InvalidArgumentError),
        ("who coaches Cavendish?", 10_000, InvalidArgumentError),
    ],
)
def test_bad_questions_and_k_raise_clear_errors(
    corpus: Path, tmp_path: Path, hash_settings: Settings, question: str, k: int, error: type
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    with pytest.raises(error) as info:
        search(question, k=k, index_dir=index, settings=hash_settings)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


def test_missing_index(tmp_path: Path, hash_settings: Settings) -> None:
    with pytest.raises(IndexNotFoundError, match="qa build"):
        search("who?", index_dir=tmp_path / "nowhere", settings=hash_settings)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFoundError):
        ask("who?", index_dir=tmp_path / "empty", settings=hash_settings)


def test_empty_corpus_leaves_previous_index_alone(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    before = current_generation(index)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("   \n")
    with pytest.raises(CorpusError, match="no readable"):
        build_index(empty, index, settings=hash_settings)
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(tmp_path / "missing", index, settings=hash_settings)
    assert current_generation(index) == before
    assert search("Cavendish", index_dir=index, settings=hash_settings)


@pytest.mark.parametrize(
    "victim",
    [
        "vectors.npy",
        "dense.faiss",
        "chunks.npy",
        "chunks.txt",
        "documents.jsonl",
        "keyword/vocab.index.json",
    ],
)
def test_corrupted_or_truncated_files_are_detected(
    corpus: Path, tmp_path: Path, hash_settings: Settings, victim: str
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    path = _gen_dir(index) / victim
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match=f"{victim} has {len(data) // 2} bytes"):
        search("Cavendish", index_dir=index, settings=hash_settings)
    # A rebuild repairs it.
    report = build_index(corpus, index, settings=hash_settings)
    assert report.full and "unusable" in report.reason
    assert search("Cavendish", index_dir=index, settings=hash_settings)


def test_garbage_manifest_is_a_clear_error(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    (_gen_dir(index) / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match=r"manifest\.json"):
        search("Cavendish", index_dir=index, settings=hash_settings)


def test_index_built_with_another_model_is_a_clear_error(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    with pytest.raises(IndexMismatchError, match="hash-384"):
        search("Cavendish", index_dir=index, settings=Settings())


def test_other_schema_version_is_a_mismatch(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    path = _gen_dir(index) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="schema"):
        search("Cavendish", index_dir=index, settings=hash_settings)


def test_interrupted_build_keeps_previous_index_live(
    corpus: Path, tmp_path: Path, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=store_settings)
    before = current_generation(index)
    expected = search("Vinokourov femur", k=3, index_dir=index, settings=store_settings)
    (corpus / "extra.txt").write_text("A brand new article about tandem bikes.\n")

    def dies(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the build is killed half-way through writing

    monkeypatch.setattr(qa.indexing.dense.ExactIndex, "save", dies)
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, index, settings=store_settings)
    monkeypatch.undo()
    assert current_generation(index) == before
    assert not list(index.glob(".tmp-*"))
    assert search("Vinokourov femur", k=3, index_dir=index, settings=store_settings) == expected
    report = build_index(corpus, index, settings=store_settings)
    assert report.new_files == 1 and report.embedded < report.chunks


def test_concurrent_build_is_refused(corpus: Path, tmp_path: Path, hash_settings: Settings) -> None:
    index = tmp_path / "index"
    with build_lock(index), pytest.raises(BuildInProgressError):
        build_index(corpus, index, settings=hash_settings)


def test_many_threads_query_at_once(corpus: Path, tmp_path: Path, store_settings: Settings) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=store_settings)
    questions = ["Vinokourov femur Olympic", "Ekstra Bladet Mørkøv", "Project 35 Velo"] * 8
    expected = {q: search(q, k=3, index_dir=index, settings=store_settings) for q in questions}
    results: dict[int, object] = {}

    def worker(i: int, q: str) -> None:
        results[i] = search(q, k=3, index_dir=index, settings=store_settings)

    threads = [threading.Thread(target=worker, args=(i, q)) for i, q in enumerate(questions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[i] == expected[q] for i, q in enumerate(questions))


def test_rebuilt_index_is_picked_up_by_a_running_process(
    corpus: Path, tmp_path: Path, store_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=store_settings)
    assert search("zeppelin airship", k=1, index_dir=index, settings=store_settings)
    (corpus / "zeppelin.txt").write_text("The zeppelin airship flew over the peloton.\n")
    build_index(corpus, index, settings=store_settings)
    assert search("zeppelin airship", k=1, index_dir=index, settings=store_settings)[0].source == (
        "zeppelin.txt"
    )


def test_index_info_reports_staleness(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    info = index_info(index)
    assert (info["files"], info["model"], info["stale"]) == (5, "hash-384", False)
    (corpus / "000_2f40f508961ca104.txt").write_text("changed\n")
    (corpus / "004_230749e99c2d62ef.txt").unlink()
    info = index_info(index)
    assert info["stale"]
    assert info["changed_files"] == ["000_2f40f508961ca104.txt"]
    assert info["missing_files"] == ["004_230749e99c2d62ef.txt"]


def test_vectors_are_normalised(corpus: Path, tmp_path: Path, hash_settings: Settings) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    vectors = np.load(_gen_dir(index) / "vectors.npy")
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_syndicated_copies_collapse_into_one_passage(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    original = corpus / "003_23efa5f91a399b49.txt"
    (corpus / "syndicated.txt").write_text(original.read_text(encoding="utf-8"), "utf-8")
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    hits = search(
        "Vinokourov broke his femur in 2011", k=5, index_dir=index, settings=hash_settings
    )
    top = hits[0]
    assert {top.source, *top.also_in} == {"003_23efa5f91a399b49.txt", "syndicated.txt"}
    texts = [" ".join(h.text.split()) for h in hits]
    assert len(set(texts)) == len(texts)  # no passage shown twice


def test_sentence_table_matches_chunks_and_survives_reuse(
    corpus: Path, tmp_path: Path, hash_settings: Settings
) -> None:
    from qa.indexing.index import load_index

    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    fresh = load_index(index)
    for row, chunk in enumerate(fresh.chunks):
        spans, texts, vecs = fresh.sentences(row)
        assert spans and len(texts) == len(vecs) == len(spans)
        assert spans[0].start == chunk.start and spans[-1].end == chunk.end
        source = (corpus / chunk.source).read_text(encoding="utf-8")
        assert [source[s.start : s.end] for s in spans] == texts
    (corpus / "001_1bde5f3f857fbb0b.txt").unlink()  # shifts every later document's rows
    report = build_index(corpus, index, settings=hash_settings)
    assert report.embedded == 0 and report.embedded_sentences == 0
    reused = load_index(index)
    for row, chunk in enumerate(reused.chunks):
        _, texts, vecs = reused.sentences(row)
        again = np.stack([np.asarray(v) for v in vecs])
        from qa.encode.embedding import HashEmbedder

        assert np.allclose(again, HashEmbedder().encode(texts), atol=1e-6), chunk.source


def test_chunks_are_indexed_with_their_article_title(
    tmp_path: Path, hash_settings: Settings
) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    body = " ".join(f"Sentence number {i} talks about nothing in particular." for i in range(80))
    (corpus / "a.md").write_text(f"# Zeppelin airships\n\n{body}\n")
    (corpus / "b.md").write_text(f"# Garden snails\n\n{body.replace('nothing', 'little')}\n")
    index = tmp_path / "index"
    titled = hash_settings.with_(chunk_tokens=64, chunk_overlap=8, title_prefix=True)
    report = build_index(corpus, index, settings=titled)
    assert report.chunks > 4
    # The later chunks of a.md never mention zeppelins, but its title does.
    hits = search("zeppelin airships", k=3, index_dir=index, settings=titled)
    assert all(h.source == "a.md" for h in hits)
    assert any("Zeppelin" not in h.text for h in hits)
    plain = titled.with_(title_prefix=False)
    assert build_index(corpus, index, settings=plain).full  # a chunker setting: full rebuild


def test_unchanged_rebuild_never_loads_the_model(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.indexing.build

    index = tmp_path / "index"
    first = build_index(corpus, index, settings=hash_settings)

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(qa.indexing.build, "get_embedder", no_model)
    monkeypatch.setattr(qa.indexing.build, "get_build_embedder", no_model)
    again = build_index(corpus, index, settings=hash_settings)
    assert (again.embedded, again.reused) == (0, first.chunks)
    (corpus / "new.txt").write_text("A new article about tandems.\n")
    with pytest.raises(AssertionError, match="model was loaded"):
        build_index(corpus, index, settings=hash_settings)
