"""Reading HTML, PDF, DOCX and Markdown files (qa.ingest.readers) and indexing them: the files are
made at test time (tests/docmaker.py); the index uses the hashing embedder."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from docmaker import docx_bytes, encrypted_pdf, news_page, pdf_bytes

from qa import Settings, ask, build_index, document_text, index_info, removed_text, search
from qa.errors import DocumentSkipped, DocumentUnreadable, IndexCorruptError
from qa.evaluate import evaluate_gold, load_gold
from qa.indexing.store import current_generation
from qa.ingest.documents import load_corpus, load_document
from qa.ingest.readers import EXTENSIONS, format_of
from qa.ingest.readers.base import TextBuilder, find_date, iso_date
from qa.ingest.readers.pdf import unwrap
from qa.ingest.readers.text import headings
from qa.types import Document, Section, page_at

NEWS = [
    "The harbour bridge in Port Elling reopened on Monday after eleven months of repairs "
    "that cost 14 million euros.",
    "Engineers replaced all 212 steel cables and resurfaced the deck with a lighter asphalt "
    "mix, the city's transport office said.",
    "The mayor expects traffic on the bridge to return to 30,000 vehicles a day by summer.",
    "Cyclists get a separate lane on the eastern side for the first time since the bridge "
    "opened in 1971.",
]
BOILERPLATE = (
    "cookies",
    "Accept all",
    "Home",
    "Weather",
    "Morning Briefing",
    "inbox",
    "Related stories",
    "Ferry strike",
    "tram line",
    "All rights reserved",
    "Terms of use",
)
PAGE_ONE = [
    "Elling Water Board annual report 2023",
    "The water board met nine times in 2023 and approved a new tariff for households in the "
    "northern district, which rises by four percent from April.",
]
PAGE_TWO = [
    "Reservoir levels",
    "The Holm reservoir held 4.2 million cubic metres of water at the end of August, the "
    "lowest level recorded since the drought summer of 2018.",
]
MARKDOWN = """---
title: Rowing club handbook
date: 2024-05-02
author: Ida Berg
---
# Rowing club handbook

The club owns eleven boats and two trailers.

## Safety

Every rower must pass a swimming test of 200 metres before the first outing.

```
# not a heading: a comment in a code block
```

## Membership fees

The yearly fee is 180 euros, and students pay half.
"""


def _write(folder: Path, files: dict[str, bytes | str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def _docx() -> bytes:
    return docx_bytes(
        [
            ("title", "Ferry timetable review"),
            ("paragraph", "The review of the island ferry timetable was finished in May 2024."),
            ("heading1", "Findings"),
            ("paragraph", "Daily crossings to Holm island rose from 36 to 48 in one year."),
            ("table", [["Route", "Crossings"], ["Holm", "48"], ["Skarv", "12"]]),
            ("heading1", "Next steps"),
            ("paragraph", "An evening ferry to Skarv starts running in September."),
        ],
        title="Ferry timetable review 2024",
        author="Island Transport Office",
    )


def _mixed(root: Path) -> Path:
    return _write(
        root,
        {
            "news/bridge.html": news_page("Harbour bridge reopens after repairs", NEWS),
            "reports/water.pdf": pdf_bytes(
                [PAGE_ONE, PAGE_TWO], title="Water board report", date="2024-02-01"
            ),
            "reports/ferry.docx": _docx(),
            "club/handbook.md": MARKDOWN,
            "notes.txt": "Meeting notes\n\nThe boathouse roof is repaired in June.\n",
            "scans/letter.pdf": pdf_bytes([[], []], scanned=True),
            "locked.pdf": encrypted_pdf(pdf_bytes([PAGE_ONE]), "secret"),
        },
    )


def _load(path: Path, settings: Settings | None = None) -> Document:
    doc, _ = load_document(path, path.name, settings or Settings())
    return doc


# --- registry and settings -------------------------------------------------------------------


def test_every_format_is_read_by_default() -> None:
    assert set(Settings().extensions) == set(EXTENSIONS)
    assert {".txt", ".md", ".html", ".htm", ".pdf", ".docx"} <= set(EXTENSIONS)
    assert [format_of(n).name for n in ("a.HTM", "b.pdf", "c.docx", "d.md", "e.rst")] == [
        "html",
        "pdf",
        "docx",
        "md",
        "txt",
    ]


def test_extensions_from_environment() -> None:
    settings = Settings.from_env({"QA_EXTENSIONS": "txt, .PDF"})
    assert settings.extensions == (".txt", ".pdf")


def test_missing_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "page.html"
    page.write_text(news_page("A title", NEWS), encoding="utf-8")
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # import trafilatura fails
    with pytest.raises(DocumentSkipped) as info:
        _load(page)
    assert str(info.value) == 'needs the "html" extra: pip install "qa[html]"'
    assert not isinstance(info.value, DocumentUnreadable)
    monkeypatch.setitem(sys.modules, "pypdf", None)
    with pytest.raises(DocumentSkipped, match=r'needs the "pdf" extra: pip install "qa\[pdf\]"'):
        _write(tmp_path, {"a.pdf": pdf_bytes([PAGE_ONE])})
        _load(tmp_path / "a.pdf")


def test_a_reader_whose_library_lacks_a_dependency_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trafilatura installed without lxml_html_clean (an older pip): the real import error,
    not a missing extra."""
    import importlib

    import qa.ingest.readers.base

    page = tmp_path / "page.html"
    page.write_text(news_page("A title", NEWS), encoding="utf-8")
    real = importlib.import_module

    def import_module(name: str, package: str | None = None) -> object:
        if name == "trafilatura":  # as a fresh process without lxml_html_clean fails
            raise ModuleNotFoundError(
                "import of lxml.html.clean halted; None in sys.modules", name="lxml.html.clean"
            )
        return real(name, package)

    monkeypatch.setattr(qa.ingest.readers.base.importlib, "import_module", import_module)
    with pytest.raises(DocumentSkipped) as info:
        _load(page)
    assert "trafilatura is installed but cannot be imported" in str(info.value)
    assert "lxml" in str(info.value) and "extra" not in str(info.value)


