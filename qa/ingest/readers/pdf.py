"""PDF (.pdf): the text layer, page by page, by pypdf.

Pages are joined by blank lines and the start of each is recorded, so every passage can name
its page. Lines that a page wraps inside a sentence are joined again (the text is ours, so
offsets still hold). Title and date come from the document's metadata where present, else
from the first page. A PDF without a text layer (a scan) is skipped, as is one that needs a
password (the empty password is tried first). Needs the ``pdf`` extra (installed by default).
"""

from __future__ import annotations

import io
from types import ModuleType
from typing import Any

from ...errors import DocumentSkipped, DocumentUnreadable
from .base import (
    Extracted,
    TextBuilder,
    clean_field,
    find_date,
    import_extra,
    iso_date,
    quiet_logger,
)

# A line wraps (its paragraph goes on on the next line) when the next line's first word would
# not have fitted after it: the line plus that word reach this share of the page's longest line
# (a share, as letters differ in width). A heading or a paragraph's last line stops short.
WRAP_SHARE = 0.85
_TERMINAL = ".!?:;\"'”’)]"


def _pypdf() -> ModuleType:
    return import_extra("pypdf", "pdf")


def _open(pypdf: ModuleType, data: bytes) -> Any:
    """A PdfReader, decrypted with the empty password where it is encrypted."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentSkipped("password-protected PDF: it opens only with its password")
        len(reader.pages)  # parses the page tree: a broken one fails here
    except pypdf.errors.DependencyError as exc:
        raise DocumentSkipped(
            f"encrypted PDF that needs the cryptography package to open ({exc})"
        ) from exc
    except (pypdf.errors.PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise DocumentUnreadable(f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    return reader


def unwrap(page: str) -> str:
    """The page's text with the lines that wrap inside a paragraph joined by a space (a line
    ending in a hyphen is joined without one, the hyphen kept)."""
    lines = [" ".join(line.split()) for line in page.replace("\x00", "").splitlines()]
    lines = [line for line in lines if line]
    longest = max(map(len, lines), default=0)
    out: list[str] = []
    for i, line in enumerate(lines):
        if i and _wraps(lines[i - 1], line, longest):
            out[-1] += line if out[-1].endswith("-") else " " + line
        else:
            out.append(line)
    return "\n".join(out)


def _wraps(line: str, following: str, longest: int) -> bool:
    first_word = following.split(" ", 1)[0]
    fits = len(line) + 1 + len(first_word) < WRAP_SHARE * longest
    return not fits and not line.endswith(tuple(_TERMINAL))


def _metadata(reader: Any) -> tuple[str | None, str | None, str | None]:
    """Title, date and author from the document information, where it has them."""
    try:
        meta = reader.metadata
        if meta is None:
            return None, None, None
        return clean_field(meta.title), iso_date(meta.creation_date), clean_field(meta.author)
    except Exception:  # a broken information dictionary only loses the metadata
        return None, None, None


def read_pdf(data: bytes) -> Extracted:
    with quiet_logger("pypdf"):
        return _read(_pypdf(), data)


def _read(pypdf: ModuleType, data: bytes) -> Extracted:
    reader = _open(pypdf, data)
    text = TextBuilder()
    for page in reader.pages:
        text.new_page()
        try:
            text.add(unwrap(page.extract_text() or ""))
        except pypdf.errors.PyPdfError:
            continue  # a broken page loses its text, not the document's
    if not text.text.strip():
        raise DocumentSkipped("no text layer (scanned?); OCR is not supported")
    title, date, author = _metadata(reader)
    first_page = text.text[: text.pages[1]] if len(text.pages) > 1 else text.text
    return Extracted(
        text.text,
        title=title,
        date=date or find_date(first_page),
        author=author,
        pages=tuple(text.pages),
        sections=(),
    )
