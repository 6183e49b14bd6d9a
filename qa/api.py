"""The public functions, in one place: building (qa.build, qa.watch) and querying (qa.query).

``from qa.api import ...`` and ``from qa import ...`` both reach them.
"""

from __future__ import annotations

from .build import PhaseFn, ProgressFn, build_index, indexed_text
from .query import (
    Signals,
    answer_signals,
    ask,
    ask_stream,
    check_k,
    check_question,
    document_text,
    index_info,
    removed_text,
    search,
    verify_index,
)
from .watch import watch

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
    "indexed_text",
    "removed_text",
    "search",
    "verify_index",
    "watch",
]
