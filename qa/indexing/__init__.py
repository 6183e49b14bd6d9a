"""Indexing: chunks and vectors in, a live index generation on disk out.

``build`` plans (what changed since the last build), embeds what no checkpoint holds
(``checkpoint``, ``spool``, ``rows``, ``scratch``) and writes a new generation of the index
(``index``: chunk table, ``dense`` vectors with an exact or HNSW search, the ``keyword`` BM25
postings of ``bm25``) that ``store`` switches live atomically, described by its ``manifest``.
``watch`` builds again whenever the corpus changes. Hands on: a ``StoredIndex`` to search.
"""
