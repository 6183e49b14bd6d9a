"""Adding documents from the page (qa.web.uploads, qa.web.background, qa.web.ui.uploads_allowed):
safe
names, nothing overwritten, type and size limits, and the background build that indexes them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa import Settings, build_index, search
from qa.web.background import BackgroundBuild
from qa.web.ui import uploads_allowed
from qa.web.uploads import MAX_NAME_CHARS, UPLOAD_FOLDER, add_files, free_path, safe_name

HASH = Settings(model="hash-384")
NOTE = "The Elling rowing club moved its boathouse to the north bank in March 2024.\n"


@given(st.text(max_size=300))
def test_safe_name_is_always_a_plain_file_name(name: str) -> None:
    safe = safe_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith(".") and len(safe) <= MAX_NAME_CHARS
    assert all(ch.isprintable() for ch in safe)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.PDF", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\notes.md", "notes.md"),
        (".hidden.txt", "hidden.txt"),
        ("a\nb<script>.html", "a_b_script.html"),
        ("Café résumé (final).docx", "Café résumé (final).docx"),
    ],
)
def test_safe_name_examples(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_free_path_never_reuses_a_taken_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "a (2).txt").write_text("x")
    assert free_path(tmp_path, "a.txt") == tmp_path / "a (3).txt"
    assert free_path(tmp_path, "b.txt") == tmp_path / "b.txt"


def _upload(tmp_path: Path, name: str, data: bytes) -> tuple[Path, str]:
    folder = tmp_path / "incoming" / str(len(list(tmp_path.glob("incoming/*"))))
    folder.mkdir(parents=True)
    path = folder / "upload.bin"
    path.write_bytes(data)
    return path, name


def test_add_files_copies_checks_and_never_overwrites(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings = HASH.with_(max_file_bytes=1_000)
    files = [
        _upload(tmp_path, "notes.md", NOTE.encode()),
        _upload(tmp_path, "notes.md", b"A second file with the same name, kept apart.\n"),
        _upload(tmp_path, "run.exe", b"MZ binary"),
        _upload(tmp_path, "big.txt", b"x" * 2_000),
        _upload(tmp_path, "empty.txt", b""),
    ]
    result = add_files(files, corpus, settings)
    assert result.added == (f"{UPLOAD_FOLDER}/notes.md", f"{UPLOAD_FOLDER}/notes (2).md")
    assert (corpus / result.added[0]).read_text() == NOTE
    assert "same name" in (corpus / result.added[1]).read_text()
    reasons = {r.name: r.reason for r in result.refused}
    assert set(reasons) == {"run.exe", "big.txt", "empty.txt"}
    assert ".exe files are not read" in reasons["run.exe"]
    assert "too large (2,000 bytes; limit 1,000)" in reasons["big.txt"]
    assert reasons["empty.txt"] == "empty file"
    assert not list((corpus / UPLOAD_FOLDER).glob(".*"))  # no partial copies left


def test_concurrent_uploads_of_one_name_are_all_kept(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = [_upload(tmp_path, "same.txt", f"File number {i}.\n".encode()) for i in range(8)]
    threads = [threading.Thread(target=add_files, args=([f], corpus, HASH)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = sorted(p.read_text() for p in (corpus / UPLOAD_FOLDER).iterdir())
    assert texts == sorted(f"File number {i}.\n" for i in range(8))


def test_background_build_indexes_added_files(tmp_path: Path, corpus: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=HASH)
    add_files([_upload(tmp_path, "club.md", NOTE.encode())], corpus, HASH)
    builder = BackgroundBuild()
    assert builder.start(corpus, index, HASH)
    assert not builder.start(corpus, index, HASH)  # queued: runs again after this one
    state = builder.wait(60)
    if state.running:  # the queued second build
        state = builder.wait(60)
    assert state.state == "done" and state.report is not None
    hits = search("Where did the Elling rowing club move its boathouse?", 3, index, settings=HASH)
    assert hits[0].source == f"{UPLOAD_FOLDER}/club.md"


def test_background_build_failure_is_reported(tmp_path: Path) -> None:
    builder = BackgroundBuild()
    builder.start(tmp_path / "missing", tmp_path / "index", HASH)
    state = builder.wait(30)
    assert state.state == "failed" and "does not exist" in state.message


@pytest.mark.parametrize(
    ("host", "env", "allowed"),
    [
        ("127.0.0.1", {}, True),
        ("localhost", {}, True),
        ("0.0.0.0", {}, False),
        ("0.0.0.0", {"QA_AUTH": "me:secret"}, True),
        ("0.0.0.0", {"QA_AUTH_FILE": "/etc/qa-users"}, True),
        ("127.0.0.1", {"QA_UPLOADS": "0"}, False),
        ("0.0.0.0", {"QA_UPLOADS": "1"}, True),
    ],
)
def test_uploads_allowed_only_on_loopback_or_with_a_password(
    host: str, env: dict[str, str], allowed: bool
) -> None:
    assert uploads_allowed(host, env) is allowed


def test_first_index_builds_in_the_background_while_the_page_says_so(
    tmp_path: Path, corpus: Path
) -> None:
    from qa.web.background import BuildState
    from qa.web.ui import _index_header, ensure_index, held_until_built

    index = str(tmp_path / "index")
    builder = BackgroundBuild()
    builder._state = BuildState("running", "embed", 3, 10)  # as seen mid-build
    assert "Building the index" in _index_header(index, builder)
    assert "embedding passages 3 of 10" in _index_header(index, builder)
    waiting = held_until_built(builder, index, lambda: iter([("the answer", True)]), poll=0.01)
    assert "Building the index" in str(next(waiting))
    assert "No usable index" in _index_header(index, None)

    builder = BackgroundBuild()
    lines: list[str] = []
    assert ensure_index(index, corpus, HASH, echo=lines.append, builder=builder)
    state = builder.wait(60)
    assert state.state == "done" and "Indexed 5 articles" in lines[-1]
    assert any(line.strip().startswith("embed") for line in lines)
    assert "5 articles" in _index_header(index, builder)
    assert list(held_until_built(builder, index, lambda: iter([("the answer", True)]))) == [
        ("the answer", True)  # built: answered at once
    ]


def test_a_question_asked_during_the_first_build_is_held_and_answered(
    tmp_path: Path, corpus: Path
) -> None:
    """Progress while the build runs, then the answer from the new index: never "no index"."""
    from qa.web.ui import answer_stream, ensure_index, held_until_built

    index = str(tmp_path / "index")
    builder = BackgroundBuild()
    assert ensure_index(index, corpus, HASH, echo=lambda line: None, builder=builder)
    question = "Who is Cavendish's new head of performance?"
    replies = list(
        held_until_built(
            builder, index, lambda: answer_stream(question, None, 3, index, HASH), poll=0.01
        )
    )
    final, done = replies[-1]
    assert done and "No usable index" not in final and "no index" not in final
    assert "qa-reply qa-status-" in final and "qa-passage" in final  # answered from the index
    drafts = replies[:-1]
    assert drafts and all(isinstance(d, str) and "Your question is kept" in d for d in drafts)
