"""Readers: turn a file's bytes into text with offsets, one reader a format.

========  ======================  ==================================  =====================
format    extensions              reads                               library (extra)
========  ======================  ==================================  =====================
txt       .txt (and any unknown)  the file, decoded                   -
md        .md, .markdown          the file; front matter, headings    -
html      .html, .htm             main text, title/author/site/date   trafilatura (html)
pdf       .pdf                    text layer page by page, metadata   pypdf (pdf, default)
docx      .docx                   paragraphs, headings, tables        python-docx (docx, default)
========  ======================  ==================================  =====================

A reader returns an ``Extracted`` record, or raises ``DocumentSkipped`` (left out on purpose:
no text layer, a password, a missing extra) or ``DocumentUnreadable`` (a broken file). Each
reader imports its library only when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from .base import Extracted, missing_extra
from .pdf import read_pdf
from .text import decode, read_markdown, read_text
from .webpage import read_html
from .word import read_docx


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    read: Callable[[bytes], Extracted]
    extra: str | None = None  # the optional dependency group that installs its library


FORMATS = (
    Format("txt", (".txt",), read_text),
    Format("md", (".md", ".markdown"), read_markdown),
    Format("html", (".html", ".htm"), read_html, "html"),
    Format("pdf", (".pdf",), read_pdf, "pdf"),
    Format("docx", (".docx",), read_docx, "docx"),
)
EXTENSIONS = tuple(ext for f in FORMATS for ext in f.extensions)
_BY_EXTENSION = {ext: f for f in FORMATS for ext in f.extensions}


def format_of(name: str | PurePath) -> Format:
    """The format of a file by its extension; an unknown one is read as plain text."""
    return _BY_EXTENSION.get(PurePath(name).suffix.lower(), FORMATS[0])


__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "Extracted",
    "Format",
    "decode",
    "format_of",
    "missing_extra",
]
