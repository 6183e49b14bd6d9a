"""Load articles from a corpus folder: read safely, clean, take metadata.

Reading never crashes on a bad file: binary files, empty files, unreadable files and files over
the size limit are skipped with a warning; text that is not valid UTF-8 is decoded as
Windows-1252 (a superset of Latin-1 for printable text) with a warning. Offsets index the text
as ``Path.read_text(encoding="utf-8")`` returns it, i.e. with universal newlines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .cleaning import clean
from .config import Settings
from .errors import CorpusError
from .types import Document


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(frozen=True)
class Corpus:
    root: Path
    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...]


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode(data: bytes) -> tuple[str | None, str | None]:
    """Decode file bytes to text. Returns (text, warning); text is None for a binary file."""
    head = data[:8192]
    if b"\x00" in head:
        return None, "binary file (contains NUL bytes)"
    try:
        return _normalise_newlines(data.decode("utf-8")), None
    except UnicodeDecodeError as exc:
        text = data.decode("cp1252", errors="replace")
        control = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
        if control > len(text[:8192]) * 0.05:
            return None, "binary file (not text)"
        return (
            _normalise_newlines(text),
            f"not valid UTF-8 (byte {exc.start}); read as Windows-1252, offsets refer to that text",
        )


def discover(root: Path, settings: Settings) -> list[Path]:
    """The article files under root, recursively, in a stable order; hidden paths skipped."""
    exts = {e.lower() for e in settings.extensions}
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() in exts and path.is_file():
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load_document(
    path: Path, source: str, settings: Settings
) -> tuple[Document | None, str | None]:
    """Read and clean one file. Returns (document, warning); document is None when skipped."""
    try:
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            return None, f"too large ({size:,} bytes; limit {settings.max_file_bytes:,})"
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if not data.strip():
        return None, "empty file"
    text, warning = decode(data)
    if text is None:
        return None, warning
    cleaned = clean(text, settings.clean)
    if not cleaned.segments:
        if cleaned.removed:
            return None, "no article text left after removing boilerplate"
        return None, "no text besides its front matter or date line"
    doc = Document(
        source=source,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        title=cleaned.title or Path(source).stem,
        date=cleaned.date,
        segments=cleaned.segments,
        removed=cleaned.removed,
        web_page=cleaned.web_page,
    )
    return doc, warning


def load_corpus(corpus_dir: str | Path, settings: Settings) -> Corpus:
    """Every readable article under corpus_dir. Raises CorpusError when there is none."""
    root = Path(corpus_dir).expanduser()
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder")
    docs: list[Document] = []
    skipped: list[Skipped] = []
    warnings: list[str] = []
    for path in discover(root, settings):
        source = path.relative_to(root).as_posix()
        doc, warning = load_document(path, source, settings)
        if doc is None:
            skipped.append(Skipped(source, warning or "skipped"))
        else:
            docs.append(doc)
            if warning:
                warnings.append(f"{source}: {warning}")
    if not docs:
        exts = "/".join(settings.extensions)
        detail = f" ({len(skipped)} skipped: {'; '.join(map(str, skipped[:3]))})" if skipped else ""
        raise CorpusError(f"no readable {exts} articles in {root}{detail}")
    return Corpus(root.resolve(), tuple(docs), tuple(skipped), tuple(warnings))
