"""What a reader returns (Extracted), and the helpers readers share."""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType

from ...errors import DocumentSkipped
from ...types import Section

BLOCK_SEPARATOR = "\n\n"
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH = "(" + "|".join(_MONTHS) + ")"
_DATES = (
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),  # 2024-03-18
    re.compile(rf"\b(\d{{1,2}}) {_MONTH},? (\d{{4}})\b", re.IGNORECASE),  # 18 March 2024
    re.compile(rf"\b{_MONTH} (\d{{1,2}}),? (\d{{4}})\b", re.IGNORECASE),  # March 18, 2024
)
_ISO_START = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
DATE_SEARCH_CHARS = 1_000


@dataclass(frozen=True)
class Extracted:
    """A file's text as a reader found it. Offsets (pages, sections) index ``text``.

    ``plain``: the text is the file itself, decoded (.txt, .md), so the file can be re-read to
    show it; otherwise it was extracted and the index stores it.
    """

    text: str
    title: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    author: str | None = None
    site: str | None = None
    pages: tuple[int, ...] = ()  # start offset of each page
    sections: tuple[Section, ...] = ()
    plain: bool = False
    warning: str | None = None  # read, but with a caveat (e.g. decoded as Windows-1252)


def missing_extra(extra: str) -> DocumentSkipped:
    """The skip reason of a file whose reader's library is not installed."""
    return DocumentSkipped(f'needs the "{extra}" extra: pip install "qa[{extra}]"')


def import_extra(module: str, extra: str) -> ModuleType:
    """A reader's library, imported when a file of its format is read; DocumentSkipped
    naming the extra to install when it is missing, or the real import error when it is there
    but something it needs is not (an older pip installs trafilatura without
    lxml_html_clean)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = (exc.name or module).split(".")[0]
        if missing != module.split(".")[0]:
            raise DocumentSkipped(f"{module} is installed but cannot be imported: {exc}") from exc
        raise missing_extra(extra) from exc


@contextlib.contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """Silence a library's warnings about a malformed file while it is read: the skip reason or
    the text read is what the build reports."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def clean_field(value: object) -> str | None:
    """A metadata value as one line of text, or None when empty."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def iso_date(value: object) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date, a datetime or a string starting with one."""
    if isinstance(value, _dt.date):
        return value.isoformat()[:10]
    m = _ISO_START.match(str(value or "").strip())
    return _valid(int(m[1]), int(m[2]), int(m[3])) if m else None


def _valid(year: int, month: int, day: int) -> str | None:
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def find_date(text: str) -> str | None:
    """The first date stated near the top of ``text`` (2024-03-18, 18 March 2024 or March 18,
    2024), as an ISO date."""
    head = text[:DATE_SEARCH_CHARS]
    found: list[tuple[int, str]] = []
    for i, pattern in enumerate(_DATES):
        for m in pattern.finditer(head):
            if i == 0:
                date = _valid(int(m[1]), int(m[2]), int(m[3]))
            elif i == 1:
                date = _valid(int(m[3]), _MONTHS.index(m[2].lower()) + 1, int(m[1]))
            else:
                date = _valid(int(m[3]), _MONTHS.index(m[1].lower()) + 1, int(m[2]))
            if date:
                found.append((m.start(), date))
                break
    return min(found)[1] if found else None


@dataclass
class TextBuilder:
    """Joins blocks of text (paragraphs, tables, pages) with blank lines, recording where
    each heading and page starts."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    pages: list[int] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def add(self, block: str, heading: bool = False) -> None:
        block = block.strip()
        if not block:
            return
        if self.parts:
            self.parts.append(BLOCK_SEPARATOR)
            self.length += len(BLOCK_SEPARATOR)
        if heading:
            self.sections.append(Section(self.length, " ".join(block.split())))
        self.parts.append(block)
        self.length += len(block)

    def new_page(self) -> None:
        """The next block starts a page (a page with no text starts where the next one does)."""
        self.pages.append(self.length + (len(BLOCK_SEPARATOR) if self.parts else 0))

    @property
    def text(self) -> str:
        return "".join(self.parts)
