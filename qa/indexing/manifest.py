"""The manifest of an index generation as one typed, frozen record (``Manifest``), and the
record of each indexed document (``DocumentRecord``), with their JSON.

This is the only module that names their keys: everything else reads and writes the records.
The manifest is small, whatever the corpus: the documents are kept apart, one JSON line each
(``document_to_json``), so that loading an index never parses them all.
``Manifest.from_json`` raises ``IndexCorruptError`` for a manifest that cannot be read and
``IndexMismatchError`` for one of another schema version, both naming the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..config import SCHEMA_VERSION
from ..errors import IndexCorruptError, IndexMismatchError
from ..types import Paged, Section

FILE = "manifest.json"
_REBUILD = "rebuild with `qa build --full`"


@dataclass(frozen=True)
class ModelInfo:
    """The embedding model an index was built with."""

    id: str
    dimension: int
    normalized: bool = True
    max_tokens: int = 0


@dataclass(frozen=True)
class Boilerplate:
    """What the cleaner removed from one file."""

    web_page: bool
    removed_chars: int
    total_chars: int
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class DocumentRecord(Paged):
    """One indexed file: where its rows are, what its reader found, and how to spot a change."""

    source: str  # path relative to the corpus folder
    sha256: str  # of the file's bytes
    bytes: int
    mtime_ns: int
    title: str
    date: str | None
    first_chunk: int  # rows [first_chunk, first_chunk + chunks) of the chunk table
    chunks: int
    first_sentence: int  # rows [first_sentence, first_sentence + sentences) of the sentences
    sentences: int
    boilerplate: Boilerplate
    format: str = "txt"
    author: str | None = None
    site: str | None = None
    pages: tuple[int, ...] = ()
    sections: tuple[Section, ...] = ()
    text: str | None = None  # name of the stored extracted text under texts/ (None: plain)
    text_sha256: str = ""  # of the document's text, as read
    # When bytes and mtime_ns were read (ns since the epoch; 0: unknown). A file whose time
    # is that close to it may have changed since without its size or time moving
    # (timestamps are coarse), so a rebuild reads it again (qa.indexing.build.unchanged_file).
    seen_ns: int = 0


@dataclass(frozen=True)
class Artifact:
    """A file of the generation: its size and modification time when written, and its hash."""

    bytes: int
    sha256: str
    mtime_ns: int


@dataclass(frozen=True)
class DenseInfo:
    """The vector index: its kind (qa.indexing.dense.KINDS), size, metric and build settings."""

    kind: str
    count: int
    metric: str = "inner_product"
    params: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """What a generation holds, and what it was built from and with."""

    created_at: str
    corpus_dir: str
    model: ModelInfo
    chunker: Mapping[str, Any]  # Settings.chunker(): the fingerprint a rebuild compares
    keyword: Mapping[str, str]  # qa.indexing.keyword.DESCRIPTION
    files: int  # documents indexed
    skipped: Mapping[str, str] = field(default_factory=dict)  # source -> reason
    generation: str = ""
    artifacts: Mapping[str, Artifact] = field(default_factory=dict)
    dense: DenseInfo | None = None
    schema_version: int = SCHEMA_VERSION

    def with_files(self, generation: str, artifacts: Mapping[str, Artifact]) -> Manifest:
        return replace(self, generation=generation, artifacts=dict(artifacts))

    def to_json(self) -> str:
        return json.dumps(_manifest_dict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        """The manifest in ``text``; ``where`` names the index in error messages."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise IndexCorruptError(
                f"index {where} is damaged: {FILE} is unreadable ({exc}); {_REBUILD}"
            ) from exc
        found = data.get("schema_version") if isinstance(data, dict) else None
        if found != SCHEMA_VERSION:
            raise IndexMismatchError(
                f"index {where} has schema version {found!r}, this program reads "
                f"{SCHEMA_VERSION}; {_REBUILD}"
            )
        try:
            return _manifest(data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(
                f"index {where} is damaged: {FILE} lacks or mangles {exc}; {_REBUILD}"
            ) from exc


def _document_dict(d: DocumentRecord) -> dict[str, Any]:
    b = d.boilerplate
    data: dict[str, Any] = {
        "source": d.source,  # first: document_prefix finds a line by it
        "sha256": d.sha256,
        "bytes": d.bytes,
        "mtime_ns": d.mtime_ns,
        "title": d.title,
        "date": d.date,
        "first_chunk": d.first_chunk,
        "chunks": d.chunks,
        "first_sentence": d.first_sentence,
        "sentences": d.sentences,
        "boilerplate": {
            "web_page": b.web_page,
            "removed_chars": b.removed_chars,
            "total_chars": b.total_chars,
            "spans": [list(s) for s in b.spans],
        },
        "format": d.format,
        "author": d.author,
        "site": d.site,
        "pages": list(d.pages),
        "sections": [[s.start, s.title] for s in d.sections],
        "text": d.text,
        "text_sha256": d.text_sha256,
        "seen_ns": d.seen_ns,
    }
    return data


def _document(data: Mapping[str, Any]) -> DocumentRecord:
    b = data["boilerplate"]
    spans = tuple((int(x), int(y)) for x, y in b["spans"])
    boilerplate = Boilerplate(
        bool(b["web_page"]), int(b["removed_chars"]), int(b["total_chars"]), spans
    )
    return DocumentRecord(
        source=str(data["source"]),
        sha256=str(data["sha256"]),
        bytes=int(data["bytes"]),
        mtime_ns=int(data["mtime_ns"]),
        title=str(data["title"]),
        date=data.get("date"),
        first_chunk=int(data["first_chunk"]),
        chunks=int(data["chunks"]),
        first_sentence=int(data["first_sentence"]),
        sentences=int(data["sentences"]),
        boilerplate=boilerplate,
        format=str(data.get("format", "txt")),
        author=data.get("author"),
        site=data.get("site"),
        pages=tuple(int(p) for p in data.get("pages") or ()),
        sections=tuple(Section(int(a), str(t)) for a, t in data.get("sections") or ()),
        text=data.get("text"),
        text_sha256=str(data.get("text_sha256", "")),
        seen_ns=int(data.get("seen_ns", 0)),
    )


def _manifest_dict(m: Manifest) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": m.schema_version,
        "created_at": m.created_at,
        "corpus_dir": m.corpus_dir,
        "model": {
            "id": m.model.id,
            "dimension": m.model.dimension,
            "normalized": m.model.normalized,
            "max_tokens": m.model.max_tokens,
        },
        "chunker": dict(m.chunker),
        "keyword": dict(m.keyword),
        "files": m.files,
        "skipped": dict(m.skipped),
        "generation": m.generation,
        "artifacts": {
            name: {"bytes": a.bytes, "sha256": a.sha256, "mtime_ns": a.mtime_ns}
            for name, a in m.artifacts.items()
        },
    }
    if m.dense is not None:
        data["index"] = {
            "kind": m.dense.kind,
            "count": m.dense.count,
            "metric": m.dense.metric,
            "params": dict(m.dense.params),
        }
    return data


