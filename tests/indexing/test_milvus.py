"""The index in Milvus (Milvus Lite on a file): what a query reads is in Milvus only, a build
switches generations whole, a killed build leaves the previous one answering, and errors are
one clear line. The contract tests of search, ask and builds run on both stores elsewhere
(tests/test_api.py, the ``store_settings`` fixture)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa import Settings, ask, build_index, document_text, removed_text, search
from qa.config import MilvusTarget, parse_store
from qa.errors import ConfigError, IndexMismatchError, IndexNotFoundError, StoreError

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from qa.indexing import milvus


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Settings]:
    yield Settings(model="hash-384", store=f"milvus:{tmp_path / 'milvus.db'}")
    milvus.close_all()


def _target(settings: Settings) -> MilvusTarget:
    target = settings.milvus()
    assert target is not None
    return target


def test_store_setting_is_validated(tmp_path: Path) -> None:
    assert parse_store("local") is None
    lite = parse_store(f"milvus:{tmp_path}/x.db")
    assert lite is not None and lite.lite and lite.uri == f"{tmp_path}/x.db"
    server = parse_store("milvus:http://db.example:19530", "secret")
    assert server is not None and not server.lite and server.token == "secret"
    assert "secret" not in repr(server)
    for bad in ("milvus", "milvus:", "faiss:x", "milvus:/tmp/x.sqlite", "milvus:http://"):
        with pytest.raises(ConfigError, match=r"(?i)milvus"):
            Settings(store=bad)
    env = Settings.from_env({"QA_STORE": "milvus:http://h:19530", "QA_MILVUS_TOKEN": "t"})
    assert env.milvus() == MilvusTarget("http://h:19530", "t")
    assert env.as_dict()["milvus_token"] == "***"


def test_queries_need_no_index_files(corpus: Path, tmp_path: Path, lite: Settings) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=lite)
    question = "fractured collarbone crash"
    hits = search(question, k=5, index_dir=index, settings=lite)
    answer = ask(question, k=5, index_dir=index, settings=lite)
    shutil.rmtree(index)  # the build's working copy: a server never has it
    assert search(question, k=5, index_dir=tmp_path / "nowhere", settings=lite) == hits
    assert ask(question, k=5, index_dir=tmp_path / "nowhere", settings=lite) == answer
    local = Settings(model="hash-384")
    build_index(corpus, tmp_path / "local", settings=local)
    assert search(question, k=5, index_dir=tmp_path / "local", settings=local) == hits
    assert ask(question, k=5, index_dir=tmp_path / "local", settings=local) == answer


def test_a_build_switches_the_alias_and_keeps_one_generation_before(
    corpus: Path, tmp_path: Path, lite: Settings
) -> None:
    index, target = tmp_path / "index", _target(lite)
    build_index(corpus, index, settings=lite)
    client = milvus.connect(target)
    first = milvus.live_generation(client)
    assert first is not None and milvus.generations(client) == {first}
    again = build_index(corpus, index, settings=lite)
    assert not again.wrote and milvus.live_generation(client) == first  # nothing changed
    for n in (1, 2):
        (corpus / f"new{n}.txt").write_text(f"Article {n} about the zeppelin airship race.\n")
        build_index(corpus, index, settings=lite)
    live = milvus.live_generation(client)
    assert live not in (None, first)
    assert len(milvus.generations(client)) == 2  # the live one and the one before
    assert first not in milvus.generations(client)


def test_killed_publish_leaves_the_previous_index_answering(
    corpus: Path, tmp_path: Path, lite: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, target = tmp_path / "index", _target(lite)
    build_index(corpus, index, settings=lite)
    client = milvus.connect(target)
    before = milvus.live_generation(client)
    expected = search("Vinokourov femur", k=3, index_dir=index, settings=lite)
    (corpus / "extra.txt").write_text("A brand new article about tandem bikes.\n")
    real_insert = client.insert
    calls = 0

    def dies(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:  # the build is killed half-way through writing the new generation
            raise KeyboardInterrupt
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(client, "insert", dies)
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, index, settings=lite)
    monkeypatch.undo()
    assert milvus.live_generation(client) == before
    left = milvus.generations(client) - {before}
    assert len(left) == 1  # the dead build's collections
    assert search("Vinokourov femur", k=3, index_dir=index, settings=lite) == expected
    report = build_index(corpus, index, settings=lite)  # publishes what was built, cleans up
    assert report.wrote and report.embedded == 0
    live = milvus.live_generation(client)
    assert live not in (None, before)
    assert milvus.generations(client) == {before, live}
    assert search("tandem bikes", k=1, index_dir=index, settings=lite)[0].source == "extra.txt"


def test_index_of_another_model_is_a_clear_error(
    corpus: Path, tmp_path: Path, lite: Settings
) -> None:
    build_index(corpus, tmp_path / "index", settings=lite)
    with pytest.raises(IndexMismatchError, match="hash-384"):
        search("Cavendish", index_dir=tmp_path / "index", settings=lite.with_(model="other"))


def test_empty_store_says_build_one(tmp_path: Path, lite: Settings) -> None:
    with pytest.raises(IndexNotFoundError, match="qa build"):
        search("who?", index_dir=tmp_path / "index", settings=lite)


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    settings = Settings(model="hash-384", store="milvus:http://127.0.0.1:9")
    with pytest.raises(StoreError, match=r"cannot reach Milvus at http://127\.0\.0\.1:9") as info:
        search("who?", index_dir=tmp_path, settings=settings)
    assert "\n" not in str(info.value)


def test_missing_pymilvus_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    settings = Settings(model="hash-384", store=f"milvus:{tmp_path / 'x.db'}")
    with pytest.raises(StoreError, match=r"pip install 'qa\[milvus\]'"):
        search("who?", index_dir=tmp_path, settings=settings)


def _qa(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    environ = {**os.environ, "QA_MODEL": "hash-384", "PYTHONPATH": path, **env}
    for name in ("QA_CLEAN", "QA_STORE", "QA_MILVUS_TOKEN"):
        if name not in env:
            environ.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_builds_asks_and_checks_on_milvus(corpus: Path, tmp_path: Path) -> None:
    store = f"milvus:{tmp_path / 'milvus.db'}"
    index = str(tmp_path / "index")
    built = _qa("build", "--corpus", str(corpus), "--index", index, "--store", store, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "Indexed 5 files" in built.stdout and str(tmp_path / "milvus.db") in built.stdout
    shutil.rmtree(index)
    asked = _qa("ask", "fractured collarbone crash", "--index", index, cwd=tmp_path, QA_STORE=store)
    assert asked.returncode == 0, asked.stderr
    assert ".txt" in asked.stdout and "confidence" in asked.stdout
    status = _qa("status", "--store", store, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert (info["store"], info["files"], info["model"]) == ("milvus", 5, "hash-384")
    verified = _qa("verify", "--store", store, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "every count matches" in verified.stdout


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("milvus:http://127.0.0.1:9", "cannot reach Milvus at http://127.0.0.1:9"),
        ("milvus:x.sqlite", "must end in .db"),
        ("elastic", "store must be one of"),
    ],
)
def test_cli_store_errors_are_one_line(tmp_path: Path, store: str, message: str) -> None:
    result = _qa("ask", "who?", "--store", store, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_document_text_and_removed_text_read_milvus(
    corpus: Path, tmp_path: Path, lite: Settings
) -> None:
    page = next((Path(__file__).resolve().parents[1] / "data").rglob("*.html"))
    shutil.copy(page, corpus / "page.html")
    local, working = tmp_path / "local", tmp_path / "working"
    build_index(corpus, local, settings=Settings(model="hash-384"))
    build_index(corpus, working, settings=lite)
    shutil.rmtree(working)
    stored = document_text("page.html", working, settings=lite)
    assert stored.stored and stored == document_text("page.html", local)
    name = "000_2f40f508961ca104.txt"
    assert removed_text(name, working, settings=lite) == removed_text(name, local)
    assert removed_text(corpus / name, working, settings=lite).spans
