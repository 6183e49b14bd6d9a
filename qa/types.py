"""Frozen, typed records: the bottom layer every other module speaks.

Character offsets (``start``, ``end``) index a document's *text*, so ``text[start:end]`` is the
passage itself. For a plain-text file (.txt, .md) that text is the file as
``Path.read_text(encoding="utf-8")`` returns it (universal newlines); for an HTML, PDF or DOCX
file it is the text extracted from it (qa.ingest.readers), which the index stores
(qa.api.document_text).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    """A heading of a document, and the offset where it starts."""

    start: int
    title: str


def page_at(pages: tuple[int, ...] | list[int], offset: int) -> int | None:
    """The 1-based page holding ``offset``, given each page's start offset (None: no pages)."""
    if not pages:
        return None
    return max(1, bisect.bisect_right(pages, offset))


def section_at(sections: tuple[Section, ...] | list[Section], offset: int) -> str | None:
    """The title of the nearest heading starting at or before ``offset`` (None: none)."""
    i = bisect.bisect_right([s.start for s in sections], offset)
    return sections[i - 1].title if i else None


class Paged:
    """A text with page starts and headings: the page and section of an offset in it."""

    pages: tuple[int, ...]
    sections: tuple[Section, ...]

    def page_at(self, offset: int) -> int | None:
        return page_at(self.pages, offset)

    def section_at(self, offset: int) -> str | None:
        return section_at(self.sections, offset)


@dataclass(frozen=True, order=True)
class Span:
    """A half-open character range ``[start, end)``."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"invalid span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start

    def of(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(frozen=True)
class Document(Paged):
    """One article: its full text and the spans of it that are article content."""

    source: str  # path relative to the corpus folder, with "/" separators
    text: str  # the whole file as read (plain formats), or the text extracted from it
    sha256: str  # of the file's bytes
    title: str
    date: str | None  # ISO date where the file states one
    segments: tuple[Span, ...]  # contiguous content runs, boilerplate removed between them
    removed: tuple[Span, ...] = ()  # the boilerplate the cleaner removed (qa.ingest.cleaning)
    web_page: bool = False  # whether the cleaner treated the file as a scraped web page
    format: str = "txt"  # the reader that read it: txt, md, html, pdf, docx (qa.ingest.readers)
    plain: bool = True  # text is the file itself; False: extracted, the index stores it
    author: str | None = None
    site: str | None = None  # the site a web page comes from
    pages: tuple[int, ...] = ()  # start offset of each page (PDF)
    sections: tuple[Section, ...] = ()  # headings, in order

    @property
    def content(self) -> str:
        """The cleaned article: its content segments joined by blank lines."""
        return "\n\n".join(s.of(self.text) for s in self.segments)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, as stored in the index."""

    source: str
    start: int
    end: int
    text: str
    title: str
    date: str | None
    doc_sha256: str
    sentence_start: int = 0  # rows [sentence_start, sentence_end) of the index's sentence table
    sentence_end: int = 0
    page: int | None = None  # the page the chunk starts on (PDF)
    section: str | None = None  # the nearest heading before the chunk


@dataclass(frozen=True)
class Hit:
    """A retrieved passage, best first."""

    text: str
    source: str
    score: float
    start: int
    end: int
    title: str
    date: str | None
    rank: int = 0
    chunk_id: int = -1
    dense_score: float | None = None  # cosine similarity to the question, where computed
    keyword_score: float | None = None  # BM25 score, where computed
    sentence_score: float | None = None  # best sentence cosine (+ answer-type bonus)
    also_in: tuple[str, ...] = ()  # other sources holding (nearly) the same passage
    site: str | None = None  # the publisher, where the document names one (web pages)
    page: int | None = None  # the page the passage starts on (PDF)
    section: str | None = None  # the nearest heading before the passage


@dataclass(frozen=True)
class Citation:
    """A sentence quoted in an answer, with where it stands in its source file."""

    number: int  # 1-based, as shown in the answer
    source: str
    start: int
    end: int
    text: str
    title: str
    date: str | None
    passage: int  # index into Answer.passages of the passage holding the sentence
    page: int | None = None  # the page the sentence starts on (PDF)
    section: str | None = None  # the nearest heading before the sentence


STATUSES = ("answered", "passages", "not_found")
ORIGINS = ("quoted", "generated")