# --- HTML ------------------------------------------------------------------------------------


def test_news_page_keeps_the_article_and_drops_boilerplate(tmp_path: Path) -> None:
    page = _write(tmp_path, {"bridge.html": news_page("Harbour bridge reopens", NEWS)})
    doc = _load(page / "bridge.html")
    for sentence in NEWS:
        assert sentence in doc.text
    for junk in BOILERPLATE:
        assert junk not in doc.text, junk
    assert doc.title == "Harbour bridge reopens"
    assert (doc.author, doc.site, doc.date) == (
        "Mara Lind",
        "Coastal Gazette",
        "2024-03-18",
    )
    assert doc.format == "html" and not doc.plain


def test_html_subheadings_become_sections(tmp_path: Path) -> None:
    html = news_page("Bridge", NEWS, subheads={2: "What changes for drivers"})
    doc = _load(_write(tmp_path, {"b.htm": html}) / "b.htm")
    sections = doc.sections
    assert Section(doc.text.index("What changes"), "What changes for drivers") in sections
    at = doc.text.index("The mayor expects")
    assert doc.section_at(at) == "What changes for drivers"


@pytest.mark.parametrize(
    "html",
    [
        b"<html><body><div><p>Unclosed <b>tags &&& <<<>>> everywhere <p>The ferry to Holm "
        b"leaves at nine every morning and returns at five in the evening, all year round.",
        b"<<<<>>>> </p></div></table> \xff\xfe\x00garbage",
        b"<html><head><title>Only a title</title></head><body></body></html>",
        b"\x00\x01\x02\x03" * 50,
    ],
)
def test_malformed_html_does_not_crash(tmp_path: Path, html: bytes) -> None:
    _write(tmp_path, {"bad.html": html, "ok.txt": "An article.\n"})
    corpus = load_corpus(tmp_path, Settings())
    names = [d.source for d in corpus.documents] + [s.source for s in corpus.skipped]
    assert sorted(names) == ["bad.html", "ok.txt"]


