"""Builds with the real model: an unchanged rebuild loads no model and imports no torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow

_REBUILD = """
import json, sys
from qa import build_index
report = build_index(sys.argv[1], sys.argv[2])
print(json.dumps({"embedded": report.embedded, "reused": report.reused,
                  "torch": "torch" in sys.modules,
                  "sentence_transformers": "sentence_transformers" in sys.modules}))
"""


def test_unchanged_rebuild_imports_no_torch(real_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(real_index, index)  # file times kept: loads without hashing
    out = subprocess.run(
        [sys.executable, "-c", _REBUILD, str(SEEDS), str(index)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["embedded"] == 0 and result["reused"] > 0
    assert not result["torch"] and not result["sentence_transformers"]
