"""Load articles from a corpus folder: read safely, extract text (qa.ingest.readers), clean, take
metadata.

Reading never crashes on a bad file: binary files, empty files, unreadable files, files over
the size limit, broken files and files whose reader is not installed are skipped with a
reason; text that is not valid UTF-8 is decoded as Windows-1252 with a warning. Offsets index
the document's text: the file as ``Path.read_text(encoding="utf-8")`` returns it for plain
formats (.txt, .md), the extracted text for the others (HTML, PDF, DOCX).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import CorpusError, DocumentSkipped, DocumentUnreadable
from ..types import Document
from .cleaning import clean
from .pool import Workers
from .readers import Extracted, Format, decode, format_of

__all__ = [
    "Corpus",
    "FileStat",
    "KeepFn",
    "Reading",
    "Skipped",
    "corpus_folder",
    "decode",
    "discover",
    "load_corpus",
    "load_document",
    "scan",
]

ProgressFn = Callable[[int, int], None]  # (files read so far, files to read)


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str
    failed: bool = False  # True: the file is broken or unreadable; False: left out on purpose

    def __str__(self) -> str:
        return f"{printable(self.source)}: {self.reason}"


@dataclass(frozen=True)
class FileStat:
    """A file's size and modification time, and when they were read (before its bytes)."""

    bytes: int
    mtime_ns: int
    seen_ns: int


# (source, stat): True when the caller already holds this file as it is (it is not read).
KeepFn = Callable[[str, FileStat], bool]


@dataclass(frozen=True)
class Corpus:
    root: Path
    documents: tuple[Document, ...]  # the files read
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...]
    kept: tuple[str, ...] = ()  # files not read, as ``keep`` vouched for them
    stats: Mapping[str, FileStat] = field(default_factory=dict)  # of every document and kept


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, symbolic links resolved, lies inside the (resolved) folder ``root``."""
    try:
        path.resolve(strict=True).relative_to(root)
    except (OSError, RuntimeError, ValueError):  # missing target, a link loop, outside root
        return False
    return True


def _valid_name(name: str) -> bool:
    """Whether a file name decoded from the file system is real text (not undecodable bytes,
    which Python keeps as lone surrogates that no UTF-8 file can hold)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name: str) -> str:
    """A file name fit for one line of a report: undecodable bytes become U+FFFD, and line
    breaks and other unprintable characters their escape (``\\n``)."""
    if not _valid_name(name):
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)


@dataclass(frozen=True)
class Scan:
    """What ``scan`` found under a corpus folder."""

    files: list[tuple[str, Path]]  # (source, path), in the order of their sources
    skipped: list[Skipped]  # files left out on purpose, and why
    warnings: list[str]  # about folders that were not entered
    # The size and time of each plain file (not a link) as its lstat gave them: a build
    # need not ask again.
    stats: dict[str, FileStat]

    def stat(self, source: str, path: Path) -> FileStat:
        """The size and time of a file found: as the scan saw them, or (a link) its target's
        now. Raises DocumentUnreadable."""
        return self.stats.get(source) or _stat(path)


def scan(root: Path, settings: Settings, index_dir: Path | None = None) -> Scan:
    """The article files under root, recursively, as (source, path) pairs in the order of
    their sources (the path relative to root, with ``/``), with the files left out on purpose
    (and why) and warnings about folders that were not entered. ``index_dir``, when it lies
    in the corpus, is not entered: an index's own files (its stored texts are .txt) are not
    articles, and indexing them would change the corpus with every build.

    Hidden files and folders (``.git``, ``.cache``, ``.draft.txt``) are ignored. Symbolic links
    are never followed out of the corpus: a linked file outside it is skipped with a reason, a
    linked folder is never entered (one pointing outside is warned about). Files whose name is
    not valid UTF-8, and special files (pipes, sockets, devices), are skipped with a reason.
    Names are joined as strings, and a plain file costs one ``lstat``: a large corpus has many.
    """
    exts = {e.lower() for e in settings.extensions}
    real_root = root.resolve()
    index = index_dir.resolve() if index_dir is not None else None
    files: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []
    warnings: list[str] = []
    stats: dict[str, FileStat] = {}
    # followlinks=False: a linked folder is listed in ``dirs`` but never walked into.
    for dirpath, dirs, names in os.walk(root, followlinks=False):
        here = Path(dirpath)
        folder = os.path.relpath(dirpath, root)
        prefix = "" if folder == os.curdir else folder.replace(os.sep, "/") + "/"
        kept = []
        for name in dirs:
            path = here / name
            if name.startswith("."):
                continue
            if index is not None and path.resolve() == index:
                warnings.append(
                    f"{printable(prefix + name)}: the index folder; its files are not articles, "
                    "not read"
                )
                continue
            if path.is_symlink():
                if not _inside(path, real_root):
                    warnings.append(
                        f"{printable(prefix + name)}: symbolic link to a folder outside the "
                        "corpus; not followed"
                    )
                continue
            kept.append(name)
        dirs[:] = kept
        for name in names:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in exts:
                continue
            path, rel, seen = here / name, prefix + name, time.time_ns()
            reason, st = _left_out(path, rel, real_root)
            if reason:
                skipped.append(Skipped(printable(rel), reason))
                continue
            files.append((rel, path))
            if st is not None and stat.S_ISREG(st.st_mode):
                stats[rel] = FileStat(st.st_size, st.st_mtime_ns, seen)
    files.sort(key=lambda entry: entry[0])
    skipped.sort(key=lambda s: s.source)
    return Scan(files, skipped, warnings, stats)