def test_html_without_text_is_skipped_with_a_reason(tmp_path: Path) -> None:
    page = "<html><head><title>T</title></head><body><script>x = 1;</script></body></html>"
    _write(tmp_path, {"empty.html": page, "a.txt": "A."})
    skipped = load_corpus(tmp_path, Settings()).skipped
    assert [(s.source, s.reason) for s in skipped] == [
        ("empty.html", "no article text found in the page")
    ]


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_pages_and_metadata(tmp_path: Path) -> None:
    data = pdf_bytes([PAGE_ONE, PAGE_TWO], title="Water board report", date="2024-02-01")
    doc = _load(_write(tmp_path, {"water.pdf": data}) / "water.pdf")
    text = doc.text
    assert doc.format == "pdf" and len(doc.pages) == 2 and doc.pages[0] == 0
    assert (doc.title, doc.date) == ("Water board report", "2024-02-01")
    second = text.index("The Holm reservoir held 4.2 million")
    assert doc.page_at(second) == 2
    assert doc.page_at(text.index("The water board met nine times")) == 1
    assert text[doc.pages[1] :].startswith("Reservoir levels")
    # A paragraph wrapped over several lines reads as one line again.
    assert PAGE_TWO[1] in text and PAGE_ONE[1] in text


def test_pdf_without_metadata_takes_title_and_date_from_its_first_page(tmp_path: Path) -> None:
    first = ["Harbour survey", "Published 5 March 2024.", "The survey counted 340 boats."]
    doc = _load(_write(tmp_path, {"s.pdf": pdf_bytes([first, PAGE_TWO])}) / "s.pdf")
    assert (doc.title, doc.date) == ("Harbour survey", "2024-03-05")


def test_scanned_pdf_is_skipped_with_the_reason(tmp_path: Path) -> None:
    _write(tmp_path, {"scan.pdf": pdf_bytes([[], []], scanned=True), "a.txt": "Text."})
    skipped = load_corpus(tmp_path, Settings()).skipped
    assert [(s.source, s.reason, s.failed) for s in skipped] == [
        ("scan.pdf", "no text layer (scanned?); OCR is not supported", False)
    ]


def test_password_protected_pdf_is_skipped_and_empty_password_is_tried(tmp_path: Path) -> None:
    plain = pdf_bytes([PAGE_ONE, PAGE_TWO])
    _write(
        tmp_path,
        {"locked.pdf": encrypted_pdf(plain, "secret"), "open.pdf": encrypted_pdf(plain, "")},
    )
    corpus = load_corpus(tmp_path, Settings())
    assert [(s.source, s.reason) for s in corpus.skipped] == [
        ("locked.pdf", "password-protected PDF: it opens only with its password")
    ]
    (opened,) = corpus.documents
    assert opened.source == "open.pdf" and PAGE_TWO[1] in opened.text


def test_broken_pdf_fails_without_stopping_the_build(tmp_path: Path) -> None:
    data = pdf_bytes([PAGE_ONE])
    _write(tmp_path, {"cut.pdf": data[:200], "junk.pdf": b"%PDF-1.7\nnot a pdf", "a.txt": "A."})
    skipped = load_corpus(tmp_path, Settings()).skipped
    assert [s.source for s in skipped] == ["cut.pdf", "junk.pdf"]
    assert all(s.failed and s.reason.startswith("not a readable PDF") for s in skipped)


def test_unwrap_joins_wrapped_lines_only() -> None:
    page = (
        "Heading\nThis line is long enough to wrap into the next one and\n"
        "Holm is where it ends.\nShort line.\nA well-\nknown fact."
    )
    assert unwrap(page).split("\n") == [
        "Heading",
        "This line is long enough to wrap into the next one and Holm is where it ends.",
        "Short line.",
        "A well-",
        "known fact.",
    ]
    long = "The board approved a plan for the water treatment infra-"
    assert unwrap(f"{long}\nstructure at Skarv.") == f"{long}structure at Skarv."


def test_text_builder_pages_with_an_empty_page() -> None:
    b = TextBuilder()
    for page in ["One.", "", "Three."]:
        b.new_page()
        b.add(page)
    assert b.text == "One.\n\nThree."
    assert b.pages == [0, 6, 6]
    assert [page_at(b.pages, i) for i in (0, 5, 6)] == [1, 1, 3]


# --- DOCX ------------------------------------------------------------------------------------


def test_docx_paragraphs_headings_and_tables(tmp_path: Path) -> None:
    doc = _load(_write(tmp_path, {"ferry.docx": _docx()}) / "ferry.docx")
    text = doc.text
    assert doc.title == "Ferry timetable review 2024"  # core properties win
    assert doc.author == "Island Transport Office"
    assert "Route | Crossings\nHolm | 48\nSkarv | 12" in text
    assert [s.title for s in doc.sections] == [
        "Ferry timetable review",
        "Findings",
        "Next steps",
    ]
    assert doc.section_at(text.index("Holm | 48")) == "Findings"
    assert doc.section_at(text.index("An evening ferry")) == "Next steps"
    assert doc.date is None  # "May 2024" names no day; core properties are not trusted


