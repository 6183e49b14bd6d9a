"""Word documents (.docx): paragraphs, headings and tables as text, by python-docx.

Blocks are read in document order and joined by blank lines; a table becomes one line a row,
its cells separated by `` | ``. Paragraphs styled Title or Heading N become sections. The
title comes from the document's properties, else its Title paragraph. Needs the ``docx``
extra (installed by default).
"""

from __future__ import annotations

import io
import zipfile
from types import ModuleType
from typing import Any

from ...errors import DocumentUnreadable
from .base import Extracted, TextBuilder, clean_field, find_date, import_extra

CELL_SEPARATOR = " | "


def _docx() -> ModuleType:
    return import_extra("docx", "docx")


def _open(docx: ModuleType, data: bytes) -> Any:
    try:
        return docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, docx.opc.exceptions.OpcError) as exc:
        raise DocumentUnreadable(f"not a readable DOCX file ({type(exc).__name__}: {exc})") from exc


def _style(paragraph: Any) -> str:
    style = getattr(paragraph, "style", None)
    return str(getattr(style, "name", "") or "")


def _is_heading(paragraph: Any) -> bool:
    style = _style(paragraph)
    return style == "Title" or style.startswith("Heading")


def _table_text(table: Any) -> str:
    """One line a row; a merged cell, which python-docx repeats, is written once."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: list[Any] = []
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):
                continue
            seen.append(cell._tc)
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(CELL_SEPARATOR.join(cells))
    return "\n".join(rows)


def read_docx(data: bytes) -> Extracted:
    docx = _docx()
    document = _open(docx, data)
    text = TextBuilder()
    title = None
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            text.add(_table_text(block))
            continue
        text.add(block.text, heading=_is_heading(block))
        if title is None and _style(block) == "Title":
            title = clean_field(block.text)
    core = document.core_properties
    return Extracted(
        text.text,
        title=clean_field(core.title) or title,
        date=find_date(text.text),
        author=clean_field(core.author),
        sections=tuple(text.sections),
    )
