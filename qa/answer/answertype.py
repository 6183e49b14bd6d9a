"""What kind of answer a question asks for (a reason, a date, a number, a person, an injury),
and which sentences hold that kind of answer: a small bonus for answer choice, and for passage
ranking (the first three kinds only, ``RANKING_KINDS``) (pure).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

W_TYPE = 0.15  # bonus when a sentence holds the kind of answer the question asks for

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
# Expected answer type from the question's wording -> what a sentence of that type holds.
_ANSWER_TYPES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        re.compile(r"^\W*(?:and\s+)?why\b|\breason\b|\bwhat (?:made|led)\b", re.I),
        re.compile(
            r"\b(?:because|since|so that|in order to|aim|aims|aiming|goal|target|targets|"
            r"quest|bid|to (?:win|break|chase|become|target|attempt)|looks to|reason|"
            r"record|dream|mission)\b",
            re.I,
        ),
    ),
    (
        re.compile(r"^\W*(?:and\s+)?when\b|\bwhat (?:year|month|day|date)\b", re.I),
        re.compile(
            rf"\b(?:{_MONTHS}|\d{{4}}|monday|tuesday|wednesday|thursday|friday|saturday|"
            r"sunday|yesterday|today|last (?:week|month|year)|next (?:week|month|year))\b",
            re.I,
        ),
    ),
    (
        re.compile(r"\bhow (?:many|much|old|far|long)\b|\bwhat (?:number|age)\b", re.I),
        re.compile(
            r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
            r"dozen|hundred|thousand|first|second|third)\b",
            re.I,
        ),
    ),
    (
        re.compile(r"^\W*(?:and\s+)?who\b|\bwhich (?:rider|coach|person|man|woman|boss)\b", re.I),
        re.compile(r"(?<!^)\b[A-Z][\w’'-]+\s+[A-Z][\w’'-]+"),
    ),
    (
        re.compile(r"\binjur|\bhurt\b|\bwound", re.I),
        re.compile(
            r"\b(?:injur\w*|collarbone|fractur\w*|broke|broken|crash\w*|bones?|"
            r"concussion|surgery|abandon\w*)\b",
            re.I,
        ),
    ),
]


# The kinds that also weigh in passage ranking: a person and an injury help choose the answer
# sentence, but were added after the ranking was measured on SciFact and the seeds, and are
# left out of it so that ranking stays as measured.
RANKING_KINDS = 0b111


def asked(question: str) -> int:
    """Bit mask of the kinds of answer the question asks for (0: no particular kind)."""
    return sum(1 << i for i, (asks, _) in enumerate(_ANSWER_TYPES) if asks.search(question))


def held(sentence: str) -> int:
    """Bit mask of the kinds of answer the sentence holds."""
    return sum(1 << i for i, (_, found) in enumerate(_ANSWER_TYPES) if found.search(sentence))


def type_match(question: str, sentences: Sequence[str]) -> np.ndarray:
    """1.0 for each sentence holding the kind of answer the question asks for, else 0.0."""
    mask = asked(question)
    return np.array([1.0 if mask and held(s) & mask else 0.0 for s in sentences])