def test_docx_title_paragraph_when_properties_have_none(tmp_path: Path) -> None:
    data = docx_bytes([("title", "Boat census"), ("paragraph", "We counted 340 boats.")])
    doc = _load(_write(tmp_path, {"c.docx": data}) / "c.docx")
    assert doc.title == "Boat census"


def test_broken_docx_fails(tmp_path: Path) -> None:
    _write(tmp_path, {"bad.docx": b"PK\x03\x04 not really a zip", "a.txt": "A."})
    (skipped,) = load_corpus(tmp_path, Settings()).skipped
    assert skipped.failed and skipped.reason.startswith("not a readable DOCX file")


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_front_matter_and_headings(tmp_path: Path) -> None:
    doc = _load(_write(tmp_path, {"h.md": MARKDOWN}) / "h.md")
    assert doc.text == MARKDOWN and doc.plain  # offsets index the file itself
    assert (doc.title, doc.date, doc.author) == ("Rowing club handbook", "2024-05-02", "Ida Berg")
    assert [s.title for s in doc.sections] == [
        "Rowing club handbook",
        "Safety",
        "Membership fees",
    ]
    assert doc.section_at(MARKDOWN.index("The yearly fee")) == "Membership fees"
    assert doc.section_at(0) is None


def test_headings_skip_code_blocks_and_front_matter() -> None:
    text = "---\n# yaml comment\n---\n#Not a heading\n## Real ##\n```\n# code\n```\n"
    assert headings(text, text.index("#Not")) == (Section(text.index("## Real"), "Real"),)


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Report, 2024-03-18, final", "2024-03-18"),
        ("Published 5 March 2024 in Elling", "2024-03-05"),
        ("March 5, 2024", "2024-03-05"),
        ("On 31 February 2024 and on 1 March 2024", "2024-03-01"),  # no 31 February
        ("No date here, only 2024.", None),
    ],
)
def test_find_date(text: str, date: str | None) -> None:
    assert find_date(text) == date


def test_iso_date() -> None:
    import datetime as dt

    assert iso_date(dt.datetime(2024, 2, 1, 9, 0)) == "2024-02-01"
    assert iso_date("2024-03-18T08:30:00Z") == "2024-03-18"
    assert iso_date("yesterday") is None and iso_date(None) is None


# --- an index of every format ----------------------------------------------------------------


@pytest.fixture
def mixed_index(tmp_path: Path, hash_settings: Settings) -> tuple[Path, Path]:
    corpus = _mixed(tmp_path / "corpus")
    index = tmp_path / "index"
    build_index(corpus, index, settings=hash_settings)
    return corpus, index


def test_build_counts_files_by_format(tmp_path: Path, hash_settings: Settings) -> None:
    corpus = _mixed(tmp_path / "corpus")
    _write(corpus, {"broken.pdf": b"%PDF-1.4 broken"})
    report = build_index(corpus, tmp_path / "index", settings=hash_settings)
    counts = {f.format: (f.read, f.skipped, f.failed) for f in report.formats}
    assert counts == {
        "txt": (1, 0, 0),
        "md": (1, 0, 0),
        "html": (1, 0, 0),
        "pdf": (1, 2, 1),
        "docx": (1, 0, 0),
    }
    assert report.files == 5
    skipped = "\n".join(report.skipped)
    assert "scans/letter.pdf: no text layer (scanned?); OCR is not supported" in skipped
    assert "locked.pdf: password-protected PDF" in skipped


