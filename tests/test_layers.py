"""The layers contract (pyproject.toml, [tool.importlinter]): the tree keeps it, and an import
that points up breaks it with a message naming the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

LINT = Path(sys.executable).parent / "lint-imports"


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=where, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_tree_keeps_the_layers() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_import_pointing_up_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "qa", tmp_path / "qa", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path).returncode == 0  # the copy keeps it, as the tree does
    tokens = tmp_path / "qa" / "ingest" / "tokens.py"
    tokens.write_text(tokens.read_text() + "\nfrom ..web import render  # noqa: E402\n")
    result = _lint(tmp_path)
    assert result.returncode == 1
    assert "BROKEN" in result.stdout
    assert "qa.ingest.tokens -> qa.web.render" in result.stdout
