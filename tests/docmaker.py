"""Make real HTML, PDF and DOCX files for the tests and the formats corpus, deterministically.

The PDF writer is a minimal one written here (Helvetica text, or one grey image for a "scan"):
no PDF library is needed to make test files, and the bytes never change between runs.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Sequence

LINE_CHARS = 80
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
# One fixed time for every DOCX part, so the same document gives the same bytes.
ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _text_stream(paragraphs: Sequence[str]) -> bytes:
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, LINE_CHARS):
            ops.append(f"({_escape(line)}) Tj T*")
        ops.append("T*")
    ops.append("ET")
    return "\n".join(ops).encode("cp1252")


def _stream(data: bytes, entries: str = "") -> bytes:
    return b"<< %s/Length %d >>\nstream\n" % (entries.encode(), len(data)) + data + b"\nendstream"


def pdf_bytes(
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    author: str | None = None,
    date: str | None = None,
    scanned: bool = False,
) -> bytes:
    """A PDF with one page a list of paragraphs; ``scanned`` pages hold an image, no text.
    ``date`` (YYYY-MM-DD) becomes the CreationDate."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree (written last)
    objects.append(FONT)  # 3
    kids = []
    for paragraphs in pages:
        if scanned:
            image = b"\x00\x80\x80\xff"  # 2 x 2 grey pixels
            entries = "/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray "
            objects.append(_stream(image, entries + "/BitsPerComponent 8 "))
            resources = f"<< /XObject << /Im1 {len(objects)} 0 R >> >>"
            content = b"q 400 0 0 500 100 150 cm /Im1 Do Q"
        else:
            resources = "<< /Font << /F1 3 0 R >> >>"
            content = _text_stream(paragraphs)
        objects.append(_stream(content))
        page = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {resources} "
            f"/Contents {len(objects)} 0 R >>"
        )
        objects.append(page.encode())
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    refs = " ".join(f"{k} 0 R" for k in kids)
    objects[1] = f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>".encode()
    info = [f"/Title ({_escape(title)})"] if title else []
    info += [f"/Author ({_escape(author)})"] if author else []
    info += [f"/CreationDate (D:{date.replace('-', '')}090000Z)"] if date else []
    if info:
        objects.append(("<< " + " ".join(info) + " >>").encode("cp1252"))
    return _assemble(objects, info_ref=len(objects) if info else None)


def _assemble(objects: list[bytes], info_ref: int | None) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1)
    if info_ref is not None:
        trailer += b" /Info %d 0 R" % info_ref
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def encrypted_pdf(data: bytes, user_password: str, owner_password: str = "owner") -> bytes:
    """The PDF encrypted (RC4, which pypdf opens without extra packages)."""
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(
    blocks: Sequence[tuple[str, object]], *, title: str | None = None, author: str = "qa tests"
) -> bytes:
    """A DOCX of blocks in order: ("title", text), ("heading", text), ("heading2", text),
    ("paragraph", text) or ("table", rows). The same blocks always give the same bytes."""
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title, props.author = title or "", author
    for kind, value in blocks:
        if kind == "title":
            document.add_heading(str(value), 0)
        elif kind.startswith("heading"):
            document.add_heading(str(value), int(kind[7:] or 1))
        elif kind == "paragraph":
            document.add_paragraph(str(value))
        else:
            rows = [list(map(str, row)) for row in value]  # type: ignore[attr-defined]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for i, row in enumerate(rows):
                for j, cell in enumerate(row):
                    table.cell(i, j).text = cell
    out = io.BytesIO()
    document.save(out)
    return _fixed_zip(out.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The zip archive with every entry stamped with ZIP_TIME."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def news_page(
    title: str,
    paragraphs: Sequence[str],
    *,
    site: str = "Coastal Gazette",
    author: str = "Mara Lind",
    date: str = "2024-03-18",
    subheads: dict[int, str] | None = None,
) -> str:
    """A saved news page: the article wrapped in navigation, a cookie banner, a newsletter
    box, related links and a footer. ``subheads`` puts an <h2> before paragraph i."""
    body = []
    for i, paragraph in enumerate(paragraphs):
        if subheads and i in subheads:
            body.append(f"<h2>{subheads[i]}</h2>")
        body.append(f"<p>{paragraph}</p>")
    article = "\n".join(body)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} | {site}</title>
<meta name="author" content="{author}">
<meta property="og:site_name" content="{site}">
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{date}T08:30:00Z">
</head><body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience on
our site. <button>Accept all cookies</button> <a href="/privacy">Manage preferences</a></div>
<header><nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a>
</li><li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li>
<li><a href="/subscribe">Subscribe</a></li></ul></nav></header>
<main><article>
<h1>{title}</h1>
<p class="byline">By {author}, {date}</p>
{article}
</article>
<aside class="newsletter-signup"><h3>Sign up for the Morning Briefing</h3>
<p>Get the day's top stories delivered to your inbox every weekday.</p>
<form><input type="email" placeholder="Your email"><button>Subscribe</button></form></aside>
<section class="related-articles"><h3>Related stories</h3><ul>
<li><a href="/news/ferry-strike">Ferry strike called off after late-night talks</a></li>
<li><a href="/news/tram-line">New tram line opens to the university campus</a></li>
<li><a href="/news/budget">Council budget vote delayed until spring</a></li></ul></section>
</main>
<footer><p>© 2024 {site}. All rights reserved.</p><ul><li><a href="/about">About us</a></li>
<li><a href="/contact">Contact</a></li><li><a href="/terms">Terms of use</a></li></ul></footer>
</body></html>
"""
