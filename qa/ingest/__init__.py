"""Ingest: files in, sentences out.

A corpus folder is listed (``documents.scan``), each file read by its format's reader
(``readers``: text, Markdown, HTML, PDF, DOCX), scraped-page boilerplate removed (``cleaning``),
and the text cut into token-counted chunks along sentence boundaries (``sentences``,
``chunking``, ``tokens``). Reading runs in worker processes (``pool``). Hands on: a
``Document`` per file, its chunks and sentences with exact character offsets into the text;
``dedup`` collapses near-duplicate passages for search.
"""
