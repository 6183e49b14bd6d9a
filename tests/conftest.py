from __future__ import annotations

import shutil
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
