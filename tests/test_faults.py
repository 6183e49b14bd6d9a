"""Faults: concurrent builds, a disk that fills up or is read-only, builds killed at random
moments, a rebuild while the app serves, and a rebuild in the middle of one answer.

Builds run as `qa build` subprocesses with the hashing embedder (QA_MODEL=hash-384); those
tests are marked ``integration`` (and ``slow`` where they take more than a few seconds).
"""

from __future__ import annotations

import errno
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from appserver import running_app

import qa.answer.extractive
import qa.indexing.checkpoint
import qa.indexing.index
import qa.indexing.store
from qa import Settings, ask, build_index
from qa.cli import main
from qa.errors import BuildInProgressError, IndexWriteError
from qa.indexing.index import load_index
from qa.indexing.keyword import KeywordIndex
from qa.indexing.store import KEEP_GENERATIONS, build_lock, current_generation

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SCIFACT = ROOT.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
OBSERVED = Path(__file__).resolve().parent / "observed_build.py"
HASH = Settings(model="hash-384")
SEED_QUESTIONS = (
    "why did Cavendish un-retire?",
    "Who is Vasilis Anastopoulos?",
    "Vinokourov broke his femur",
)
SCIFACT_QUESTIONS = (
    "diffusion tensor imaging of white matter in newborns",
    "vitamin D supplementation and fracture risk",
    "microRNA regulation of cancer cells",
)


def env() -> dict[str, str]:
    full = {**os.environ, "QA_MODEL": "hash-384", "PYTHONDONTWRITEBYTECODE": "1"}
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full.get("PYTHONPATH")]))
    for key in ("QA_INDEX", "QA_CORPUS"):
        full.pop(key, None)
    return full


def qa_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "qa", *args]


def run_qa(cwd: Path, *args: str, timeout: int = 120, **kwargs: Any) -> CompletedProcess[str]:
    """Run `qa ARGS` in cwd with the hashing model, its output captured as text."""
    return subprocess.run(
        qa_cmd(*args), env=env(), cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs
    )


def answers(index: Path, questions: tuple[str, ...]) -> list[dict[str, Any]]:
    return [ask(q, k=3, index_dir=index, settings=HASH).to_dict() for q in questions]


def leftovers(index: Path) -> list[Path]:
    return sorted(index.glob(".tmp-gen-*"))