def test_hits_carry_page_and_section_and_point_into_the_stored_text(
    mixed_index: tuple[Path, Path], hash_settings: Settings
) -> None:
    _, index = mixed_index
    questions = {
        "How much water did the Holm reservoir hold at the end of August?": "reports/water.pdf",
        "How many steel cables did engineers replace on the harbour bridge?": "news/bridge.html",
        "How many daily crossings to Holm island in the ferry review?": "reports/ferry.docx",
        "What is the yearly fee of the rowing club for students?": "club/handbook.md",
    }
    for question, source in questions.items():
        hits = search(question, k=10, index_dir=index, settings=hash_settings)
        assert hits[0].source == source, question
        for hit in hits:
            stored = document_text(hit.source, index)
            assert stored.text[hit.start : hit.end] == hit.text
            assert hit.page == stored.page_at(hit.start)
            assert hit.section == stored.section_at(hit.start)
            assert hit.site == stored.site  # the publisher a web page names, else None
    bridge = search("harbour bridge steel cables", k=1, index_dir=index, settings=hash_settings)
    assert bridge[0].source == "news/bridge.html" and bridge[0].site  # the page's site name
    by_source = {h.source: h for h in search("reservoir", k=20, index_dir=index)}
    assert by_source["reports/water.pdf"].page in (1, 2)
    fee = search("yearly fee students", k=3, index_dir=index, settings=hash_settings)[0]
    # The handbook is one chunk: it starts at the first heading.
    assert (fee.source, fee.section) == ("club/handbook.md", "Rowing club handbook")
    answer = ask("What yearly fee do students pay?", index_dir=index, settings=hash_settings)
    cited = answer.citations[0]
    assert cited.source == "club/handbook.md" and "students pay half" in cited.text
    assert (cited.section, cited.page) == ("Membership fees", None)
    assert fee.page is None


def test_citing_text_on_page_two_gives_page_two(
    mixed_index: tuple[Path, Path], hash_settings: Settings
) -> None:
    _, index = mixed_index
    question = "How many cubic metres of water did the Holm reservoir hold at the end of August?"
    answer = ask(question, index_dir=index, settings=hash_settings)
    cited = answer.citations[0]
    assert cited.source == "reports/water.pdf"
    assert "4.2 million cubic metres" in cited.text and cited.page == 2
    stored = document_text("reports/water.pdf", index)
    assert stored.text[cited.start : cited.end] == cited.text
    assert json.loads(json.dumps(answer.to_dict()))["citations"][0]["page"] == 2


def test_document_text_stored_for_extracted_formats_only(
    mixed_index: tuple[Path, Path], hash_settings: Settings
) -> None:
    corpus, index = mixed_index
    html = document_text("news/bridge.html", index)
    assert html.stored and html.format == "html" and html.site == "Coastal Gazette"
    assert NEWS[1] in html.text and "Accept all cookies" not in html.text
    (corpus / "news/bridge.html").unlink()  # the stored text does not need the file
    assert document_text("news/bridge.html", index).text == html.text
    md = document_text(str(corpus / "club/handbook.md"), index)
    assert not md.stored and md.text == MARKDOWN and md.author == "Ida Berg"
    pdf = document_text("reports/water.pdf", index)
    assert pdf.pages[0] == 0 and len(pdf.pages) == 2 and pdf.date == "2024-02-01"
    removed = removed_text("reports/water.pdf", index)  # reads the stored text too
    assert removed.source == "reports/water.pdf"
    texts = index / str(current_generation(index)) / "texts"
    assert len(list(texts.iterdir())) == 3  # html, pdf, docx; not md or txt
    formats = index_info(index)["formats"]
    assert formats == {"txt": 1, "md": 1, "html": 1, "pdf": 1, "docx": 1}


def test_tampered_stored_text_is_reported(mixed_index: tuple[Path, Path]) -> None:
    _, index = mixed_index
    texts = index / str(current_generation(index)) / "texts"
    for path in texts.iterdir():
        path.write_bytes(b"x" * path.stat().st_size)  # the same size: caught by its hash
    with pytest.raises(IndexCorruptError, match=r"texts/\w+\.txt fails its checksum"):
        document_text("reports/water.pdf", index)


def test_incremental_rebuild_reuses_every_format(
    mixed_index: tuple[Path, Path], hash_settings: Settings
) -> None:
    corpus, index = mixed_index
    again = build_index(corpus, index, settings=hash_settings)
    assert again.embedded == 0 and again.unchanged_files == 5 and not again.full
    hits = search("Holm reservoir August", k=3, index_dir=index, settings=hash_settings)
    assert hits[0].source == "reports/water.pdf" and hits[0].page is not None
    third = [*PAGE_TWO, "A third paragraph about the Skarv reservoir, which was full."]
    (corpus / "reports/water.pdf").write_bytes(pdf_bytes([PAGE_ONE, third]))
    changed = build_index(corpus, index, settings=hash_settings)
    assert changed.changed_files == 1 and changed.unchanged_files == 4
    stored = document_text("reports/water.pdf", index)
    assert (
        "Skarv reservoir" in stored.text and stored.title == "Elling Water Board annual report 2023"
    )


