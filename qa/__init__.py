"""qa: local, offline question answering over a folder of articles, with citations."""

from .api import (
    ask,
    build_index,
    document_text,
    index_info,
    removed_text,
    score_sentences,
    search,
    watch,
)
from .config import Settings
from .errors import QAError
from .types import Answer, BuildReport, Citation, DocumentText, FormatCount, Hit

__all__ = [
    "Answer",
    "BuildReport",
    "Citation",
    "DocumentText",
    "FormatCount",
    "Hit",
    "QAError",
    "Settings",
    "ask",
    "build_index",
    "document_text",
    "index_info",
    "removed_text",
    "score_sentences",
    "search",
    "watch",
]
__version__ = "0.1.0"
