from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