def test_a_rebuild_links_stored_texts_with_their_checksums_and_never_a_damaged_one(
    mixed_index: tuple[Path, Path], hash_settings: Settings
) -> None:
    """Kept stored texts are linked into the next generation with the checksums recorded for
    them (not hashed again), and pass `qa verify`; one damaged since (its size moved) makes
    the previous index unusable, and the rebuild reads every file again."""
    from qa.api import verify_index

    corpus, index = mixed_index
    (corpus / "notes.txt").write_text("Meeting notes\n\nThe Skarv reservoir was full in May.\n")
    changed = build_index(corpus, index, settings=hash_settings)
    assert changed.changed_files == 1 and changed.unchanged_files == 4
    assert verify_index(index)["files"] > 3
    texts = index / str(current_generation(index)) / "texts"
    damaged = next(texts.iterdir())
    damaged.write_bytes(damaged.read_bytes() + b"!")
    again = build_index(corpus, index, settings=hash_settings)
    assert again.full and "previous index unusable" in again.reason
    assert verify_index(index)["files"] > 3
    assert "Holm" in document_text("reports/water.pdf", index).text


def test_cli_build_json_has_formats_and_bars_go_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.cli import main

    corpus = _mixed(tmp_path / "corpus")
    monkeypatch.setenv("QA_MODEL", "hash-384")
    args = ["build", "--corpus", str(corpus), "--index", str(tmp_path / "index")]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    main(args)
    out, err = capsys.readouterr()
    assert "Files by format: txt 1 read; md 1 read; html 1 read; pdf 1 read, 2 skipped" in out
    for phase, unit in (("read", "file"), ("embed", "text"), ("write", "step")):
        assert re.search(rf"{phase}\s*: 100%.*\[.*{unit}", err), phase
    assert re.search(r"read\s*: 100%.* 7/7 ", err)  # counts: 7 files
    main([*args, "--quiet", "--full"])
    _, err = capsys.readouterr()
    assert "embed" not in err and "%|" not in err
    main([*args, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert {"format": "pdf", "read": 1, "skipped": 2, "failed": 0} in report["formats"]


def test_cli_ask_names_the_page(
    mixed_index: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qa.cli import main

    _, index = mixed_index
    monkeypatch.setenv("QA_MODEL", "hash-384")
    question = "How many cubic metres of water did the Holm reservoir hold at the end of August?"
    main(["ask", question, "--index", str(index)])
    out = capsys.readouterr().out
    assert "reports/water.pdf (p. 2, chars" in out


# --- the mixed-format evaluation corpus (tests/data/formats) ---------------------------------

DATA = Path(__file__).resolve().parents[1] / "data"
FORMATS_CORPUS = DATA / "formats"
FORMATS_QUESTIONS = DATA / "formats_questions.jsonl"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_formats_corpus", DATA / "make_formats_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_formats_corpus_is_the_generators_output() -> None:
    made = _generator().files()
    committed = {
        p.relative_to(FORMATS_CORPUS).as_posix(): p.read_bytes()
        for p in FORMATS_CORPUS.rglob("*")
        if p.is_file()
    }
    assert committed == made


def test_formats_questions_quote_their_sources() -> None:
    docs = {d.source: d for d in load_corpus(FORMATS_CORPUS, Settings()).documents}
    questions = load_gold(FORMATS_QUESTIONS)
    extracted = [
        q for q in questions if all(format_of(s).name in ("pdf", "html") for s in q.sources)
    ]
    assert len(extracted) >= 20
    for q in questions:
        for source in q.sources:
            text = " ".join(docs[source].text.lower().split())
            assert all(" ".join(a.lower().split()) in text for a in q.answers), q.id


@pytest.mark.slow
def test_retrieval_over_the_formats_corpus(tmp_path: Path) -> None:
    """hit@5 of the real model over PDF, HTML, DOCX, Markdown and text files."""
    index = tmp_path / "index"
    settings = Settings()
    report = build_index(FORMATS_CORPUS, index, settings=settings)
    assert report.files == 12 and not report.skipped
    gold = evaluate_gold(load_gold(FORMATS_QUESTIONS), index_dir=index, k=5, settings=settings)
    assert gold.questions >= 20
    assert gold.hit5 >= 0.9, gold.misses
