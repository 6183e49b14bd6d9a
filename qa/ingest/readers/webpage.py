"""HTML (.html, .htm): the main text of a saved web page and its metadata, by trafilatura.

trafilatura keeps the article and drops navigation, cookie banners, newsletter boxes, related
links and footers; title, author, site name and date come from the page's metadata. The
article's headings become its sections. Needs the ``html`` extra.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ...errors import DocumentSkipped
from ...types import Section
from .base import Extracted, clean_field, import_extra, iso_date, quiet_logger


def _trafilatura() -> ModuleType:
    return import_extra("trafilatura", "html")


def _headings(body: Any) -> list[str]:
    if body is None:
        return []
    return [" ".join("".join(el.itertext()).split()) for el in body.iter("head")]


def _sections(text: str, heads: list[str]) -> tuple[Section, ...]:
    """Where each heading stands in the text: the next line that reads the same."""
    lines: list[tuple[int, str]] = []
    pos = 0
    for line in text.split("\n"):
        lines.append((pos, " ".join(line.split())))
        pos += len(line) + 1
    found, i = [], 0
    for head in filter(None, heads):
        j = next((j for j in range(i, len(lines)) if lines[j][1] == head), None)
        if j is not None:
            found.append(Section(lines[j][0], head))
            i = j + 1
    return tuple(found)


def read_html(data: bytes) -> Extracted:
    trafilatura = _trafilatura()
    with quiet_logger("trafilatura"), quiet_logger("htmldate"):
        doc = trafilatura.bare_extraction(
            data, with_metadata=True, include_comments=False, include_tables=True
        )
    text = (getattr(doc, "text", None) or "").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DocumentSkipped("no article text found in the page")
    return Extracted(
        text,
        title=clean_field(doc.title),
        date=iso_date(doc.date),
        author=clean_field(doc.author),
        site=clean_field(doc.sitename),
        sections=_sections(text, _headings(doc.body)),
    )
