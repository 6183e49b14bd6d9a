"""Tests of qa.ingest.documents: decoding and corpus loading."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import CorpusError
from qa.ingest.documents import decode, discover, load_corpus
from qa.types import Span

# --- decode ----------------------------------------------------------------------------------


def test_decode_utf8() -> None:
    assert decode("Café – “quoted” ✓".encode()) == ("Café – “quoted” ✓", None)


def test_decode_keeps_utf8_bom() -> None:
    # As Path.read_text(encoding="utf-8") does, so offsets agree.
    assert decode("\ufeffhi".encode()) == ("\ufeffhi", None)


def test_decode_latin1_bytes() -> None:
    text, warning = decode("Un café crème.".encode("latin-1"))
    assert text == "Un café crème."
    assert warning is not None
    assert "not valid UTF-8" in warning
    assert "byte 6" in warning
    assert "Windows-1252" in warning


def test_decode_cp1252_smart_quotes() -> None:
    text, warning = decode(b"He said \x93hello\x94 \x96 twice.")
    assert text == "He said “hello” – twice."
    assert warning is not None and "byte 8" in warning


def test_decode_binary_with_nul_bytes() -> None:
    text, warning = decode(b"PK\x03\x04\x00\x00binary")
    assert text is None
    assert warning == "binary file (contains NUL bytes)"


def test_decode_binary_without_nul_but_not_text() -> None:
    text, warning = decode(bytes(range(1, 32)) * 10 + b"\xff")
    assert text is None
    assert warning == "binary file (not text)"


@pytest.mark.parametrize(
    "data,expected",
    [
        (b"a\r\nb\r\n", "a\nb\n"),
        (b"a\rb\rc", "a\nb\nc"),
        (b"a\r\n\r\nb", "a\n\nb"),
        (b"mixed\r\nold\rnew\n", "mixed\nold\nnew\n"),
    ],
)
def test_decode_normalises_newlines(data: bytes, expected: str) -> None:
    assert decode(data) == (expected, None)


def test_decode_normalises_newlines_in_cp1252_text() -> None:
    text, warning = decode(b"caf\xe9\r\nnext\r\n")
    assert text == "café\nnext\n"
    assert warning is not None


def test_decoded_text_matches_read_text(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("Title\r\nBody – text.\rMore\n".encode())
    text, _ = decode(path.read_bytes())
    assert text == path.read_text(encoding="utf-8")


# --- load_corpus -----------------------------------------------------------------------------

GOOD = "Good article title\n\nThe first paragraph of the article. It has two sentences.\n"
NESTED = "# Nested heading\n\nA markdown article in a nested folder.\n"
LATIN = "Café society\n\nThe café served crème brûlée.\n"


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "sub" / "dir").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "good.txt").write_text(GOOD, encoding="utf-8")
    (root / "sub" / "dir" / "a.md").write_text(NESTED, encoding="utf-8")
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.md").write_bytes(b"  \n\t\n")
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "latin.txt").write_bytes(LATIN.encode("cp1252"))
    (root / ".secret.txt").write_text("Secret article. Never index me.\n", encoding="utf-8")
    (root / ".hidden" / "inside.txt").write_text("Hidden folder article.\n", encoding="utf-8")
    (root / "paper.pdf").write_bytes(b"%PDF-1.4 An article that is a PDF.\n")
    (root / "notes.rst").write_text("Not an article extension.\n", encoding="utf-8")
    (root / "boiler.txt").write_text(
        "Get The Leadout Newsletter\nJoin now for unlimited access\n", encoding="utf-8"
    )
    return root


def test_load_corpus_documents(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir, Settings())
    assert corpus.root == corpus_dir.resolve()
    assert [d.source for d in corpus.documents] == ["good.txt", "latin.txt", "sub/dir/a.md"]
    good, latin, nested = corpus.documents

    assert good.text == GOOD
    assert good.title == "Good article title"
    assert good.date is None
    assert good.sha256 == hashlib.sha256(GOOD.encode()).hexdigest()
    assert good.segments[0].start == 0
    assert good.segments[-1].end == len(GOOD.rstrip())

    assert latin.text == LATIN
    assert latin.title == "Café society"
    assert latin.sha256 == hashlib.sha256(LATIN.encode("cp1252")).hexdigest()

    assert nested.title == "Nested heading"
    assert "A markdown article in a nested folder." in nested.content


def test_load_corpus_skipped_and_warnings(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir, Settings())
    skipped = {s.source: s.reason for s in corpus.skipped}
    assert skipped == {
        "binary.txt": "binary file (contains NUL bytes)",
        "blank.md": "empty file",
        "boiler.txt": "no article text left after removing boilerplate",
        "empty.txt": "empty file",
        "paper.pdf": "not a readable PDF (PdfStreamError: Stream has ended unexpectedly)",
    }
    assert [s.source for s in corpus.skipped] == sorted(skipped)
    assert [s.source for s in corpus.skipped if s.failed] == ["paper.pdf"]
    assert len(corpus.warnings) == 1
    assert corpus.warnings[0].startswith("latin.txt: not valid UTF-8 (byte 3)")
    assert str(corpus.skipped[0]) == "binary.txt: binary file (contains NUL bytes)"


def test_clean_setting_decides_what_is_removed(corpus_dir: Path) -> None:
    kept = load_corpus(corpus_dir, Settings(clean="none"))
    boiler = next(d for d in kept.documents if d.source == "boiler.txt")
    assert boiler.segments == (Span(0, len(boiler.text.rstrip())),)
    assert boiler.removed == () and not boiler.web_page
    assert "boiler.txt" not in {s.source for s in kept.skipped}
    web = load_corpus(corpus_dir, Settings(clean="web")).documents
    good = next(d for d in web if d.source == "good.txt")
    assert good.web_page and good.removed == ()  # web rules, but nothing in it to remove


def test_file_with_only_front_matter_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("Some text.\n", encoding="utf-8")
    (tmp_path / "meta.md").write_text("---\ntitle: Only metadata\n---\n", encoding="utf-8")
    skipped = load_corpus(tmp_path, Settings()).skipped
    assert [(s.source, s.reason) for s in skipped] == [
        ("meta.md", "no text besides its front matter or date line")
    ]


def test_hidden_and_other_extensions_are_ignored(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir, Settings())
    seen = {d.source for d in corpus.documents} | {s.source for s in corpus.skipped}
    for name in [".secret.txt", ".hidden/inside.txt", "notes.rst"]:
        assert name not in seen
    assert all("Secret" not in d.text for d in corpus.documents)


def test_discover_order_and_extensions(corpus_dir: Path) -> None:
    (corpus_dir / "UPPER.TXT").write_text("Upper case extension.\n", encoding="utf-8")
    found = [p.relative_to(corpus_dir).as_posix() for p in discover(corpus_dir, Settings())]
    assert found == [
        "UPPER.TXT",
        "binary.txt",
        "blank.md",
        "boiler.txt",
        "empty.txt",
        "good.txt",
        "latin.txt",
        "paper.pdf",
        "sub/dir/a.md",
    ]
    only_md = discover(corpus_dir, Settings(extensions=(".md",)))
    assert [p.name for p in only_md] == ["blank.md", "a.md"]


def test_crlf_file_offsets_index_normalised_text(tmp_path: Path) -> None:
    (tmp_path / "crlf.txt").write_bytes(b"Crlf title\r\n\r\nBody sentence one. Two.\r\n")
    doc = load_corpus(tmp_path, Settings()).documents[0]
    assert doc.text == "Crlf title\n\nBody sentence one. Two.\n"
    assert doc.text == (tmp_path / "crlf.txt").read_text(encoding="utf-8")
    assert [s.of(doc.text) for s in doc.segments] == ["Crlf title\n\nBody sentence one. Two."]


def test_front_matter_metadata_of_loaded_file(tmp_path: Path) -> None:
    text = "---\ntitle: Stage report\ndate: 2023-07-08\n---\nCavendish was second. Again.\n"
    (tmp_path / "report.md").write_text(text, encoding="utf-8")
    doc = load_corpus(tmp_path, Settings()).documents[0]
    assert (doc.title, doc.date) == ("Stage report", "2023-07-08")
    assert doc.content == "Cavendish was second. Again."


def test_too_large_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("Big article. " * 10, encoding="utf-8")
    (tmp_path / "small.txt").write_text("Small.", encoding="utf-8")
    corpus = load_corpus(tmp_path, Settings(max_file_bytes=50))
    assert [d.source for d in corpus.documents] == ["small.txt"]
    assert [(s.source, s.reason) for s in corpus.skipped] == [
        ("big.txt", "too large (130 bytes; limit 50)")
    ]


def test_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope", Settings())


def test_file_instead_of_folder_raises(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("An article.", encoding="utf-8")
    with pytest.raises(CorpusError, match="not a folder"):
        load_corpus(path, Settings())


def test_folder_with_only_empty_and_binary_files_raises(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bin.md").write_bytes(b"\x00\x01\x02")
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path, Settings())
    message = str(info.value)
    assert f"no readable {'/'.join(Settings().extensions)} articles" in message
    assert "2 skipped" in message
    assert "bin.md: binary file (contains NUL bytes)" in message
    assert "empty.txt: empty file" in message


def test_empty_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no readable"):
        load_corpus(tmp_path, Settings())


def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("Readable article.", encoding="utf-8")
    locked = tmp_path / "locked.txt"
    locked.write_text("Locked article.", encoding="utf-8")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running with privileges that read a mode-000 file anyway")
        corpus = load_corpus(tmp_path, Settings())
    finally:
        locked.chmod(0o644)
    assert [d.source for d in corpus.documents] == ["ok.txt"]
    assert len(corpus.skipped) == 1
    assert corpus.skipped[0].source == "locked.txt"
    assert corpus.skipped[0].reason.startswith("unreadable")


def test_read_error_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path as above, forced with a patched read so it runs as root too."""
    (tmp_path / "ok.txt").write_text("Readable article.", encoding="utf-8")
    (tmp_path / "locked.txt").write_text("Locked article.", encoding="utf-8")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    corpus = load_corpus(tmp_path, Settings())
    assert [d.source for d in corpus.documents] == ["ok.txt"]
    assert [(s.source, s.reason) for s in corpus.skipped] == [
        ("locked.txt", "unreadable (Permission denied)")
    ]
