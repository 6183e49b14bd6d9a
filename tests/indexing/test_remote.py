"""`qa build --ray`: Ray Data embeds what the checkpoint lacks (qa.indexing.remote), on a local
Ray of 2 CPUs started once for the module. A build through Ray gives the index a local build
gives, survives a worker that dies, and resumes after a killed driver."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.cli import main
from qa.config import RAY_LOCAL, Settings
from qa.encode.embedding import Embedder
from qa.errors import ClusterError, ConfigError, ModelError
from qa.indexing import checkpoint, remote
from qa.indexing.build import build_index
from qa.indexing.checkpoint import FOLDER
from qa.indexing.index import StoredIndex, load_index
from qa.types import BuildReport

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
SCIFACT = ROOT.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
HASH = Settings(model="hash-384")
ON_RAY = HASH.with_(ray_address=RAY_LOCAL)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A local Ray of 2 CPUs for the module; builds find it started and use it."""
    ray = pytest.importorskip("ray")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    options: dict[str, Any] = {
        "num_cpus": 2,
        "include_dashboard": False,
        "log_to_driver": False,
        "runtime_env": {"env_vars": {"PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}},
    }
    try:
        ray.init(**options)
    except Exception:  # seen once in a full run: "The current node timed out during startup"
        ray.shutdown()  # (Ray gives its raylet 30 s); a second start is the test's, not Ray's
        ray.init(**options)
    # The test classes below travel to the workers by value: they cannot import this module.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def scifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 SciFact abstracts as .txt files (title, blank line, abstract)."""
    if not SCIFACT.exists():
        pytest.skip(f"no SciFact at {SCIFACT}")
    corpus = tmp_path_factory.mktemp("scifact")
    with SCIFACT.open(encoding="utf-8") as f:
        for _, line in zip(range(300), f, strict=False):
            doc = json.loads(line)
            text = f"{doc['title']}\n\n{doc['text']}\n"
            (corpus / f"{doc['_id']}.txt").write_text(text, encoding="utf-8")
    return corpus


def _chunks(index: StoredIndex) -> list[str]:
    return [index.chunks.text(row) for row in range(len(index.chunks))]


def _same_index(got: Path, want: Path) -> tuple[StoredIndex, StoredIndex]:
    a, b = load_index(got), load_index(want)
    assert _chunks(a) == _chunks(b) and len(a.chunks) > 0
    assert a.sentence_spans.tolist() == b.sentence_spans.tolist()
    return a, b


@pytest.fixture
def fed_locally(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts that the build's own process embeds (qa.indexing.checkpoint's feed)."""
    fed: list[str] = []
    original = checkpoint.encode_stream

    def spy(embedder: Embedder, texts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        fed.extend(texts)
        return original(embedder, texts, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "encode_stream", spy)
    return fed


@pytest.mark.parametrize("corpus_name", ["seeds", "scifact"])
def test_a_build_through_ray_gives_the_local_index(
    ray_cluster: Any,
    corpus_name: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fed_locally: list[str],
) -> None:
    corpus = SEEDS if corpus_name == "seeds" else request.getfixturevalue("scifact")
    local = build_index(corpus, tmp_path / "local", settings=HASH)
    fed_locally.clear()
    steps: list[tuple[int, int]] = []
    report = build_index(
        corpus, tmp_path / "ray", settings=ON_RAY, progress=lambda *step: steps.append(step)
    )
    assert fed_locally == []  # every vector came from Ray, through the checkpoint
    assert (report.chunks, report.embedded, report.embedded_sentences, report.resumed) == (
        local.chunks,
        local.embedded,
        local.embedded_sentences,
        0,
    )
    a, b = _same_index(tmp_path / "ray", tmp_path / "local")
    assert np.array_equal(a.vectors[:], b.vectors[:])  # the same batches: the same bytes
    assert np.array_equal(a.sentence_vectors[:], b.sentence_vectors[:])
    total = local.embedded + local.embedded_sentences
    ray_steps = steps[: steps.index((total, total)) + 1]  # then the build takes them back
    assert len(ray_steps) > 4 and ray_steps == sorted(ray_steps)  # a block at a time
    assert steps[-1] == (total, total)
    assert not (tmp_path / "ray" / FOLDER).exists()


class Dying(remote.EmbedActor):
    """An actor whose first call, across every actor, kills its process."""

    marker = Path()

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.marker.exists():
            self.marker.touch()
            os._exit(1)
        return super().__call__(rows)


def test_a_worker_that_dies_loses_only_its_block(
    ray_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Dying, "marker", tmp_path / "died")
    monkeypatch.setattr(remote, "EmbedActor", Dying)
    build_index(SEEDS, tmp_path / "ray", settings=ON_RAY)
    assert (tmp_path / "died").exists()
    build_index(SEEDS, tmp_path / "local", settings=HASH)
    a, b = _same_index(tmp_path / "ray", tmp_path / "local")
    assert np.array_equal(a.vectors[:], b.vectors[:])
    assert np.array_equal(a.sentence_vectors[:], b.sentence_vectors[:])


class Killed(Exception):
    pass


def test_a_killed_driver_resumes_from_the_checkpoint(
    ray_cluster: Any, tmp_path: Path, fed_locally: list[str]
) -> None:
    index = tmp_path / "ray"
    calls = 0

    def dies(done: int, total: int) -> None:  # the build dies once two blocks are filed
        nonlocal calls
        calls += 1
        if calls == 4:
            raise Killed

    with pytest.raises(Killed):
        build_index(SEEDS, index, settings=ON_RAY, progress=dies)
    assert len(list((index / FOLDER).glob("batch-*.bin"))) == 2
    report = build_index(SEEDS, index, settings=ON_RAY)
    assert 0 < report.resumed < report.embedded + report.embedded_sentences
    assert fed_locally == []
    build_index(SEEDS, tmp_path / "local", settings=HASH)
    a, b = _same_index(index, tmp_path / "local")
    assert np.array_equal(a.sentence_vectors[:], b.sentence_vectors[:])


class Failing(remote.EmbedActor):
    """An actor whose model does not load."""

    def __init__(self, *args: Any) -> None:
        raise ModelError("no such model here")


def test_actors_that_fail_end_the_build_in_one_line(
    ray_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "EmbedActor", Failing)
    with pytest.raises(ClusterError, match=r"^embedding on Ray failed: .*no such model here"):
        build_index(SEEDS, tmp_path / "ray", settings=ON_RAY)
    assert not (tmp_path / "ray" / "CURRENT").exists()


@pytest.mark.slow
def test_the_real_model_through_ray_gives_the_local_vectors(
    ray_cluster: Any, scifact: Path, tmp_path: Path
) -> None:
    """40 SciFact abstracts with all-MiniLM-L6-v2: the same chunks, vectors within a cosine
    of 0.9999 (the same batches; the actors compute with a thread each)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(scifact.iterdir())[:40]:
        (corpus / path.name).write_bytes(path.read_bytes())
    settings = Settings()
    build_index(corpus, tmp_path / "local", settings=settings)
    build_index(corpus, tmp_path / "ray", settings=settings.with_(ray_address=RAY_LOCAL))
    a, b = _same_index(tmp_path / "ray", tmp_path / "local")
    for got, want in ((a.vectors[:], b.vectors[:]), (a.sentence_vectors[:], b.sentence_vectors[:])):
        assert got.shape == want.shape
        assert float(np.einsum("ij,ij->i", got, want).min()) >= 0.9999


# ---------------------------------------------------------------------------------------------
# Faults that end the command: one line, exit code 1 (no Ray started)


def _qa(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return int(exit_.value.code or 0), capsys.readouterr().err


def test_missing_ray_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    monkeypatch.setenv("QA_MODEL", "hash-384")
    code, err = _qa(capsys, "build", "--corpus", str(SEEDS), "--index", str(tmp_path), "--ray")
    assert code == 1
    assert err == "Error: embedding on Ray needs Ray: pip install 'qa[ray]'\n"
    assert not (tmp_path / "CURRENT").exists()
    phases: list[str] = []  # said before a file is read
    with pytest.raises(ClusterError, match="needs Ray"):
        build_index(SEEDS, tmp_path, settings=ON_RAY, phases=lambda *step: phases.append(step[0]))
    assert phases == []


def test_an_unreachable_cluster_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    monkeypatch.setenv("QA_MODEL", "hash-384")
    monkeypatch.setenv("QA_RAY_ADDRESS", "127.0.0.1:9")  # nothing listens there
    code, err = _qa(capsys, "build", "--corpus", str(SEEDS), "--index", str(tmp_path))
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("Error: the Ray cluster at 127.0.0.1:9 cannot be reached")
    code, err = _qa(capsys, "build", "--index", str(tmp_path), "--ray", "nowhere")
    assert code == 1 and err.count("\n") == 1 and "a Ray address is 'local'" in err


def test_bare_ray_means_a_local_ray(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Settings] = []

    def build(*args: Any, settings: Settings, **kwargs: Any) -> BuildReport:
        seen.append(settings)
        raise ConfigError("stop here")

    monkeypatch.setattr("qa.api.build_index", build)
    monkeypatch.delenv("QA_RAY_ADDRESS", raising=False)
    for args, address in ((["--ray"], RAY_LOCAL), (["--ray", "auto"], "auto"), ([], None)):
        assert _qa(capsys, "build", *args, "-q")[0] == 1
        assert seen.pop().ray_address == address