def _left_out(path: Path, rel: str, real_root: Path) -> tuple[str | None, os.stat_result | None]:
    """Why the file at path (``rel`` under the corpus) is left out (None: it is not), and
    its lstat."""
    if not _valid_name(rel):
        return "file name is not valid UTF-8; rename the file", None
    try:
        st: os.stat_result | None = os.lstat(path)
    except OSError:
        st = None
    mode = st.st_mode if st is not None else None
    link = mode is not None and stat.S_ISLNK(mode)
    if link and not _inside(path, real_root):
        outside = "symbolic link to a file outside the corpus; not followed"
        return (outside if path.exists() else "broken symbolic link"), st
    regular = path.is_file() if link or mode is None else stat.S_ISREG(mode)
    return (None if regular else "not a regular file (a pipe, socket or device)"), st


def discover(root: Path, settings: Settings) -> list[Path]:
    """The article files under root, recursively, in a stable order (see ``scan``)."""
    return [path for _, path in scan(root, settings).files]


def _unreadable(exc: OSError) -> DocumentUnreadable:
    return DocumentUnreadable(f"unreadable ({exc.strerror or exc})")


def _read(path: Path, settings: Settings) -> bytes:
    try:
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            raise DocumentSkipped(f"too large ({size:,} bytes; limit {settings.max_file_bytes:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(exc) from exc
    if not data.strip():
        raise DocumentSkipped("empty file")
    return data


def _extract(fmt: Format, data: bytes) -> Extracted:
    """The reader's result; any error of its library becomes DocumentUnreadable."""
    try:
        return fmt.read(data)
    except DocumentSkipped:
        raise
    except Exception as exc:  # a parser's bug on a malformed file must not stop the build
        raise DocumentUnreadable(
            f"could not be read as {fmt.name} ({type(exc).__name__}: {exc})"
        ) from exc


def load_document(path: Path, source: str, settings: Settings) -> tuple[Document, str | None]:
    """Read, extract and clean one file. Returns (document, warning).

    Raises DocumentSkipped when the file is left out, DocumentUnreadable when it is broken;
    the message says why.
    """
    data = _read(path, settings)
    fmt = format_of(path)
    got = _extract(fmt, data)
    cleaned = clean(got.text, settings.clean)
    if not cleaned.segments:
        if cleaned.removed:
            raise DocumentSkipped("no article text left after removing boilerplate")
        raise DocumentSkipped("no text besides its front matter or date line")
    doc = Document(
        source=source,
        text=got.text,
        sha256=hashlib.sha256(data).hexdigest(),
        title=got.title or cleaned.title or Path(source).stem,
        date=got.date or cleaned.date,
        segments=cleaned.segments,
        removed=cleaned.removed,
        web_page=cleaned.web_page,
        format=fmt.name,
        plain=got.plain,
        author=got.author,
        site=got.site,
        pages=got.pages,
        sections=got.sections,
    )
    return doc, got.warning


def corpus_folder(corpus_dir: str | Path) -> Path:
    """The corpus folder; raises CorpusError when it is missing or not a folder."""
    root = Path(corpus_dir).expanduser()
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder")
    return root


def _stat(path: Path) -> FileStat:
    """A file's stat, taken before its bytes are read; raises DocumentUnreadable."""
    seen = time.time_ns()
    try:
        st = path.stat()
    except OSError as exc:
        raise _unreadable(exc) from exc
    return FileStat(st.st_size, st.st_mtime_ns, seen)


# What reading a file gives: its document (or None), a warning, why it was skipped (or None),
# and what ``then`` made of the document in the same process (or None).
_Loaded = tuple[Document | None, str | None, Skipped | None, Any]
Then = Callable[[Document, Settings], Any]


def _load_one(job: tuple[Path, str, Settings, Then | None]) -> _Loaded:
    """load_document of one file, its refusal returned, and ``then`` of the document (it may
    run in a worker process)."""
    path, source, settings, then = job
    try:
        doc, warning = load_document(path, source, settings)
    except DocumentSkipped as exc:
        return None, None, Skipped(source, str(exc), isinstance(exc, DocumentUnreadable)), None
    return doc, warning, None, then(doc, settings) if then is not None else None


class Reading:
    """A corpus read a file at a time: iterating gives each document read, in the order of
    the sources, with what ``then(document, settings)`` made of it in the process that read it
    (``then``: a module-level function, or None); ``corpus()`` then tells the rest.

    A file that ``keep(source, stat)`` vouches for is not read: it is listed in ``kept``.
    The others are read by ``workers`` (in this process when None), a few ahead of the
    caller. ``progress(done, total)`` is called as files are read."""

    def __init__(
        self,
        corpus_dir: str | Path,
        settings: Settings,
        progress: ProgressFn | None = None,
        keep: KeepFn | None = None,
        workers: Workers | None = None,
        then: Then | None = None,
        index_dir: Path | None = None,
    ) -> None:
        self.root = corpus_folder(corpus_dir)
        self.settings = settings
        self.kept: list[str] = []
        self.stats: dict[str, FileStat] = {}
        self._progress = progress
        self._workers = workers or Workers(1)
        found = scan(self.root, settings, index_dir)
        self._paths, self._skipped, self._warnings = found.files, found.skipped, found.warnings
        self._to_read: list[tuple[Path, str, Settings, Then | None]] = []
        self._read = 0
        for source, path in self._paths:
            try:
                file_stat = found.stat(source, path)
            except DocumentUnreadable as exc:
                self._skipped.append(Skipped(source, str(exc), True))
                continue
            self.stats[source] = file_stat
            # (Over the size limit, it is read, to be skipped: the limit may have been lowered.)
            if keep and file_stat.bytes <= settings.max_file_bytes and keep(source, file_stat):
                self.kept.append(source)
            else:
                self._to_read.append((path, source, settings, then))

    def __iter__(self) -> Iterator[tuple[Document, Any]]:
        done = len(self._paths) - len(self._to_read)
        loaded = self._workers.map(_load_one, self._to_read)
        for n, (doc, warning, skip, made) in enumerate(loaded):
            if self._progress:
                self._progress(done + n, len(self._paths))
            if skip is not None:
                self._skipped.append(skip)
                del self.stats[skip.source]
                continue
            assert doc is not None
            self._read += 1
            if warning:
                self._warnings.append(f"{doc.source}: {warning}")
            yield doc, made
        if self._progress:
            self._progress(len(self._paths), len(self._paths))

    def corpus(self, documents: tuple[Document, ...] = ()) -> Corpus:
        """The corpus read (holding ``documents`` when the caller kept them). Raises
        CorpusError when it has no readable file."""
        skipped = sorted(self._skipped, key=lambda s: s.source)
        if not self._read and not self.kept:
            exts = "/".join(self.settings.extensions)
            detail = (
                f" ({len(skipped)} skipped: {'; '.join(map(str, skipped[:3]))})" if skipped else ""
            )
            raise CorpusError(f"no readable {exts} articles in {self.root}{detail}")
        return Corpus(
            self.root.resolve(),
            documents,
            tuple(skipped),
            tuple(self._warnings),
            tuple(self.kept),
            self.stats,
        )


def load_corpus(
    corpus_dir: str | Path,
    settings: Settings,
    progress: ProgressFn | None = None,
    keep: KeepFn | None = None,
    workers: Workers | None = None,
    index_dir: Path | None = None,
) -> Corpus:
    """Every readable article under corpus_dir (as ``Reading``, the documents held; not the
    files of ``index_dir``). Raises CorpusError when there is none."""
    reading = Reading(corpus_dir, settings, progress, keep, workers, index_dir=index_dir)
    return reading.corpus(tuple(doc for doc, _ in reading))
