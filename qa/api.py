"""The public functions, in one place: building (qa.indexing.build, qa.indexing.watch) and querying
(qa.searching.query).

``from qa.api import ...`` and ``from qa import ...`` both reach them.
"""

from __future__ import annotations

from .answer.reader import score_sentences
from .indexing.build import PhaseFn, ProgressFn, build_index, indexed_text
from .indexing.watch import watch
from .searching.query import (
    Signals,
    answer_signals,
    ask,
    ask_stream,
    check_k,
    check_question,
    document_text,
    index_info,
    index_manifest,
    removed_text,
    search,
    verify_index,
)

__all__ = [
    "PhaseFn",
    "ProgressFn",
    "Signals",
    "answer_signals",
    "ask",
    "ask_stream",
    "build_index",
    "check_k",
    "check_question",
    "document_text",
    "index_info",
    "index_manifest",
    "indexed_text",
    "removed_text",
    "score_sentences",
    "search",
    "verify_index",
    "watch",
]
