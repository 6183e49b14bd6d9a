"""Add files to the corpus folder (the web chat's "Add documents"): names made safe, nothing
ever overwritten, type and size checked first. Pure file handling; the caller rebuilds.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import CorpusError

UPLOAD_FOLDER = "uploads"  # under the corpus folder: added files never mix with the user's own
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\- ()]+")


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass(frozen=True)
class Added:
    """What an upload did: the files copied in (corpus-relative names) and those refused."""

    added: tuple[str, ...]
    refused: tuple[Refused, ...]


def safe_name(name: str) -> str:
    """A file name that is safe in any folder: no path, no control or odd characters, no
    leading dot, not too long; the extension kept."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE.sub("_", base).strip(" ._") or "document"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = stem.strip(" ._") or "document"
    ext = f".{ext.lower()}" if ext else ""
    return stem[: MAX_NAME_CHARS - len(ext)] + ext


def free_path(folder: Path, name: str) -> Path:
    """``folder / name``, or ``name (2)``, ``name (3)``... when that is taken."""
    path = folder / name
    stem, suffix = path.stem, path.suffix
    n = 2
    while path.exists():
        path = folder / f"{stem} ({n}){suffix}"
        n += 1
    return path


def check_upload(path: Path, name: str, settings: Settings) -> str | None:
    """Why a file may not be added (None when it may)."""
    suffix = Path(name).suffix.lower()
    if suffix not in settings.extensions:
        accepted = ", ".join(settings.extensions)
        return f"{suffix or 'no extension'} files are not read (accepted: {accepted})"
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if size == 0:
        return "empty file"
    if size > settings.max_file_bytes:
        return f"too large ({size:,} bytes; limit {settings.max_file_bytes:,})"
    return None


def add_files(
    files: list[tuple[Path, str]], corpus_dir: str | os.PathLike[str], settings: Settings
) -> Added:
    """Copy each (uploaded file, its original name) into ``corpus_dir/uploads/``."""
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(f"corpus folder {root} does not exist")
    folder = root / UPLOAD_FOLDER
    added: list[str] = []
    refused: list[Refused] = []
    for path, original in files:
        name = safe_name(original)
        why = check_upload(path, name, settings)
        if why is not None:
            refused.append(Refused(original, why))
            continue
        try:
            target = _place(path, folder, name)
        except OSError as exc:
            refused.append(Refused(original, f"could not be saved ({exc.strerror or exc})"))
            continue
        added.append(target.relative_to(root).as_posix())
    return Added(tuple(added), tuple(refused))


def _place(path: Path, folder: Path, name: str) -> Path:
    """Copy ``path`` into ``folder`` under a free version of ``name``. The copy is made under
    a hidden name (a build never reads it) and then linked in, which fails rather than
    overwrite a file that appeared meanwhile; a build sees the whole file or none of it."""
    folder.mkdir(exist_ok=True)
    partial = folder / f".{name}.{os.getpid()}.{id(path)}.part"
    try:
        shutil.copyfile(path, partial)
        while True:
            target = free_path(folder, name)
            try:
                os.link(partial, target)
                return target
            except FileExistsError:
                continue  # taken since free_path looked: try the next number
    finally:
        partial.unlink(missing_ok=True)
