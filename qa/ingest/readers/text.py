"""Plain text (.txt) and Markdown (.md): the file itself is the text.

Text is decoded as UTF-8 with universal newlines, so offsets index the file as
``Path.read_text(encoding="utf-8")`` returns it; text that is not valid UTF-8 is decoded as
Windows-1252 (a superset of Latin-1 for printable text) with a warning. Title and date come
from the cleaner (front matter ``title:``/``date:``, a date line, the first line); a Markdown
file's ``#`` headings become its sections and front matter ``author:`` its author.
"""

from __future__ import annotations

import re

from ...errors import DocumentSkipped
from ...types import Section
from .base import Extracted, clean_field

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_AUTHOR = re.compile(r"^author:\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE | re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode(data: bytes) -> tuple[str | None, str | None]:
    """Decode file bytes to text. Returns (text, warning); text is None for a binary file."""
    head = data[:8192]
    if b"\x00" in head:
        return None, "binary file (contains NUL bytes)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("cp1252", errors="replace")
        if _mostly_control(text):
            return None, "binary file (not text)"
        return (
            _normalise_newlines(text),
            f"not valid UTF-8 (byte {exc.start}); read as Windows-1252, offsets refer to that text",
        )
    if _mostly_control(text):  # valid UTF-8 made of control bytes is no article either
        return None, "binary file (not text)"
    return _normalise_newlines(text), None


def _mostly_control(text: str) -> bool:
    """More than 5% of the first 8,192 characters are control characters (not line breaks)."""
    head = text[:8192]
    control = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\n\r\f")
    return control > len(head) * 0.05


def read_text(data: bytes) -> Extracted:
    text, warning = decode(data)
    if text is None:
        raise DocumentSkipped(warning or "binary file")
    return Extracted(text, plain=True, warning=warning)


def headings(text: str, start: int = 0) -> tuple[Section, ...]:
    """The ATX headings (``# Title``) of Markdown text from ``start`` on, outside fenced code
    blocks."""
    found = []
    fenced = False
    pos = start
    for line in text[start:].split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            found.append(Section(pos, m[1].strip()))
        pos += len(line) + 1
    return tuple(found)


def read_markdown(data: bytes) -> Extracted:
    plain = read_text(data)
    fm = _FRONT_MATTER.match(plain.text)
    author = _AUTHOR.search(fm[1]) if fm else None
    return Extracted(
        plain.text,
        author=clean_field(author[1]) if author else None,
        sections=headings(plain.text, fm.end() if fm else 0),
        plain=True,
        warning=plain.warning,
    )
