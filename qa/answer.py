"""Extractive answers: pick the sentence(s) in the top passages that best answer the question.

Each sentence of the top passages is scored by
``W_DENSE * cosine(question, sentence) + W_LEXICAL * share of the question's keyword stems it
contains + W_PASSAGE * (1 / its passage's rank) + W_TYPE * (1 if it
holds the kind of answer the question asks for: a reason, a date, a number)``. Sentence vectors
are computed at build time, so answering costs no model call beyond the question's.
The best sentence is the answer; the sentence right after it joins when it scores nearly as
well (a fact told over two sentences). No language model is involved, so every word of an
answer is a quotation with exact offsets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .answertype import W_TYPE, type_match
from .types import Citation, Hit, Span

W_DENSE = 0.6
W_LEXICAL = 0.3
W_PASSAGE = 0.1
SECOND_SENTENCE_RATIO = 0.92
MIN_WORDS = 4
MAX_PASSAGES = 3

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Candidate:
    passage: int
    start: int  # offsets into the source file
    end: int
    text: str
    order: int  # position of the sentence within its passage


SentencesOf = Callable[[Hit], tuple[list[Span], list[str], np.ndarray]]


def candidates(
    hits: Sequence[Hit], sentences_of: SentencesOf, max_passages: int = MAX_PASSAGES
) -> tuple[list[Candidate], np.ndarray]:
    """The distinct sentences of the top passages worth quoting, with their vectors."""
    out: list[Candidate] = []
    vecs: list[np.ndarray] = []
    seen: set[str] = set()
    for p, hit in enumerate(hits[:max_passages]):
        spans, texts, vectors = sentences_of(hit)
        for order, (span, text) in enumerate(zip(spans, texts, strict=True)):
            key = " ".join(text.lower().split())
            if key in seen or len(_WORD.findall(text)) < MIN_WORDS:
                continue
            seen.add(key)
            out.append(Candidate(p, span.start, span.end, text, order))
            vecs.append(vectors[order])
    return out, np.array(vecs, dtype=np.float32)


def choose(
    question: str,
    question_vector: np.ndarray,
    question_terms: Sequence[str],
    hits: Sequence[Hit],
    sentences_of: SentencesOf,
    stem_terms: Callable[[str], list[str]],
) -> tuple[list[Candidate], float]:
    """The answer sentences (one or two) and the best sentence's score."""
    cands, vecs = candidates(hits, sentences_of)
    if not cands:
        return [], 0.0
    dense = vecs @ question_vector
    terms = set(question_terms)
    lexical = np.array(
        [len(terms & set(stem_terms(c.text))) / len(terms) if terms else 0.0 for c in cands]
    )
    prior = np.array([1.0 / (1 + c.passage) for c in cands])  # 1, 1/2, 1/3 by passage rank
    typed = type_match(question, [c.text for c in cands])
    score = W_DENSE * dense + W_LEXICAL * lexical + W_PASSAGE * prior + W_TYPE * typed
    best = int(np.argmax(score))
    chosen = [cands[best]]
    after = [
        i
        for i, c in enumerate(cands)
        if c.passage == cands[best].passage and c.order == cands[best].order + 1
    ]
    if after and score[after[0]] >= SECOND_SENTENCE_RATIO * score[best]:
        chosen.append(cands[after[0]])
    return chosen, float(dense[best])


def citations(chosen: Sequence[Candidate], hits: Sequence[Hit]) -> tuple[Citation, ...]:
    return tuple(
        Citation(
            number=i,
            source=hits[c.passage].source,
            start=c.start,
            end=c.end,
            text=c.text,
            title=hits[c.passage].title,
            date=hits[c.passage].date,
            passage=c.passage,
        )
        for i, c in enumerate(chosen, start=1)
    )
