"""Load articles from a corpus folder: read safely, extract text (qa.readers), clean, take
metadata.

Reading never crashes on a bad file: binary files, empty files, unreadable files, files over
the size limit, broken files and files whose reader is not installed are skipped with a
reason; text that is not valid UTF-8 is decoded as Windows-1252 with a warning. Offsets index
the document's text: the file as ``Path.read_text(encoding="utf-8")`` returns it for plain
formats (.txt, .md), the extracted text for the others (HTML, PDF, DOCX).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cleaning import clean
from .config import Settings
from .errors import CorpusError, DocumentSkipped, DocumentUnreadable
from .readers import Extracted, Format, decode, format_of
from .types import Document

__all__ = ["Corpus", "Skipped", "decode", "discover", "load_corpus", "load_document"]

ProgressFn = Callable[[int, int], None]  # (files read so far, files to read)


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str
    failed: bool = False  # True: the file is broken or unreadable; False: left out on purpose

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(frozen=True)
class Corpus:
    root: Path
    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...]


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


def _read(path: Path, settings: Settings) -> bytes:
    try:
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            raise DocumentSkipped(f"too large ({size:,} bytes; limit {settings.max_file_bytes:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentUnreadable(f"unreadable ({exc.strerror or exc})") from exc
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


def load_corpus(
    corpus_dir: str | Path, settings: Settings, progress: ProgressFn | None = None
) -> Corpus:
    """Every readable article under corpus_dir. Raises CorpusError when there is none.

    ``progress(done, total)`` is called as files are read."""
    root = Path(corpus_dir).expanduser()
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder")
    docs: list[Document] = []
    skipped: list[Skipped] = []
    warnings: list[str] = []
    paths = discover(root, settings)
    for n, path in enumerate(paths):
        if progress:
            progress(n, len(paths))
        source = path.relative_to(root).as_posix()
        try:
            doc, warning = load_document(path, source, settings)
        except DocumentSkipped as exc:
            skipped.append(Skipped(source, str(exc), isinstance(exc, DocumentUnreadable)))
            continue
        docs.append(doc)
        if warning:
            warnings.append(f"{source}: {warning}")
    if progress:
        progress(len(paths), len(paths))
    if not docs:
        exts = "/".join(settings.extensions)
        detail = f" ({len(skipped)} skipped: {'; '.join(map(str, skipped[:3]))})" if skipped else ""
        raise CorpusError(f"no readable {exts} articles in {root}{detail}")
    return Corpus(root.resolve(), tuple(docs), tuple(skipped), tuple(warnings))
