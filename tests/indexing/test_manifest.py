"""The manifest record (qa.indexing.manifest): JSON round trip and clear errors."""

from __future__ import annotations

import json

import pytest

from qa.config import SCHEMA_VERSION
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.indexing.manifest import (
    Artifact,
    Boilerplate,
    DenseInfo,
    DocumentRecord,
    Manifest,
    ModelInfo,
    document_from_json,
    document_prefix,
    document_to_json,
)
from qa.types import Section


def _documents() -> list[DocumentRecord]:
    pdf = DocumentRecord(
        source="reports/water.pdf",
        sha256="ab" * 32,
        bytes=1234,
        mtime_ns=1_700_000_000_123_456_789,
        title="Annual report",
        date="2024-02-01",
        first_chunk=0,
        chunks=3,
        first_sentence=0,
        sentences=11,
        boilerplate=Boilerplate(False, 0, 900),
        format="pdf",
        author="Ida Berg",
        pages=(0, 512),
        sections=(Section(0, "Summary"), Section(600, "Water")),
        text=f"{'ab' * 32}.txt",
        text_sha256="cd" * 32,
    )
    page = DocumentRecord(
        source="news/“page”.html",
        sha256="ef" * 32,
        bytes=99,
        mtime_ns=1,
        title="Ørsted’s “news”",
        date=None,
        first_chunk=3,
        chunks=1,
        first_sentence=11,
        sentences=2,
        boilerplate=Boilerplate(True, 40, 120, ((0, 10), (50, 80))),
        site="Coastal Gazette",
    )
    return [pdf, page]


def _manifest() -> Manifest:
    return Manifest(
        created_at="2026-11-25T16:00:00+00:00",
        corpus_dir="/data/corpus",
        model=ModelInfo("hash-384", 384, True, 10**9),
        chunker={"max_tokens": 200, "clean": "auto", "extensions": [".txt", ".pdf"]},
        keyword={"engine": "bm25s", "stemmer": "english", "stopwords": "en"},
        files=2,
        skipped={"scan.pdf": "no text layer"},
        generation="gen-20261125T160000-0123abcd",
        artifacts={"vectors.npy": Artifact(1664, "00" * 32, 1_700_000_000_000_000_000)},
        dense=DenseInfo("hnsw", 4, params={"m": 32, "ef_search": 256}),
    )


def test_manifest_round_trips_through_json() -> None:
    manifest = _manifest()
    assert Manifest.from_json(manifest.to_json(), "index") == manifest
    assert "documents" not in json.loads(manifest.to_json())  # kept apart, one line each


def test_documents_round_trip_one_line_each_and_are_found_by_their_start() -> None:
    lines = [document_to_json(record) for record in _documents()]
    assert all("\n" not in line for line in lines)
    assert [document_from_json(line) for line in lines] == _documents()
    assert [document_from_json(line.encode()) for line in lines] == _documents()
    blob = ("\n".join(lines) + "\n").encode()
    assert blob.startswith(document_prefix("reports/water.pdf"))
    assert blob.count(b"\n" + document_prefix("news/“page”.html")) == 1
    assert document_prefix("reports/water") not in blob  # a name's prefix is not the name
    with pytest.raises(ValueError, match="not a document record"):
        document_from_json('{"source": "a.txt"}')


def test_other_schema_is_a_mismatch_and_garbage_is_corrupt() -> None:
    data = json.loads(_manifest().to_json())
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(IndexMismatchError, match=r"schema version .*`qa build --full`"):
        Manifest.from_json(json.dumps(data), "idx")
    with pytest.raises(IndexCorruptError, match=r"index idx is damaged: manifest\.json"):
        Manifest.from_json("{not json", "idx")
    del data["model"]
    data["schema_version"] = SCHEMA_VERSION
    with pytest.raises(IndexCorruptError, match="model"):
        Manifest.from_json(json.dumps(data), "idx")