def disk_use(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 SciFact abstracts as .txt files (title, blank line, abstract): a build of them
    takes a few seconds with the hashing embedder. Without the dataset, 2,000 variations of
    the seed articles stand in."""
    corpus = tmp_path_factory.mktemp("big") / "corpus"
    corpus.mkdir()
    if SCIFACT.exists():
        with SCIFACT.open(encoding="utf-8") as f:
            for _, line in zip(range(2000), f, strict=False):
                doc = json.loads(line)
                text = f"{doc['title']}\n\n{doc['text']}\n"
                (corpus / f"{doc['_id']}.txt").write_text(text, encoding="utf-8")
    else:
        seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
        for i in range(2000):
            text = f"Variation {i}\n\n{seeds[i % len(seeds)]}\nVariation {i} ends here.\n"
            (corpus / f"v{i:04}.txt").write_text(text, encoding="utf-8")
    return corpus


def _holds_flock(pid: int, path: Path) -> bool:
    """Whether process ``pid`` holds a flock on ``path`` (Linux /proc/locks)."""
    try:
        inode = path.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        fields = [f for f in line.split() if f != "->"]
        if (
            len(fields) >= 6
            and fields[1] == "FLOCK"
            and int(fields[4]) == pid
            and int(fields[5].rsplit(":", 1)[-1]) == inode
        ):
            return True
    return False


def _one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# Concurrent builds


@pytest.mark.integration
def test_second_build_exits_with_one_line_while_the_lock_is_held(tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(SEEDS, index, settings=HASH)
    before = current_generation(index)
    with build_lock(index):  # a build in another process, as far as `qa build` can tell
        done = run_qa(
            tmp_path, "build", "--full", "--corpus", str(SEEDS), "--index", str(index), "-q"
        )
    assert done.returncode == 1
    line = _one_line_error(done.stderr)
    assert line == f"Error: another build is running on {index}; wait for it to finish"
    assert current_generation(index) == before and not leftovers(index)


def test_lock_is_refused_in_process_too(tmp_path: Path) -> None:
    index = tmp_path / "index"
    with build_lock(index), pytest.raises(BuildInProgressError, match="wait for it to finish"):
        build_index(SEEDS, index, settings=HASH)


@pytest.mark.integration
@pytest.mark.slow
def test_two_builds_at_once_never_interleave(big_corpus: Path, tmp_path: Path) -> None:
    """Build A holds the lock; build B, started meanwhile, exits at once with one line while A
    runs on; A completes alone: one generation, every file of the corpus, nothing left over."""
    if not Path("/proc/locks").exists():
        pytest.skip("needs /proc/locks to see when the first build holds its lock")
    index = tmp_path / "index"
    cmd = qa_cmd("build", "--corpus", str(big_corpus), "--index", str(index), "-q")
    first = subprocess.Popen(
        cmd, env=env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not _holds_flock(first.pid, index / ".lock"):
            assert first.poll() is None, "the first build ended before it was seen holding the lock"
            assert time.monotonic() < deadline, "the first build never took the lock"
            time.sleep(0.02)
        second = subprocess.run(
            cmd, env=env(), cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        still_running = first.poll() is None
        out, err = first.communicate(timeout=180)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode == 1
    assert _one_line_error(second.stderr).endswith("wait for it to finish")
    assert still_running, "the first build should still run when the second gives up"
    assert first.returncode == 0, err
    files = len(list(big_corpus.glob("*.txt")))
    assert f"Indexed {files} files" in out
    assert [p.name for p in index.glob("gen-*")] == [current_generation(index)]
    assert not leftovers(index)
    stored = load_index(index)
    assert len(stored.documents) == files


# ---------------------------------------------------------------------------------------------
# Disk full, read-only folders


def _no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _faiss_no_space(*args: object, **kwargs: object) -> None:
    raise RuntimeError(
        "Error in void faiss::write_index(const Index*, IOWriter*, int) at index_write.cpp:499: "
        "Error: 'ret == (size * 4)' failed: write error in dense.faiss: 1 != 2 "
        "(No space left on device)"
    )


def _fail_at(where: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make one step of writing an index fail; returns the reason the error must name."""
    import faiss

    real_mkdir, real_open = Path.mkdir, Path.open

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.name.startswith(".tmp-gen-"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        real_mkdir(self, *args, **kwargs)

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == ".lock":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_open(self, *args, **kwargs)

    if where == "lock file":
        monkeypatch.setattr(Path, "open", open_)
        return os.strerror(errno.EROFS)
    if where == "generation folder":
        monkeypatch.setattr(Path, "mkdir", mkdir)
        return os.strerror(errno.EACCES)
    target: tuple[Any, str, Callable[..., None]] = {
        "vectors": (qa.indexing.index, "_save_vectors", _no_space),
        "keyword index": (KeywordIndex, "save", _no_space),
        "faiss index": (faiss, "write_index", _faiss_no_space),
        "checksums": (qa.indexing.store, "_fsync_file", _no_space),
        "generation rename": (qa.indexing.store.os, "rename", _no_space),
        "pointer swap": (qa.indexing.store.os, "replace", _no_space),
    }[where]
    monkeypatch.setattr(*target)
    return os.strerror(errno.ENOSPC)


WRITE_STEPS = [
    "lock file",
    "generation folder",
    "vectors",
    "keyword index",
    "faiss index",
    "checksums",
    "generation rename",
    "pointer swap",
]


@pytest.mark.parametrize("where", WRITE_STEPS)
def test_a_build_that_cannot_write_leaves_the_old_index(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=HASH)
    before, expected = current_generation(index), answers(index, SEED_QUESTIONS)
    (corpus / "new.txt").write_text("A new article about tandem bikes.\n", encoding="utf-8")
    reason = _fail_at(where, monkeypatch)
    with pytest.raises(IndexWriteError) as info:
        build_index(corpus, index, full=True, settings=HASH)
    monkeypatch.undo()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot write the index in {index} ({reason}); free disk space")
    assert current_generation(index) == before
    assert not leftovers(index) and len(list(index.glob("gen-*"))) == 1 + (
        where == "pointer swap"  # renamed, never made live: pruned by the next build
    )
    load_index(index)
    assert answers(index, SEED_QUESTIONS) == expected
    report = build_index(corpus, index, settings=HASH)  # space again: the next build completes
    assert report.new_files == 1 and report.embedded < report.chunks
    assert not leftovers(index) and len(list(index.glob("gen-*"))) <= KEEP_GENERATIONS


def test_cli_reports_a_full_disk_in_one_line(
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, settings=HASH)
    monkeypatch.setenv("QA_MODEL", "hash-384")
    monkeypatch.setattr(qa.indexing.index, "_save_vectors", _no_space)
    with pytest.raises(SystemExit) as done:
        main(["build", "--full", "--corpus", str(corpus), "--index", str(index), "-q"])
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert _one_line_error(err) == (
        f"Error: cannot write the index in {index} (No space left on device); free disk space "
        "or make the folder writable, then build again (the previous index is still in use)"
    )


def _ask_json(index: Path, cwd: Path) -> Any:
    done = run_qa(cwd, "ask", SEED_QUESTIONS[0], "-k", "3", "--index", str(index), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.integration
def test_file_size_limit_mid_build_is_one_line_and_old_index_stays(tmp_path: Path) -> None:
    """A real write failure in a real process: `qa build` under a 16 KiB file-size limit
    (RLIMIT_FSIZE, as a full quota would) fails writing its first large file."""
    index = tmp_path / "index"
    build_index(SEEDS, index, settings=HASH)
    before, expected = current_generation(index), _ask_json(index, tmp_path)

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))

    done = run_qa(
        tmp_path,
        "build",
        "--full",
        "--corpus",
        str(SEEDS),
        "--index",
        str(index),
        "-q",
        preexec_fn=limited,
    )
    assert done.returncode == 1
    assert _one_line_error(done.stderr).startswith(
        f"Error: cannot write the index in {index} (File too large)"
    )
    assert current_generation(index) == before and not leftovers(index)
    assert _ask_json(index, tmp_path) == expected


def _in_own_mount_namespace(script: str, tmp_path: Path, **variables: str) -> int:
    """Run a shell script in a private mount namespace (its mounts vanish with it); skips the
    test where this machine does not allow one."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) for a private mount namespace")
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env={**env(), "PY": sys.executable, **variables},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode == 97 or "Operation not permitted" in done.stderr:
        pytest.skip(f"mounting is not allowed here: {done.stderr.strip()[:200]}")
    return done.returncode


@pytest.mark.integration
def test_really_full_disk(tmp_path: Path) -> None:
    """A 4 MiB tmpfs filled to the last byte: the rebuild fails with one line naming the full
    disk, and the old index, on that disk, answers as before."""
    (tmp_path / "disk").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    script = """
mount -t tmpfs -o size=4m qa-full "$DISK" || exit 97
cd "$OUT"
$PY -m qa build --corpus "$CORPUS" --index "$DISK/index" -q > build1.out 2> build1.err
echo $? > build1.rc
$PY -m qa ask "$Q" -k 3 --index "$DISK/index" --json > before.json
dd if=/dev/zero of="$DISK/filler" bs=64k 2> /dev/null
df -k "$DISK" | tail -1 > df
$PY -m qa build --full --corpus "$CORPUS" --index "$DISK/index" -q > build2.out 2> build2.err
echo $? > build2.rc
$PY -m qa ask "$Q" -k 3 --index "$DISK/index" --json > after.json
ls -a "$DISK/index" > listing
"""
    _in_own_mount_namespace(
        script,
        tmp_path,
        DISK=str(tmp_path / "disk"),
        OUT=str(out),
        CORPUS=str(SEEDS),
        Q=SEED_QUESTIONS[0],
    )
    assert (out / "build1.rc").read_text().strip() == "0", (out / "build1.err").read_text()
    assert (out / "df").read_text().split()[3] == "0", "the disk was not full"
    assert (out / "build2.rc").read_text().strip() == "1"
    line = _one_line_error((out / "build2.err").read_text())
    assert "(No space left on device); free disk space" in line, line
    before = json.loads((out / "before.json").read_text())
    assert json.loads((out / "after.json").read_text()) == before and before["passages"]
    assert not [n for n in (out / "listing").read_text().split() if n.startswith(".tmp-gen-")]


@pytest.mark.integration
def test_read_only_index_folder(tmp_path: Path) -> None:
    """The index folder read-only (a read-only bind mount: chmod does not stop root): the
    build fails with one line, and the index still answers."""
    index = tmp_path / "index"
    build_index(SEEDS, index, settings=HASH)
    before, expected = current_generation(index), _ask_json(index, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    if os.geteuid() != 0:  # an ordinary user: the folder's mode is enough
        index.chmod(0o555)
        try:
            done = run_qa(
                tmp_path, "build", "--full", "--corpus", str(SEEDS), "--index", str(index), "-q"
            )
        finally:
            index.chmod(0o755)
        rc, err = done.returncode, done.stderr
    else:
        script = """
mount --bind "$INDEX" "$INDEX" && mount -o remount,bind,ro "$INDEX" || exit 97
touch "$INDEX/probe" 2> /dev/null && exit 98
$PY -m qa build --full --corpus "$CORPUS" --index "$INDEX" -q 2> "$OUT/err"
"""
        rc = _in_own_mount_namespace(
            script, tmp_path, INDEX=str(index), OUT=str(out), CORPUS=str(SEEDS)
        )
        assert rc != 98, "the bind mount was not read-only"
        err = (out / "err").read_text()
    assert rc == 1
    line = _one_line_error(err)
    assert line.startswith(f"Error: cannot write the index in {index} (") and "writable" in line
    assert "Read-only file system" in line or "Permission denied" in line
    assert current_generation(index) == before
    assert _ask_json(index, tmp_path) == expected


# ---------------------------------------------------------------------------------------------
# Killed builds


def _kill_during(
    corpus: Path, index: Path, phase: str, at: float, cwd: Path
) -> tuple[str, int, float]:
    """Start `qa build`; SIGKILL it once ``phase`` is a fraction ``at`` done. Returns the last
    phase it reported, its exit code and how long it ran. The build is a full one (every file
    re-read, re-chunked and re-embedded), except for a kill while writing: there an
    incremental build, which reaches the writing sooner (nothing to embed), writes the same
    (a file is touched first: with nothing changed, nothing would be written)."""
    cmd = [sys.executable, str(OBSERVED), "build", "--corpus", str(corpus), "--index", str(index)]
    cmd += ["-q"] if phase == "write" else ["-q", "--full"]
    if phase == "write":  # a touched file is read again and a generation written
        min(p for p in corpus.iterdir() if p.is_file()).touch()
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    last, write_events = "start", 0
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if not line.startswith("@phase "):
                continue
            _, name, done, total = line.split()
            last = name
            write_events += name == "write"
            if name != phase:
                continue
            if (phase == "write" and write_events >= at * 8) or (
                phase != "write" and int(done) >= at * int(total)
            ):
                proc.send_signal(signal.SIGKILL)
                break
            if time.monotonic() - start > 120:
                break
    finally:
        if proc.poll() is None and time.monotonic() - start > 120:
            proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
    return last, proc.returncode, time.monotonic() - start


def _kill_series(
    corpus: Path,
    index: Path,
    questions: tuple[str, ...],
    kills: int,
    rng: random.Random,
    cwd: Path,
) -> dict[str, int]:
    """Build once, then kill ``kills`` rebuilds at random moments of the read, embed and write
    phases in turn. After each kill the live index verifies, loads and answers exactly
    as before, the lock is free, and disk use stays bounded; after the series the next build
    completes, reuses every embedding and leaves nothing behind. Returns kills by phase."""
    build_index(corpus, index, settings=HASH)
    expected = answers(index, questions)
    one_generation = disk_use(index)
    by_phase: dict[str, int] = {}
    tries = 0
    while sum(by_phase.values()) < kills:
        tries += 1
        assert tries <= 3 * kills, f"only {by_phase} kills landed in {tries} tries"
        phase = ("read", "embed", "write")[tries % 3]
        at = rng.random()
        before = current_generation(index)
        last, rc, _ = _kill_during(corpus, index, phase, at, cwd)
        context = f"kill {tries} ({phase} at {at:.2f}, last seen {last}, exit {rc})"
        if rc == -signal.SIGKILL:
            by_phase[last] = by_phase.get(last, 0) + 1
        else:
            assert rc == 0, context  # it finished before the kill landed
        live = current_generation(index)
        # Killed before the pointer swap: the old generation; after it: a complete new one.
        assert live == before or rc == 0 or last == "write", context
        load_index(index)  # every file verifies against its checksum
        assert answers(index, questions) == expected, context
        with build_lock(index):  # the dead build's lock died with it
            pass
        assert not leftovers(index), context  # taking the lock cleared them
        assert disk_use(index) <= (KEEP_GENERATIONS + 2) * one_generation * 1.1, context
    report = build_index(corpus, index, settings=HASH)
    assert report.embedded == 0 and report.reused == report.chunks  # nothing re-embedded
    assert answers(index, questions) == expected
    assert not leftovers(index) and len(list(index.glob("gen-*"))) <= KEEP_GENERATIONS
    assert disk_use(index) <= KEEP_GENERATIONS * one_generation * 1.1
    return by_phase


@pytest.fixture
def kill_rng() -> random.Random:
    seed = int(os.environ.get("QA_KILL_SEED", "14"))
    return random.Random(seed)


@pytest.mark.integration
@pytest.mark.slow
def test_killed_builds_never_hurt_the_index(
    big_corpus: Path, corpus: Path, tmp_path: Path, kill_rng: random.Random
) -> None:
    """At least 20 SIGKILLs at random moments of `qa build`: 9 on 2,000 SciFact abstracts
    (3 each in reading, embedding and writing) and 11 on the seed articles."""
    started = time.monotonic()
    big = _kill_series(big_corpus, tmp_path / "big", SCIFACT_QUESTIONS, 9, kill_rng, tmp_path)
    small = _kill_series(corpus, tmp_path / "seeds", SEED_QUESTIONS, 11, kill_rng, tmp_path)
    seconds = time.monotonic() - started
    print(f"\nkills: SciFact {big}, seeds {small}; {seconds:.0f}s")
    assert sum(big.values()) + sum(small.values()) >= 20
    for phase in ("read", "embed", "write"):
        assert big.get(phase, 0) >= 2, f"too few kills while {phase}ing: {big}"


@pytest.mark.integration
@pytest.mark.slow
def test_a_build_killed_at_80_percent_resumes(big_corpus: Path, tmp_path: Path) -> None:
    """`qa build --full` on 2,000 SciFact abstracts, SIGKILLed once 80% of its texts are
    embedded: the next `qa build --full` takes the saved batches back, embeds only the rest,
    answers like an uninterrupted build and leaves no checkpoint behind."""
    index = tmp_path / "index"
    last, rc, _ = _kill_during(big_corpus, index, "embed", 0.8, tmp_path)
    assert (last, rc) == ("embed", -signal.SIGKILL)
    assert current_generation(index) is None  # nothing was live, and nothing half-written is
    done = run_qa(
        tmp_path,
        "build",
        "--full",
        "--json",
        "--corpus",
        str(big_corpus),
        "--index",
        str(index),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    texts = report["embedded"] + report["embedded_sentences"]
    # The kill lands as soon as the progress line is read: the texts gathered for the next
    # save, and those of the save being written (in its thread), are lost.
    assert report["resumed"] >= 0.8 * texts - 2 * qa.indexing.checkpoint.BATCH_TEXTS, report[
        "resumed"
    ]
    assert not (index / qa.indexing.checkpoint.FOLDER).exists()
    build_index(big_corpus, tmp_path / "clean", settings=HASH)
    assert answers(index, SCIFACT_QUESTIONS) == answers(tmp_path / "clean", SCIFACT_QUESTIONS)
    print(f"\nresumed {report['resumed']} of {texts} texts")


# ---------------------------------------------------------------------------------------------
# Rebuild while serving


NEW_ARTICLE = (
    "Zeppelin airship over the peloton\n\n"
    "A zeppelin airship flew over the peloton during the final stage of the Tour.\n"
    "The zeppelin airship carried television cameras above the riders.\n"
)


@pytest.mark.integration
@pytest.mark.slow
def test_rebuild_while_serving(corpus: Path, tmp_path: Path) -> None:
    """Five clients ask in a loop while a full rebuild runs: no errors, and every answer is
    the old index's or the new one's; once the rebuild is done, answers are the new ones."""
    from gradio_client import Client

    index = tmp_path / "index"
    build_index(corpus, index, settings=HASH)
    questions = (*SEED_QUESTIONS, "zeppelin airship over the peloton")
    old = dict(zip(questions, answers(index, questions), strict=True))
    replies: list[tuple[str, dict[str, Any], float]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    with running_app(index, tmp_path) as app:

        def client(offset: int) -> None:
            try:
                c = Client(app.url, verbose=False)
                i = offset
                while not stop.is_set():
                    question = questions[i % len(questions)]
                    sent = time.monotonic()
                    replies.append((question, c.predict(question, 3, api_name="/ask"), sent))
                    i += 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(5)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(replies) < 10 and not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        (corpus / "zeppelin.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        rebuild_started = time.monotonic()
        rebuild = run_qa(
            tmp_path, "build", "--full", "--corpus", str(corpus), "--index", str(index), "-q"
        )
        rebuilt_at = time.monotonic()
        during = len(replies)
        deadline = time.monotonic() + 60  # its own: the rebuild took part of the first one
        while len(replies) < during + 20 and not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert rebuild.returncode == 0, rebuild.stderr
    assert not errors, errors
    assert len(replies) >= during + 20, "the chat stopped answering after the rebuild"
    new = dict(zip(questions, answers(index, questions), strict=True))
    assert old[questions[-1]] != new[questions[-1]]  # the rebuild changes an answer
    for question, reply, sent in replies:
        assert reply in (old[question], new[question]), question
        if sent > rebuilt_at:
            assert reply == new[question], "an answer from the old index after the switch"
    assert any(sent > rebuilt_at for _, _, sent in replies)
    overlapping = sum(rebuild_started <= sent <= rebuilt_at for _, _, sent in replies)
    assert overlapping, "no question was asked while the rebuild ran"
    print(f"\n{len(replies)} answers, {overlapping} asked during the rebuild, none failed")


def test_one_answer_comes_from_one_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild that lands while a question is being answered: the answer is wholly the old
    index's (its citations' sections included), never a mix of the two."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    old_text = "# Old heading\n\nThe zeppelin airship flew over the peloton at noon.\n"
    (corpus / "notes.md").write_text(old_text, encoding="utf-8")
    index = tmp_path / "index"
    build_index(corpus, index, settings=HASH)
    question = "zeppelin airship peloton"
    expected = ask(question, k=1, index_dir=index, settings=HASH)
    assert expected.citations and expected.citations[0].section == "Old heading"
    real_choose = qa.answer.extractive.choose
    rebuilt: list[str] = []

    def choose_then_rebuild(*args: Any, **kwargs: Any) -> Any:
        if not rebuilt:  # same offsets, another heading: a mix would show "New heading"
            (corpus / "notes.md").write_text(old_text.replace("Old", "New"), encoding="utf-8")
            rebuilt.append(build_index(corpus, index, settings=HASH).generation)
        return real_choose(*args, **kwargs)

    monkeypatch.setattr(qa.answer.extractive, "choose", choose_then_rebuild)
    got = ask(question, k=1, index_dir=index, settings=HASH)
    assert rebuilt and current_generation(index) == rebuilt[0]
    assert got == expected
    monkeypatch.undo()
    assert ask(question, k=1, index_dir=index, settings=HASH).citations[0].section == (
        "New heading"
    )


# ---------------------------------------------------------------------------------------------
# Signals: SIGINT and SIGTERM stop a command cleanly, however it was started


def _as_background_job() -> None:
    """What a background job of a non-interactive shell inherits: SIGINT ignored (Python then
    installs no Ctrl-C handler of its own)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _signal_mid_build(corpus: Path, index: Path, sig: int, cwd: Path) -> tuple[int | None, str]:
    """`qa build --full` started as a background job; ``sig`` once a tenth of it is read."""
    cmd = [sys.executable, str(OBSERVED), "build", "--corpus", str(corpus), "--index", str(index)]
    proc = subprocess.Popen(
        [*cmd, "-q", "--full"], env=env(), cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=_as_background_job,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("@phase read"):
            _, _, done, total = line.split()
            if int(done) * 10 >= int(total):
                proc.send_signal(sig)
                break
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGINT, 130, "Aborted."), (signal.SIGTERM, 143, "Stopped.")],
)
def test_a_signal_mid_build_stops_it_and_the_live_index_stays(
    big_corpus: Path, tmp_path: Path, sig: int, code: int, said: str
) -> None:
    index = tmp_path / "index"
    build_index(big_corpus, index, settings=HASH)
    before, expected = current_generation(index), answers(index, SCIFACT_QUESTIONS)
    rc, err = _signal_mid_build(big_corpus, index, sig, tmp_path)
    assert rc == code, err
    assert err.strip().splitlines()[-1] == said  # one line, no traceback
    assert "Traceback" not in err
    assert current_generation(index) == before
    assert answers(index, SCIFACT_QUESTIONS) == expected
    with build_lock(index):  # the stopped build let its lock go; taking it clears what it left
        pass
    assert not leftovers(index)


@pytest.mark.integration
def test_sigterm_closes_the_web_server(tmp_path: Path) -> None:
    from appserver import free_port

    index = tmp_path / "index"
    build_index(SEEDS, index, settings=HASH)
    port = free_port()
    proc = subprocess.Popen(
        qa_cmd("serve", "--index", str(index), "--port", str(port)), env=env(), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_as_background_job,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "Traceback" not in out