def _dense(data: Mapping[str, Any] | None) -> DenseInfo | None:
    if data is None:
        return None
    return DenseInfo(
        str(data["kind"]),
        int(data["count"]),
        str(data["metric"]),
        {str(k): int(v) for k, v in (data.get("params") or {}).items()},
    )


def _manifest(data: Mapping[str, Any]) -> Manifest:
    model = data["model"]
    return Manifest(
        schema_version=int(data["schema_version"]),
        created_at=str(data.get("created_at", "")),
        corpus_dir=str(data.get("corpus_dir", "")),
        model=ModelInfo(
            str(model["id"]),
            int(model["dimension"]),
            bool(model.get("normalized", True)),
            int(model.get("max_tokens", 0)),
        ),
        chunker=dict(data.get("chunker") or {}),
        keyword=dict(data.get("keyword") or {}),
        files=int(data["files"]),
        skipped=dict(data.get("skipped") or {}),
        generation=str(data.get("generation", "")),
        artifacts={
            str(name): Artifact(int(a["bytes"]), str(a["sha256"]), int(a["mtime_ns"]))
            for name, a in (data.get("artifacts") or {}).items()
        },
        dense=_dense(data.get("index")),
    )


def document_to_json(record: DocumentRecord) -> str:
    """One document as one line of JSON (no newline in it), its source first."""
    return json.dumps(_document_dict(record), ensure_ascii=False)


def document_from_json(line: str | bytes) -> DocumentRecord:
    """The document of one line written by document_to_json; raises ValueError when it is not
    one."""
    try:
        return _document(json.loads(line))
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"not a document record ({exc})") from exc


def document_prefix(source: str) -> bytes:
    """How the line of the document ``source`` starts: lines can be found without parsing."""
    return (
        "{" + json.dumps("source") + ": " + json.dumps(source, ensure_ascii=False) + ","
    ).encode()
