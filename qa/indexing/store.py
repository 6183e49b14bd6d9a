"""Generations of an index folder: written atomically, one live, checked against checksums.

Layout of ``index/``::

    CURRENT                 name of the live generation (replaced atomically)
    .lock                   held by a running build
    checkpoint/             embeddings saved by a running or killed build (qa.indexing.checkpoint)
    gen-<time>-<id>/        one complete, immutable index (its files: qa.indexing.index)
        manifest.json       what the generation holds (qa.indexing.manifest), with the size and
        sha256
                            of every other file in it

A build writes a new generation next to the live one and then swaps ``CURRENT``; a build that
dies half-way leaves the previous generation live. What goes into a generation, and how it is
read, is qa.indexing.index's business; this module knows folders, the lock and checksums only.

Checks. The manifest records each file's size, modification time and sha256 when it was
written. Loading (``check``) compares sizes and times, which costs nothing whatever the index's
size: a truncated, extended, replaced or rewritten file is caught before its bytes are read,
and a file whose time moved but whose size did not is hashed in full. ``verify`` (``qa
verify``) hashes every file: it also catches bytes flipped in place with the time put back,
which only deliberate tampering or a failing disk does.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import (
    BuildInProgressError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexWriteError,
    QAError,
)
from .manifest import FILE as MANIFEST
from .manifest import Artifact, Manifest

CURRENT = "CURRENT"
TEXTS = "texts"
KEEP_GENERATIONS = 2
_REBUILD = "rebuild with `qa build --full`"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's build lock, or raise BuildInProgressError. Holding it, remove
    what killed builds left half-written."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        f = (index_dir / ".lock").open("a+")
    except OSError as exc:
        raise write_error(index_dir, exc) from exc
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildInProgressError(
                f"another build is running on {index_dir}; wait for it to finish"
            ) from exc
        for leftover in index_dir.glob(".tmp-gen-*"):  # of killed builds: no build runs now
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def write_error(index_dir: Path, exc: OSError) -> IndexWriteError:
    """The error of a failed write into index_dir (disk full, read-only folder)."""
    return IndexWriteError(
        f"cannot write the index in {index_dir} ({exc.strerror or exc}); free disk space or "
        "make the folder writable, then build again (the previous index is still in use)"
    )


def current_generation(index_dir: Path) -> str | None:
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {index_dir / CURRENT}: {exc}") from exc
    return name or None


def _artifact(path: Path) -> Artifact:
    """A written file's size, modification time and sha256, once it is synced to disk."""
    _fsync_file(path)
    stat = path.stat()
    return Artifact(stat.st_size, _sha256(path), stat.st_mtime_ns)


