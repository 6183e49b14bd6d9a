"""Checks of a generation's files: sizes and times on every load, every checksum on `qa verify`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import qa.indexing.store
from qa import Settings, build_index, search
from qa.api import verify_index
from qa.errors import IndexCorruptError
from qa.indexing.manifest import Artifact, Manifest, ModelInfo
from qa.indexing.store import current_generation, read_manifest, verify, write_generation


def _flip(path: Path, keep_time: bool) -> None:
    """Change one byte in the middle of a file, its size unchanged; optionally put its
    modification time back, as only tampering or a failing disk would."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if keep_time:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.fixture
def index(corpus: Path, tmp_path: Path, hash_settings: Settings) -> Path:
    build_index(corpus, tmp_path / "index", settings=hash_settings)
    return tmp_path / "index"


def test_verify_passes_on_a_sound_index(index: Path) -> None:
    checked = verify_index(index)
    assert checked["generation"] == current_generation(index)
    assert checked["files"] >= 10 and checked["bytes"] > 0


def test_a_rewritten_file_is_hashed_on_load(index: Path, hash_settings: Settings) -> None:
    _flip(index / str(current_generation(index)) / "vectors.npy", keep_time=False)
    with pytest.raises(IndexCorruptError, match=r"vectors\.npy fails its checksum; rebuild"):
        search("Cavendish", index_dir=index, settings=hash_settings)


def test_bytes_flipped_with_the_time_put_back_are_found_by_verify(
    index: Path, hash_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from qa.cli import main

    _flip(index / str(current_generation(index)) / "sentence_vectors.npy", keep_time=True)
    # Loading checks sizes and times only (documented): the query still runs.
    assert search("Cavendish", index_dir=index, settings=hash_settings)
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "--index", str(index)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "sentence_vectors.npy fails its checksum" in err and "qa build --full" in err


def test_cli_verify_reports_a_sound_index(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    main(["verify", "--index", str(index)])
    assert "every checksum matches" in capsys.readouterr().out


def _generation(index_dir: Path, files: dict[str, bytes], linked: dict[str, Path]) -> str:
    """A generation holding files written anew and files linked from elsewhere."""
    manifest = Manifest("now", "corpus", ModelInfo("m", 3), {}, {}, 0)

    def write(folder: Path) -> None:
        for name, data in files.items():
            (folder / name).write_bytes(data)
        for name, source in linked.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            os.link(source, folder / name)

    return write_generation(index_dir, manifest, write)


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files a generation syncs and hashes, as it writes them."""
    names: list[str] = []
    artifact = qa.indexing.store._artifact

    def counted(path: Path) -> Artifact:
        names.append(path.name)
        return artifact(path)

    monkeypatch.setattr(qa.indexing.store, "_artifact", counted)
    return names


def test_a_file_linked_from_the_live_generation_keeps_its_recorded_checksum(
    tmp_path: Path, hashed: list[str]
) -> None:
    """A rebuild links the stored texts it keeps: their checksums are taken from the live
    generation's manifest, not synced and hashed again; other files are hashed."""
    index = tmp_path / "index"
    kept = tmp_path / "kept.txt"
    kept.write_text("a stored text")
    first = _generation(index, {"a.bin": b"one"}, {"texts/kept.txt": kept})
    old = index / first / "texts" / "kept.txt"
    copied = tmp_path / "copied.txt"  # the same bytes, but not the live generation's file
    copied.write_bytes(old.read_bytes())
    hashed.clear()
    second = _generation(
        index, {"a.bin": b"two"}, {"texts/kept.txt": old, "texts/copy.txt": copied}
    )
    assert sorted(hashed) == ["a.bin", "copy.txt"]  # names in the new generation
    _, manifest = read_manifest(index)
    before = Manifest.from_json((index / first / "manifest.json").read_text(), str(index))
    assert manifest.generation == second
    assert manifest.artifacts["texts/kept.txt"] == before.artifacts["texts/kept.txt"]
    verify(index / second, manifest)  # every checksum holds


def test_a_linked_file_whose_time_moved_is_hashed_again(tmp_path: Path, hashed: list[str]) -> None:
    index = tmp_path / "index"
    kept = tmp_path / "kept.txt"
    kept.write_text("a stored text")
    first = _generation(index, {}, {"texts/kept.txt": kept})
    old = index / first / "texts" / "kept.txt"
    os.utime(old, ns=(0, old.stat().st_mtime_ns + 10**9))  # no longer as the manifest says
    hashed.clear()
    _generation(index, {}, {"texts/kept.txt": old})
    assert hashed == ["kept.txt"]
