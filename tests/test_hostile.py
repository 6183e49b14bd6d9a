"""Hostile and odd input: arbitrary bytes and Unicode through loading, cleaning and chunking
(hypothesis), odd files and file names in a corpus, and odd questions.

Every property runs on a modest number of examples so the whole module takes seconds.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docmaker import docx_bytes, news_page, pdf_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import Settings, ask, build_index, document_text, search
from qa.cli import main
from qa.errors import DocumentSkipped, QuestionError
from qa.indexing.index import open_documents
from qa.ingest.chunking import Chunked, chunk_document
from qa.ingest.documents import load_corpus, load_document, printable
from qa.ingest.readers.text import decode
from qa.ingest.tokens import token_counter
from qa.types import Span

HASH = Settings(model="hash-384")
ARTICLE = (
    "Tandem bikes return\n\n"
    "The tandem bike club met on Sunday. Twelve riders came to the velodrome.\n"
    "They rode forty laps before the rain started.\n"
)


@pytest.fixture(scope="module")
def count() -> Callable[[str], int]:
    return token_counter("cl100k_base")


# ---------------------------------------------------------------------------------------------
# Strategies: bytes and text that real folders hold, and worse

_ODD = [
    "word",
    "Dr.",
    "end.",
    "Why?",
    "“Quote.”",
    "مرحبا بالعالم.",  # Arabic, right to left
    "שלום עולם.",  # Hebrew
    "日本語の文です。",
    "한국어 문장.",
    "e\u0301",  # combining accent
    "\u202e",  # right-to-left override
    "\u200b",  # zero-width space
    "\u2028",  # line separator
    "\x1b[31m",  # ANSI escape
    "\x07",
    "\x0c",
    "\ufeff",
    "<script>alert(1)</script>",
    "&amp;",
    "---",
    "title: x",
    "date 2023-10-05",
    "# Heading",
    "Get The Leadout Newsletter",
    "(Image credit: Getty Images)",
    "https://example.com/" + "a" * 300,
    "x" * 700,
    " ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
]
_WORDS = st.lists(st.sampled_from(_ODD), max_size=80).map(" ".join)
_UNICODE = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=400)
TEXTS = st.one_of(_WORDS, _UNICODE, st.tuples(_WORDS, _UNICODE).map("\n".join))
BYTES = st.one_of(
    st.binary(max_size=800),
    TEXTS.map(lambda t: t.encode("utf-8")),
    TEXTS.map(lambda t: t.encode("utf-16")),
    TEXTS.map(lambda t: t.encode("cp1252", "replace")),
    st.tuples(TEXTS, st.binary(max_size=40), TEXTS).map(
        lambda p: p[0].encode("utf-8") + p[1] + p[2].encode("utf-8")
    ),
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One folder for every example (hypothesis runs many examples per test function)."""
    with tempfile.TemporaryDirectory(prefix="qa-hostile-") as name:
        yield Path(name)


def _check_chunks(
    text: str, segments: tuple[Span, ...], count: Callable[[str], int], settings: Settings
) -> None:
    """Chunks hold content only, every content character is in a chunk, and two neighbouring
    chunks share no more than the overlap."""
    chunked = chunk_document(text, segments, count, settings.chunk_tokens, settings.chunk_overlap)
    spans = chunked.spans()
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        assert any(s.start <= span.start and span.end <= s.end for s in segments), span
    for seg in segments:
        covered = [c for c in spans if seg.start <= c.start and c.end <= seg.end]
        for i in range(seg.start, seg.end):  # nothing lost
            if not text[i].isspace() and text[i] != "\ufeff":
                assert any(c.start <= i < c.end for c in covered), f"{text[i]!r} at {i} lost"
    for r, a, b in zip(chunked.ranges, spans, spans[1:], strict=False):
        if b.start < a.end and b.start >= a.start:  # neighbours within one segment
            shared = text[b.start : a.end]
            units = sum(1 for u in chunked.units[r.start : r.end] if u.start >= b.start)
            # Carried whole sentences fit in the overlap; BPE may merge across their joins.
            assert count(shared) <= settings.chunk_overlap + units, (shared, units)
            assert b.end > a.end, "a chunk must move forward"