@dataclass(frozen=True)
class Answer:
    """An extractive answer, with one of three outcomes (``status``):

    * ``answered``: ``text`` is a quoted sentence (or two) the system stands behind;
    * ``passages``: relevant passages exist but no sentence is confident enough; ``text`` is
      empty, and ``citations`` holds the likeliest sentence, to highlight in its passage;
    * ``not_found``: nothing in the articles answers the question (``passages`` are only the
      closest ones).

    ``confidence`` estimates the probability that the lead (the quoted sentence, or the
    likeliest one) answers the question. ``missing`` lists key terms of the question (names,
    numbers, rare words) that none of the passages mention.

    With a language model configured (``qa.answer.generate``), ``origin`` is ``generated`` when
    ``text`` was written by the model named in ``generator`` (its citations then number the
    passages it cited, each with that passage's best sentence); otherwise the text is
    ``quoted``. ``note`` says, in one line, why a generated answer is not shown when it is not.
    For a generated answer ``confidence`` is still that of the best quoted sentence.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...]
    status: str = "answered"
    confidence: float = 0.0
    missing: tuple[str, ...] = ()
    origin: str = "quoted"  # "quoted" or "generated"
    generator: str | None = None  # the language model that wrote or declined the answer
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if (self.status == "answered") != bool(self.text):
            raise ValueError("an answer has text exactly when its status is 'answered'")
        if self.origin not in ORIGINS:
            raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, got {self.origin!r}")
        if self.origin == "generated" and not self.generator:
            raise ValueError("a generated answer names its generator")

    @property
    def answerable(self) -> bool:
        """False when nothing in the articles answers the question."""
        return self.status != "not_found"

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-able data: every field, plus ``answerable`` (the one shape of
        ``qa ask --json`` and the web app's ``/ask`` endpoint)."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))  # tuples become lists
        return {**data, "answerable": self.answerable}


@dataclass(frozen=True)
class CleaningStats:
    """How much of one file the cleaner removed as boilerplate (non-whitespace characters)."""

    source: str
    removed_chars: int
    total_chars: int
    web_page: bool  # whether the web-page rules were applied to it

    @property
    def share(self) -> float:
        return self.removed_chars / self.total_chars if self.total_chars else 0.0


@dataclass(frozen=True)
class RemovedSpan:
    """A run of text the cleaner removed, with its offsets in the file."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class RemovedText:
    """What the cleaner removed from one indexed file, as the index recorded it."""

    source: str
    clean: str  # the cleaning mode the index was built with
    web_page: bool
    removed_chars: int
    total_chars: int
    spans: tuple[RemovedSpan, ...]


@dataclass(frozen=True)
class DocumentText(Paged):
    """The text of one indexed file that offsets point into, with what its reader found."""

    source: str
    format: str
    text: str
    title: str
    date: str | None
    author: str | None = None
    site: str | None = None
    pages: tuple[int, ...] = ()  # start offset of each page
    sections: tuple[Section, ...] = ()
    stored: bool = False  # True: extracted text kept in the index; False: read from the file


@dataclass(frozen=True)
class FormatCount:
    """How the files of one format fared in a build."""

    format: str  # txt, md, html, pdf, docx
    read: int = 0  # indexed
    skipped: int = 0  # left out on purpose: empty, scanned, password-protected, extra missing
    failed: int = 0  # could not be read: broken, malformed or unreadable files


@dataclass(frozen=True)
class BuildReport:
    """What a build did. Chunk counts unless the name says files."""

    files: int  # files in the index after the build
    chunks: int  # chunks in the index after the build
    embedded: int  # chunks embedded in this run (their sentences are embedded too)
    reused: int  # chunks whose vectors were reused from the previous index
    removed: int  # files dropped from the index because they left the corpus
    removed_chunks: int = 0
    new_files: int = 0
    changed_files: int = 0
    unchanged_files: int = 0
    skipped: tuple[str, ...] = ()  # files not indexed (empty, binary, unreadable)
    warnings: tuple[str, ...] = ()
    full: bool = False  # True when everything was re-embedded
    reason: str = ""  # why a full rebuild happened
    embedded_sentences: int = 0
    resumed: int = 0  # texts (chunks and sentences) whose vectors a killed build had saved
    truncated_chunks: int = 0  # chunks longer than the model reads (should be 0)
    seconds: float = 0.0
    index_dir: str = ""
    generation: str = ""
    cleaning: tuple[CleaningStats, ...] = ()  # one record a file in the index
    formats: tuple[FormatCount, ...] = ()  # files read, skipped and failed, by format
    wrote: bool = True  # False: nothing had changed, and the live index was left as it was
