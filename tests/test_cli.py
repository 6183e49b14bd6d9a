"""The `qa` command, run as a subprocess (hashing embedder via QA_MODEL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def qa(*args: str, cwd: Path, model: str = "hash-384") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_MODEL": model}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def built(corpus: Path, tmp_path: Path) -> Path:
    result = qa("build", "--corpus", str(corpus), "--index", str(tmp_path / "index"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "index"


def test_build_prints_counts(corpus: Path, tmp_path: Path, built: Path) -> None:
    again = qa("build", "--corpus", str(corpus), "--index", str(built), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["embedded"] == 0 and report["reused"] == report["chunks"] > 0
    text = qa("build", "--corpus", str(corpus), "--index", str(built), cwd=tmp_path)
    assert "Indexed 5 files" in text.stdout and "0 embedded" in text.stdout


def test_ask_prints_answer_with_source(tmp_path: Path, built: Path) -> None:
    result = qa("ask", "Vinokourov broke his femur", "--index", str(built), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and ".txt" in result.stdout
    assert "#1 " in result.stdout


def test_ask_json_has_all_fields(tmp_path: Path, built: Path) -> None:
    result = qa(
        "ask", "Ekstra Bladet Mørkøv", "-k", "3", "--json", "--index", str(built), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["passages"]) == 3
    for field in ("text", "source", "score", "start", "end", "title", "date"):
        assert field in data["passages"][0]
    assert {"text", "citations", "answerable"} <= set(data)
    assert data["citations"][0]["source"].endswith(".txt")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "empty"),
        (["ask", "?!?"], "no words"),
        (["ask", "x" * 100_000], "too long"),
        (["ask", "who?", "-k", "0"], "at least 1"),
        (["ask", "who?", "-k", "abc"], "not a valid integer"),
        (["ask", "who?", "--index", "/nonexistent/index"], "qa build"),
        (["build", "--corpus", "/nonexistent/corpus"], "does not exist"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(
    tmp_path: Path, built: Path, args: list[str], message: str
) -> None:
    if args[0] == "ask" and "--index" not in args:
        args = [*args, "--index", str(built)]
    result = qa(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0]


def test_model_mismatch_is_one_line(tmp_path: Path, built: Path) -> None:
    result = qa("ask", "who?", "--index", str(built), cwd=tmp_path, model="hash-384-other")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "hash-384" in result.stderr


def test_help_for_every_command(tmp_path: Path) -> None:
    for args in (["--help"], ["build", "--help"], ["ask", "--help"], ["status", "--help"]):
        result = qa(*args, cwd=tmp_path)
        assert result.returncode == 0 and "Usage:" in result.stdout


def test_status_reports_index(tmp_path: Path, built: Path) -> None:
    result = qa("status", "--index", str(built), cwd=tmp_path)
    info = json.loads(result.stdout)
    assert info["files"] == 5 and info["stale"] is False


def test_eval_scores_a_gold_file(tmp_path: Path, built: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps(
            {
                "question": "Vinokourov broke his femur in 2011",
                "sources": ["003_23efa5f91a399b49.txt"],
                "answers": ["broke my femur"],
            }
        )
        + "\n"
        + json.dumps({"question": "How do I bake sourdough bread?"})
        + "\n"
    )
    result = qa("eval", str(gold), "--index", str(built), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 1 and report["unanswerable"] == 1
    assert report["hit5"] == 1.0 and 0 < report["mrr5"] <= 1.0
    text = qa("eval", str(gold), "--index", str(built), cwd=tmp_path).stdout
    assert text.startswith("1 answerable: hit@1 ") and "coverage 1.000" in text
    assert "expected calibration error" in text and "1 unanswerable" in text
    assert "1 unanswerable: no answer asserted " in text and "latency p50 " in text
    only_unanswerable = tmp_path / "unanswerable.jsonl"
    only_unanswerable.write_text(json.dumps({"question": "What is the capital of Peru?"}) + "\n")
    text = qa("eval", str(only_unanswerable), "--index", str(built), cwd=tmp_path).stdout
    assert text.startswith("1 unanswerable: no answer asserted ") and "hit@1" not in text
    bad = qa("eval", str(tmp_path / "missing.jsonl"), "--index", str(built), cwd=tmp_path)
    assert bad.returncode == 1 and bad.stderr.startswith("Error:")