# ---------------------------------------------------------------------------------------------
# Properties


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=BYTES, ext=st.sampled_from([".txt", ".md", ".markdown", ".TXT"]))
def test_any_bytes_as_plain_text(
    scratch: Path, count: Callable[[str], int], data: bytes, ext: str
) -> None:
    """Any bytes: read or skipped with a one-line reason; the text is the file as Python reads
    it (or its Windows-1252 reading); chunks cover the content and map back into the file."""
    path = scratch / f"doc{ext}"
    path.write_bytes(data)
    try:
        doc, warning = load_document(path, path.name, Settings())
    except DocumentSkipped as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    try:
        expected = path.read_text(encoding="utf-8")
        assert warning is None
    except UnicodeDecodeError:
        expected = data.decode("cp1252", "replace").replace("\r\n", "\n").replace("\r", "\n")
        assert warning and "Windows-1252" in warning and "\n" not in warning
    assert doc.text == expected
    prev = 0
    for seg in doc.segments:
        assert prev <= seg.start < seg.end <= len(doc.text)
        prev = seg.end
    for span in doc.removed:
        assert 0 <= span.start < span.end <= len(doc.text)
    for section in doc.sections:
        assert 0 <= section.start <= len(doc.text)
    _check_chunks(doc.text, doc.segments, count, Settings())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=BYTES, ext=st.sampled_from([".html", ".htm", ".pdf", ".docx"]))
def test_any_bytes_as_a_rich_format(scratch: Path, data: bytes, ext: str) -> None:
    """Garbage under a rich format's name is read or skipped with a reason, never a crash."""
    path = scratch / f"doc{ext}"
    path.write_bytes(data)
    try:
        doc, _ = load_document(path, path.name, Settings())
    except DocumentSkipped as exc:
        assert str(exc)
        return
    assert all(0 <= s.start < s.end <= len(doc.text) for s in doc.segments)


_PARAGRAPHS = st.lists(
    st.one_of(
        _WORDS,
        st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=200),
    ),
    min_size=1,
    max_size=6,
)


def _xml_safe(paragraphs: list[str]) -> list[str]:
    """A Word file cannot hold control characters (XML 1.0)."""
    return ["".join(ch for ch in p if ch in "\t\n" or ord(ch) >= 32) for p in paragraphs]


def _to_cp1252(paragraphs: list[str]) -> list[str]:
    """The PDF writer of the tests writes Windows-1252 text (Helvetica)."""
    return [p.encode("cp1252", "replace").decode("cp1252") for p in paragraphs]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(paragraphs=_PARAGRAPHS, fmt=st.sampled_from(["html", "pdf", "docx"]))
def test_extracted_text_offsets_map_back(
    scratch: Path, count: Callable[[str], int], paragraphs: list[str], fmt: str
) -> None:
    """Real HTML, PDF and DOCX files with odd text: every offset (segments, pages, sections,
    chunks) indexes the extracted text."""
    if fmt == "html":
        data = news_page("Odd text", paragraphs).encode("utf-8")
    elif fmt == "pdf":
        data = pdf_bytes([_to_cp1252(paragraphs)], title="Odd text")
    else:
        data = docx_bytes(
            [("heading", "Odd text"), *(("paragraph", p) for p in _xml_safe(paragraphs))]
        )
    path = scratch / f"doc.{fmt}"
    path.write_bytes(data)
    try:
        doc, _ = load_document(path, path.name, Settings())
    except DocumentSkipped as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    n = len(doc.text)
    assert all(0 <= s.start < s.end <= n for s in doc.segments)
    assert all(0 <= p <= n for p in doc.pages)
    assert all(0 <= s.start <= n for s in doc.sections)
    _check_chunks(doc.text, doc.segments, count, Settings())


