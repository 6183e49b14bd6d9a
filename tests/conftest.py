from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from appserver import RUNNING, STOPPED

from qa import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def hash_settings() -> Settings:
    """Settings with the instant, deterministic hashing embedder (no model load)."""
    return Settings(model="hash-384")


@pytest.fixture(params=["local", "milvus"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """The hashing embedder's settings, on each store: the local index folder, and Milvus
    Lite on a file of its own (contract tests run on both)."""
    if request.param == "local":
        yield Settings(model="hash-384")
        return
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from qa.indexing.milvus import close_all

    yield Settings(model="hash-384", store=f"milvus:{tmp_path / 'milvus.db'}")
    close_all()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the seed articles."""
    dest = tmp_path / "corpus"
    shutil.copytree(SEEDS, dest)
    return dest


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed with the real model (built once per test session)."""
    from qa import build_index

    index_dir = tmp_path_factory.mktemp("real") / "index"
    build_index(SEEDS, index_dir, settings=Settings())
    return index_dir


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A failing test that talked to a running app shows the end of that app's log (a
    server-side traceback is otherwise lost: the client sees only 'an exception')."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for app in [*RUNNING, *STOPPED]:
            report.sections.append((f"app.log ({app.url})", app.output()[-6000:]))
    if report.when == "teardown":
        STOPPED.clear()
