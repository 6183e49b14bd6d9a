"""The `qa` command: as a subprocess, and in process through `qa.cli.main` (hashing embedder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def qa(*args: str, cwd: Path, model: str = "hash-384") -> subprocess.CompletedProcess[str]:
    # This checkout's qa, whichever checkout the environment has installed.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "QA_MODEL": model, "PYTHONPATH": path}
    env.pop("QA_CLEAN", None)
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
    assert "Index is up to date: 5 files" in text.stdout and "nothing changed" in text.stdout
    (corpus / "001_1bde5f3f857fbb0b.txt").touch()  # read again, its vectors reused
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


# --- in-process (qa.cli.main), hashing embedder ---------------------------------------------


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from qa.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def hash_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hash-384")
    monkeypatch.delenv("QA_CLEAN", raising=False)


@pytest.mark.usefixtures("hash_env")
def test_build_reports_boilerplate_per_file_and_clean_flag(
    corpus: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = str(tmp_path / "index")
    code, out, err = run_main(capsys, "build", "--corpus", str(corpus), "--index", index)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Removed as boilerplate (--clean auto): 4 of 5 files lost text:"
    assert (
        " ".join(lines[1].split()) == "000_2f40f508961ca104.txt 41.8% (2,619 of 6,271 characters)"
    )
    assert len(lines) == 7 and "004_" not in out
    assert lines[5] == "Files by format: txt 5 read"
    assert err.count("warning: ") == 1
    assert "warning: 000_2f40f508961ca104.txt: 42% of its text was removed" in err
    assert "qa status --removed 000_2f40f508961ca104.txt" in err

    code, out, _ = run_main(capsys, "build", "--corpus", str(corpus), "--index", index, "--json")
    report = json.loads(out)
    assert [c["source"] for c in report["cleaning"]] == sorted(p.name for p in corpus.iterdir())
    assert report["cleaning"][0] == {
        "source": "000_2f40f508961ca104.txt",
        "removed_chars": 2619,
        "total_chars": 6271,
        "web_page": True,
    }

    args = ("build", "--corpus", str(corpus), "--index", index, "--clean", "none")
    code, out, err = run_main(capsys, *args)
    assert code == 0, err
    assert out.startswith("Removed as boilerplate (--clean none): 0 of 5 files lost text\n")
    assert "full rebuild: cleaning changed (auto -> none)" in out and "warning" not in err

    monkeypatch.setenv("QA_CLEAN", "web")
    code, out, err = run_main(capsys, "build", "--corpus", str(corpus), "--index", index)
    assert code == 0 and "full rebuild: cleaning changed (none -> web)" in out
    assert "(--clean web): 4 of 5 files lost text" in out  # 004 has nothing to remove


@pytest.mark.usefixtures("hash_env")
def test_status_removed_prints_offsets_and_text(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = str(tmp_path / "index")
    assert run_main(capsys, "build", "--corpus", str(corpus), "--index", index)[0] == 0
    name = "001_1bde5f3f857fbb0b.txt"
    code, out, err = run_main(capsys, "status", "--index", index, "--removed", name)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (
        f"{name}: 542 of 3,702 characters removed (14.6%) in 3 span(s); a web page (--clean auto)"
    )
    text = (corpus / name).read_text(encoding="utf-8")
    spans = [line for line in lines if line.startswith("chars ")]
    assert len(spans) == 3
    start, end = (int(x) for x in spans[1].removeprefix("chars ").rstrip(":").split("-"))
    assert (
        text[start:end]
        == "Cavendish in action at the 2021 Tour de France (Image credit: Getty Images)"
    )
    assert lines[lines.index(spans[1]) + 1] == "    " + text[start:end]

    code, out, _ = run_main(capsys, "status", "--index", index, "--removed", name, "--json")
    data = json.loads(out)
    assert data["source"] == name and len(data["spans"]) == 3
    assert all(text[s["start"] : s["end"]] == s["text"] for s in data["spans"])

    code, out, _ = run_main(
        capsys, "status", "--index", index, "--removed", str(corpus / "004_230749e99c2d62ef.txt")
    )
    assert out == "004_230749e99c2d62ef.txt: nothing removed (not a web page; --clean auto)\n"

    code, out, err = run_main(capsys, "status", "--index", index, "--removed", "nope.txt")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("Error: nope.txt is not in the index")


@pytest.mark.usefixtures("hash_env")
def test_bad_clean_value_is_a_usage_error(
    corpus: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run_main(capsys, "build", "--corpus", str(corpus), "--clean", "html")
    assert code == 2 and err.count("\n") == 1 and "'html' is not one of" in err
    monkeypatch.setenv("QA_CLEAN", "html")
    code, _, err = run_main(capsys, "build", "--corpus", str(corpus), "--index", str(tmp_path))
    assert code == 1 and err == "Error: clean must be one of auto, web, none, got 'html'\n"