@settings(max_examples=60, deadline=None)
@given(text=TEXTS)
def test_decode_never_raises_and_keeps_utf8_text(text: str) -> None:
    """UTF-8 text decodes to itself (newlines normalised), unless it is binary: a NUL byte
    near the start, or more than 5% control characters."""
    data = text.encode("utf-8")
    decoded, warning = decode(data)
    if decoded is None:
        head = text[:8192]
        control = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\n\r\f")
        assert warning and warning.startswith("binary file")
        assert b"\x00" in data[:8192] or control > 0.05 * len(head)
    else:
        assert decoded == text.replace("\r\n", "\n").replace("\r", "\n")
        assert warning is None


# ---------------------------------------------------------------------------------------------
# Odd files in a corpus


def _skips(report_skipped: tuple[str, ...]) -> dict[str, str]:
    return dict(line.rsplit(": ", 1) for line in report_skipped)


def test_empty_binary_and_invalid_utf8_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(ARTICLE, encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "spaces.md").write_bytes(b" \n\t\r\n")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(512))
    (corpus / "random.md").write_bytes(bytes(range(1, 32)) * 40)  # control bytes, no NUL
    (corpus / "latin.txt").write_bytes("Caf\xe9 riders\n\nThe caf\xe9 opened.\n".encode("latin-1"))
    report = build_index(corpus, tmp_path / "index", settings=HASH)
    assert _skips(report.skipped) == {
        "empty.txt": "empty file",
        "spaces.md": "empty file",
        "image.txt": "binary file (contains NUL bytes)",
        "random.md": "binary file (not text)",
    }
    assert report.files == 2
    assert any(w.startswith("latin.txt: not valid UTF-8") for w in report.warnings)
    hit = search("café riders", k=1, index_dir=tmp_path / "index", settings=HASH)[0]
    assert hit.source == "latin.txt" and "café" in hit.text


def test_build_report_lines_name_each_skipped_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(ARTICLE, encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "line\nbreak.txt").write_bytes(b"\x00\x01")
    monkeypatch.setenv("QA_MODEL", "hash-384")
    main(["build", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "-q"])
    err = capsys.readouterr().err.splitlines()
    assert "skipped: empty.txt: empty file" in err
    # A line break in a file name is shown escaped: one report line per file.
    assert "skipped: line\\nbreak.txt: binary file (contains NUL bytes)" in err