def _artifacts(
    folder: Path, live: Path | None = None, known: Mapping[str, Artifact] | None = None
) -> dict[str, Artifact]:
    """Size, modification time and sha256 of every file below folder, each synced to disk:
    several files at once (hashlib and fsync release the GIL), the largest first. A file
    that is a link to the same file of the ``live`` generation (a stored text a rebuild
    kept) takes the checksum that generation's manifest records (``known``): it was synced
    and hashed when first written, and is never changed (measured: a 1% rebuild of 5,000
    web pages spent 1.0 s of its 2.7 s syncing and hashing 5,000 stored texts again)."""
    files = {p: p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    found: dict[Path, Artifact] = {}
    if live is not None and known:
        for path, rel in files.items():
            recorded = known.get(rel)
            if recorded is not None and _same_file(path, live / rel, recorded):
                found[path] = recorded
    paths = sorted((p for p in files if p not in found), key=lambda p: -p.stat().st_size)
    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
        found.update(zip(paths, pool.map(_artifact, paths), strict=True))
    return {files[path]: found[path] for path in sorted(files)}


def _live_files(index_dir: Path) -> tuple[Path | None, Mapping[str, Artifact]]:
    """The live generation's folder and the files its manifest records (none: no readable
    live generation)."""
    try:
        generation, manifest = read_manifest(index_dir)
    except QAError:
        return None, {}
    return index_dir / generation, manifest.artifacts


def _same_file(path: Path, other: Path, recorded: Artifact) -> bool:
    """Whether path is a link to the file other, which is as recorded (size and time)."""
    try:
        mine, theirs = path.stat(), other.stat()
    except OSError:
        return False
    same = (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)
    return same and (mine.st_size, mine.st_mtime_ns) == (recorded.bytes, recorded.mtime_ns)


def write_generation(index_dir: Path, manifest: Manifest, write: Callable[[Path], None]) -> str:
    """Make a new generation live: ``write(folder)`` fills it, then the manifest (with every
    file's checksum) goes in, and ``CURRENT`` is swapped. Returns the generation's name."""
    # Microseconds: names sort in the order builds finished, even several in one second.
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    generation = f"gen-{stamp}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".tmp-{generation}"
    try:
        tmp.mkdir(parents=True)
        write(tmp)
        complete = manifest.with_files(generation, _artifacts(tmp, *_live_files(index_dir)))
        (tmp / MANIFEST).write_text(complete.to_json(), "utf-8")
        _fsync_file(tmp / MANIFEST)
        _fsync_dir(tmp)
        os.rename(tmp, index_dir / generation)
        pointer = index_dir / f".{CURRENT}.tmp"
        pointer.write_text(generation + "\n", encoding="utf-8")
        _fsync_file(pointer)
        os.replace(pointer, index_dir / CURRENT)
        _fsync_dir(index_dir)
    except OSError as exc:  # disk full, read-only folder: the previous index stays live
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(index_dir, exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(index_dir, generation)
    return generation


def _prune(index_dir: Path, live: str) -> None:
    """Remove leftovers of dead builds and all but the newest KEEP_GENERATIONS generations."""
    for tmp in index_dir.glob(".tmp-gen-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    gens = sorted((p for p in index_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.name)
    keep = {live} | {p.name for p in gens[-KEEP_GENERATIONS:]}
    for p in gens:
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def read_manifest(index_dir: Path) -> tuple[str, Manifest]:
    """The live generation's name and manifest. Raises if there is no valid index."""
    if not index_dir.is_dir():
        raise IndexNotFoundError(f"no index at {index_dir}: build one with `qa build`")
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexNotFoundError(f"no index at {index_dir}: build one with `qa build`")
    path = index_dir / generation / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise IndexCorruptError(
            f"index {index_dir} is damaged: {generation}/{MANIFEST} is missing; {_REBUILD}"
        ) from exc
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"index {index_dir} is damaged: {MANIFEST} is unreadable ({exc}); {_REBUILD}"
        ) from exc
    return generation, Manifest.from_json(text, str(index_dir))


def read_stored_text(gen_dir: Path, name: str, sha256: str) -> str:
    """A document's extracted text as the generation stores it, checked against its hash."""
    path = gen_dir / TEXTS / name
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"index {gen_dir.parent} is damaged: {TEXTS}/{name} is unreadable ({exc}); {_REBUILD}"
        ) from exc
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != sha256:
        raise IndexCorruptError(
            f"index {gen_dir.parent} is damaged: {TEXTS}/{name} fails its checksum; {_REBUILD}"
        )
    return text


def _problem(path: Path, artifact: Artifact, full: bool) -> str | None:
    """What is wrong with one file of a generation (None: nothing found)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return "is missing"
    if stat.st_size != artifact.bytes:
        return f"has {stat.st_size} bytes, expected {artifact.bytes}"
    if (full or stat.st_mtime_ns != artifact.mtime_ns) and _sha256(path) != artifact.sha256:
        return "fails its checksum"
    return None


def _check_files(gen_dir: Path, manifest: Manifest, full: bool) -> None:
    if not manifest.artifacts:
        raise IndexCorruptError(f"index {gen_dir.parent} is damaged: manifest lists no files")
    for rel, artifact in manifest.artifacts.items():
        problem = _problem(gen_dir / rel, artifact, full)
        if problem:
            raise IndexCorruptError(
                f"index {gen_dir.parent} is damaged: {rel} {problem}; {_REBUILD}"
            )


def check(gen_dir: Path, manifest: Manifest) -> None:
    """The check made on every load: each file is there with the size it was written with;
    a file whose modification time moved is hashed in full."""
    _check_files(gen_dir, manifest, full=False)


def verify(gen_dir: Path, manifest: Manifest) -> None:
    """Hash every file of the generation and compare it with the manifest (``qa verify``)."""
    _check_files(gen_dir, manifest, full=True)