def test_odd_file_names_round_trip(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = [
        "with spaces.txt",
        "Ünïcödé 日本語 مرحبا.md",
        "new\nline.txt",
        "tab\there.txt",
        "<img src=x onerror=alert(1)>.txt",
        "emoji 🚲.txt",
    ]
    for i, name in enumerate(names):
        (corpus / name).write_text(
            f"Article number {i}\n\nRider{i} won stage {i} of the tour in the rain.\n",
            encoding="utf-8",
        )
    index = tmp_path / "index"
    report = build_index(corpus, index, settings=HASH)
    assert report.files == len(names) and not report.skipped
    for i, name in enumerate(names):
        hit = search(f"Rider{i} won stage", k=1, index_dir=index, settings=HASH)[0]
        assert hit.source == name
        assert document_text(name, index).text[hit.start : hit.end] == hit.text
        assert (corpus / name).read_text(encoding="utf-8")[hit.start : hit.end] == hit.text


def test_file_name_that_is_not_utf8_is_skipped_not_a_crash(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(ARTICLE, encoding="utf-8")
    bad = os.fsencode(corpus) + b"/caf\xe9.txt"
    with open(bad, "wb") as f:
        f.write(b"An article whose name is Latin-1.\n")
    report = build_index(corpus, tmp_path / "index", settings=HASH)
    assert report.files == 1
    assert report.skipped == ("caf\ufffd.txt: file name is not valid UTF-8; rename the file",)


def test_symlinks_out_of_the_corpus_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.txt").write_text("Zeppelin password hunter2 outside.\n", encoding="utf-8")
    (outside / "folder" / "more.txt").write_text("Zeppelin folder outside.\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "good.txt").write_text(ARTICLE, encoding="utf-8")
    (corpus / "sub" / "inner.txt").write_text("Zeppelin inside article.\n", encoding="utf-8")
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "up.txt").symlink_to(Path("..") / "outside" / "secret.txt")
    (corpus / "etc.txt").symlink_to("/etc/passwd")
    (corpus / "folder").symlink_to(outside / "folder")
    (corpus / "loop").symlink_to(corpus)  # a folder link inside: never entered
    (corpus / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    (corpus / "alias.txt").symlink_to(corpus / "sub" / "inner.txt")  # inside: read
    index = tmp_path / "index"
    report = build_index(corpus, index, settings=HASH)
    outside_reason = "symbolic link to a file outside the corpus; not followed"
    assert _skips(report.skipped) == {
        "broken.txt": "broken symbolic link",
        "etc.txt": outside_reason,
        "secret.txt": outside_reason,
        "up.txt": outside_reason,
    }
    assert "folder: symbolic link to a folder outside the corpus; not followed" in report.warnings
    _, _, documents = open_documents(index)
    sources = sorted(documents.record(i).source for i in range(len(documents)))
    assert sources == ["alias.txt", "good.txt", "sub/inner.txt"]
    hits = search("Zeppelin password root folder", k=10, index_dir=index, settings=HASH)
    assert hits and not any("outside" in h.text or "root:" in h.text for h in hits)


def test_hidden_files_and_git_are_ignored(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / ".git" / "objects").mkdir(parents=True)
    (corpus / "notes").mkdir()
    (corpus / "good.txt").write_text(ARTICLE, encoding="utf-8")
    (corpus / ".git" / "description.txt").write_text("Zeppelin git file.\n", encoding="utf-8")
    (corpus / ".git" / "objects" / "x.md").write_text("Zeppelin object.\n", encoding="utf-8")
    (corpus / ".draft.txt").write_text("Zeppelin hidden draft.\n", encoding="utf-8")
    (corpus / "notes" / ".swap.md").write_text("Zeppelin swap file.\n", encoding="utf-8")
    corpus_read = load_corpus(corpus, Settings())
    assert [d.source for d in corpus_read.documents] == ["good.txt"]
    assert corpus_read.skipped == () and corpus_read.warnings == ()


def test_pipe_named_like_an_article_is_skipped_without_blocking(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(ARTICLE, encoding="utf-8")
    os.mkfifo(corpus / "pipe.txt")  # reading it would wait for a writer forever
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(corpus / "sock.md"))
        corpus_read = load_corpus(corpus, Settings())
    reason = "not a regular file (a pipe, socket or device)"
    assert [(s.source, s.reason) for s in corpus_read.skipped] == [
        ("pipe.txt", reason),
        ("sock.md", reason),
    ]


def test_printable_names() -> None:
    assert printable("a\nb\tc\x1b.txt") == "a\\nb\\tc\\x1b.txt"
    assert printable("日本語 é.txt") == "日本語 é.txt"
    assert printable("caf\udce9.txt") == "caf\ufffd.txt"


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.slow
def test_large_file_is_skipped_with_bounded_memory(tmp_path: Path) -> None:
    """A 50 MB text file is over the limit: skipped with the size and the limit, without
    being read (memory stays bounded); the rest of the folder is indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(ARTICLE, encoding="utf-8")
    line = b"The peloton rode on through the long flat stage in the afternoon sun.\n"
    size = 50 * 1024 * 1024
    with (corpus / "huge.txt").open("wb") as f:
        for _ in range(size // len(line)):
            f.write(line)
        f.write(b"x" * (size % len(line)))
    rss_before = _peak_rss_kib()
    tracemalloc.start()
    try:
        report = build_index(corpus, tmp_path / "index", settings=HASH)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.skipped == ("huge.txt: too large (52,428,800 bytes; limit 20,000,000)",)
    assert report.files == 1
    assert peak < 8 * 1024 * 1024, f"peak Python allocations {peak:,} bytes"
    assert _peak_rss_kib() - rss_before < 40 * 1024, "resident memory grew by the file"


@pytest.mark.slow
def test_file_just_under_the_limit_is_read_with_bounded_memory(tmp_path: Path) -> None:
    """A 4 MB article under a 5 MB limit is read whole; its peak memory stays a small multiple
    of its size."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paragraph = (
        "The peloton rode on through the long flat stage. Riders {i} and {j} attacked late.\n\n"
    )
    text = "".join(paragraph.format(i=i, j=i + 1) for i in range(4 * 1024 * 1024 // 90))
    (corpus / "big.txt").write_text(text, encoding="utf-8")
    settings_ = Settings(max_file_bytes=5 * 1024 * 1024)
    tracemalloc.start()
    try:
        corpus_read = load_corpus(corpus, settings_)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (doc,) = corpus_read.documents
    assert doc.text == text
    assert peak < 40 * len(text), f"peak {peak:,} bytes for a {len(text):,}-byte file"


# ---------------------------------------------------------------------------------------------
# Odd questions (the library; the web endpoint is in test_security.py)


@pytest.fixture(scope="module")
def seeds_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("hostile") / "index"
    build_index(Path(__file__).resolve().parent.parent / "seeds", index, settings=HASH)
    return index


REFUSED = {
    "": "the question is empty",
    " \t\n ": "the question is empty",
    "\x00\x07\x1b\x7f": "the question has no words in it",
    "?!… ¿": "the question has no words in it",
    "x" * 1_000_000: "the question is too long (1,000,000 characters; the limit is 2,000)",
    "Cavendish " * 100_000: "the question is too long",
}
ANSWERED = [
    "why did Cavendish\x00 un-retire?\x1b[31m\r\n",
    "لماذا عاد كافنديش إلى السباق؟",  # Arabic
    "למה קוונדיש חזר?",  # Hebrew
    "Cavendish 日本語 מרוץ un-retire Tour?",  # mixed scripts
    "\u202eeritet-nu hsidnevaC",  # right-to-left override
    "Cave\u0301ndish\u200b retire",  # combining accent, zero-width space
    "<script>alert(1)</script> Cavendish",
    "x" * 2_000,  # exactly at the limit
]


@pytest.mark.parametrize("question", list(REFUSED), ids=lambda q: repr(q[:12]))
def test_odd_questions_refused_with_a_clear_message(seeds_index: Path, question: str) -> None:
    with pytest.raises(QuestionError) as info:
        ask(question, index_dir=seeds_index, settings=HASH)
    message = str(info.value)
    assert message.startswith(REFUSED[question]) and "\n" not in message


@pytest.mark.parametrize("question", ANSWERED, ids=lambda q: repr(q[:12]))
def test_odd_questions_are_answered(seeds_index: Path, question: str) -> None:
    answer = ask(question, k=3, index_dir=seeds_index, settings=HASH)
    assert answer.status in ("answered", "passages", "not_found")
    assert answer.question == question.strip()
    assert len(answer.passages) == 3
    assert all(p.source.endswith(".txt") for p in answer.passages)


def test_chunk_check_fails_when_text_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunk check of the properties above can fail: drop a chunk and it says so."""
    real = chunk_document

    def drops_last(*args: object, **kwargs: object) -> Chunked:
        chunked = real(*args, **kwargs)  # type: ignore[arg-type]
        return Chunked(chunked.units, chunked.ranges[:-1])

    monkeypatch.setattr(sys.modules[__name__], "chunk_document", drops_last)
    text = "One sentence here. Another one there."
    words = len  # any counter: the text fits in one chunk, which is then dropped
    with pytest.raises(AssertionError, match="lost"):
        _check_chunks(text, (Span(0, len(text)),), words, Settings())
