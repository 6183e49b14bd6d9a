"""Extractive answers: pick the sentence(s) of the top passages that best answer the question,
estimate how likely that sentence is right, and decide what the reply leads with (pure).

Each sentence of the top passages is scored by
``W_DENSE * cosine(question, sentence) + W_LEXICAL * share of the question's keyword stems it
contains + W_PASSAGE * (1 / its passage's rank) + W_TYPE * (1 if it holds the kind of answer
the question asks for: a reason, a date, a number)``: the cheap score, from vectors computed at
build time. With the reader (``qa.answer.reader``, a cross-encoder), the best of them are read,
and the reader's logit plus ``W_CHEAP`` times the cheap score decides. The best sentence is the
answer; the sentence right after it joins when it scores nearly as well (a fact told over two
sentences). No language model is involved, so every word of an answer is a quotation with
exact offsets.

The confidence is a logistic model of seven signals of the chosen sentence, the reader's logit
among them (``CONFIDENCE``), fitted on the development question sets by
``benchmarks/fit_confidence.py`` (``make calibrate``): the probability that the quoted sentence
holds the answer. The outcome follows from it (``outcome``): ``answered`` when it is high
enough to stand behind, ``not_found`` when it is very low, no sentence read is likely at all,
or the best sentence hardly relates to the question, ``passages`` between.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..types import Citation, Hit, Span
from .answertype import W_TYPE, asked, type_match
from .reader import logit

W_DENSE = 0.6
W_LEXICAL = 0.3
W_PASSAGE = 0.1
SECOND_SENTENCE_RATIO = 0.92
MAX_PASSAGES = 3
# With the reader (qa.answer.reader), chosen on the development questions (docs/reader.md):
# candidates from this many passages, the READ_CANDIDATES best by the cheap score read (its
# latency), ranked by the reader's logit plus W_CHEAP times the cheap score.
READ_PASSAGES = 5
READ_CANDIDATES = 12
W_CHEAP = 6.0
# The passage holding the chosen sentence is put first when the reader gives that sentence at
# least this probability (dev: hit@1 0.475 -> 0.575; docs/reader.md).
LEAD_FIRST_FROM = 0.2
# Fragments shorter than this answer nothing (headings, "But Cav's still Cav."): they are never
# quoted, and they are left out of the passage ranking's best-sentence signal
# (qa.searching.retrieval).
MIN_SENTENCE_WORDS = 6
# A word of the question that no article holds still counts as mentioned when a sentence of the
# passages is this close to it in meaning (measured: "injury" 0.39 to "a broken collarbone";
# "salary", "wife", "children" at most 0.20 to any sentence of their passages).
WORD_MENTION_COSINE = 0.35

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
_KEY_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")

# Words of a question that ask rather than say what it is about: never key terms.
_ASKING = frozenset(
    """what which who whom whose when where why how does did do done is are was were be been
    being has have had say said says tell told think thinks thought many much long old kind
    sort type happen happened happens get gets got make made one ones thing things the a an
    and or but of in on at to for from with about by as into after before during his her
    their its he she they them him it this that these those there here will would could
    should can may might must shall not no yes any some more most very really also just
    according article articles report reports""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Candidate:
    passage: int
    start: int  # offsets into the source file
    end: int
    text: str
    order: int  # position of the sentence within its passage


@dataclass(frozen=True)
class Choice:
    """The chosen answer sentences and the signals the confidence is computed from."""

    sentences: tuple[Candidate, ...]
    cosine: float  # of the best sentence to the question
    margin: float  # its score minus the next best sentence's
    coverage: float  # share of the question's keyword stems it holds
    typed: float  # 1 when the question asks for a kind of answer and the sentence holds one
    # The reader's probability that the best sentence answers (qa.answer.reader), and its
    # highest for any sentence read (1 without a reader).
    reader: float = 0.5
    reader_max: float = 1.0
    # Every candidate, best first, with its reader probability (-1: not read, ranked by the
    # cheap score after those read); evaluation scores the reader's ranking from it.
    ranked: tuple[tuple[Candidate, float], ...] = ()


SentencesOf = Callable[[Hit], tuple[list[Span], list[str], np.ndarray]]
Stems = Callable[[str], list[str]]
# The reader: each sentence's probability of answering the question (qa.answer.reader).
Read = Callable[[str, list[str]], np.ndarray]


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
            if key in seen or len(_WORD.findall(text)) < MIN_SENTENCE_WORDS:
                continue
            seen.add(key)
            out.append(Candidate(p, span.start, span.end, text, order))
            vecs.append(vectors[order])
    # Headings and titles (no closing punctuation) state no answer: leave them out when there
    # is a sentence that ends like one (measured on the dev sets: seeds 32 -> 33 of 80
    # likeliest sentences right, the mixed-format set 24 -> 26 of 32).
    keep = [i for i, c in enumerate(out) if _SENTENCE_END.search(c.text)]
    if keep and len(keep) < len(out):
        out, vecs = [out[i] for i in keep], [vecs[i] for i in keep]
    return out, np.array(vecs, dtype=np.float32)


def choose(
    question: str,
    question_vector: np.ndarray,
    question_terms: Sequence[str],
    hits: Sequence[Hit],
    sentences_of: SentencesOf,
    stem_terms: Stems,
    read: Read | None = None,
) -> Choice | None:
    """The answer sentences (one or two) with their signals; None when there is no sentence.

    The cheap score (cosine, shared terms, passage rank, answer type) ranks every candidate
    of the first MAX_PASSAGES passages. With a reader, candidates come from READ_PASSAGES
    passages; the READ_CANDIDATES best by the cheap score are read, and the reader's logit
    plus W_CHEAP times the cheap score ranks them (both chosen on the development questions).
    """
    cands, vecs = candidates(hits, sentences_of, MAX_PASSAGES if read is None else READ_PASSAGES)
    if not cands:
        return None
    dense = vecs @ question_vector
    terms = set(question_terms)
    lexical = np.array(
        [len(terms & set(stem_terms(c.text))) / len(terms) if terms else 0.0 for c in cands]
    )
    prior = np.array([1.0 / (1 + c.passage) for c in cands])  # 1, 1/2, 1/3 by passage rank
    typed = type_match(question, [c.text for c in cands])
    score = W_DENSE * dense + W_LEXICAL * lexical + W_PASSAGE * prior + W_TYPE * typed
    order = np.argsort(-score, kind="stable")
    probability = np.full(len(cands), -1.0)  # -1: not read
    if read is not None:
        chosen_ones = order[:READ_CANDIDATES]
        probability[chosen_ones] = read(question, [cands[i].text for i in chosen_ones])
        rank = np.full(len(cands), -np.inf)  # the ones not read follow, by the cheap score
        rank[chosen_ones] = [logit(p) for p in probability[chosen_ones]]
        rank[chosen_ones] += W_CHEAP * score[chosen_ones]
        order = np.array(sorted(order, key=lambda i: -rank[i]), dtype=np.int64)
        score = np.where(probability >= 0, probability, -1.0)  # the second sentence's test
    best = int(order[0])
    chosen = [cands[best]]
    after = [
        i
        for i, c in enumerate(cands)
        if c.passage == cands[best].passage and c.order == cands[best].order + 1
    ]
    if after and score[after[0]] >= SECOND_SENTENCE_RATIO * score[best]:
        chosen.append(cands[after[0]])
    margin = 1.0
    if len(order) > 1:
        margin = float(min(score[best] - score[order[1]], 1.0))
    return Choice(
        sentences=tuple(chosen),
        cosine=float(dense[best]),
        margin=margin,
        coverage=float(lexical[best]),
        typed=float(typed[best]) if asked(question) else 0.5,
        reader=float(probability[best]) if read is not None else 0.5,
        reader_max=float(probability.max()) if read is not None else 1.0,
        ranked=tuple((cands[i], float(probability[i])) for i in order),
    )


def lead_first(
    choice: Choice | None, hits: Sequence[Hit], threshold: float = LEAD_FIRST_FROM
) -> tuple[Choice | None, list[Hit]]:
    """The passages with the one holding the chosen sentence first, when the reader stands
    behind that sentence (``choice.reader`` at least ``threshold``), ranks renumbered and the
    choice's passage numbers moved with them; else both as they are."""
    if choice is None or not choice.sentences or choice.reader < threshold:
        return choice, list(hits)
    lead = choice.sentences[0].passage
    if lead == 0:
        return choice, list(hits)
    order = [lead, *(i for i in range(len(hits)) if i != lead)]
    where = {old: new for new, old in enumerate(order)}

    def moved(c: Candidate) -> Candidate:
        return replace(c, passage=where[c.passage])

    reordered = [replace(hits[i], rank=n) for n, i in enumerate(order, start=1)]
    return (
        replace(
            choice,
            sentences=tuple(moved(c) for c in choice.sentences),
            ranked=tuple((moved(c), p) for c, p in choice.ranked),
        ),
        reordered,
    )


def key_terms(question: str) -> list[tuple[str, str]]:
    """The words of a question that say what it is about, with their kind: ``name``
    (capitalised, not the first word), ``number`` (holds a digit) or ``word``."""
    out: list[tuple[str, str]] = []
    for i, m in enumerate(_KEY_WORD.finditer(question)):
        word = m.group()
        if word.lower() in _ASKING or (len(word) < 3 and not word.isdigit()):
            continue
        if any(ch.isdigit() for ch in word):
            kind = "number"
        elif word[0].isupper() and i > 0:
            kind = "name"
        else:
            kind = "word"
        out.append((word, kind))
    return out


def topic_terms(question: str, stem_terms: Stems) -> list[str]:
    """The question's indexed stems, without the words that only ask ("who", "did", "say")."""
    asking = set(stem_terms(" ".join(_ASKING)))
    return list(dict.fromkeys(t for t in stem_terms(question) if t not in asking))


def unknown_words(
    question: str, corpus_vocabulary: Collection[str], stem_terms: Stems
) -> list[str]:
    """The question's ordinary key words that no article holds (``stem_terms`` gives all the
    stems of a text, not only the indexed ones)."""
    out = []
    for word, kind in key_terms(question):
        stems = stem_terms(word)
        if kind == "word" and stems and not any(s in corpus_vocabulary for s in stems):
            out.append(word)
    return list(dict.fromkeys(out))


def missing_terms(
    question: str,
    passages: Sequence[str],
    stem_terms: Stems,
    unknown: Sequence[str] = (),
    unknown_similarity: Sequence[float] = (),
) -> tuple[str, ...]:
    """Key terms of the question that none of the passages mention.

    A name or a number is missing when no passage holds it. An ordinary word is often
    paraphrased ("injury" for "fractured collarbone"), so one that no article holds
    (``unknown``) is missing only when no sentence of the passages comes near it in meaning
    either (``unknown_similarity``: its best cosine to one, below WORD_MENTION_COSINE).
    """
    held: set[str] = set()
    for text in passages:
        held.update(stem_terms(text))
    out: list[str] = []
    for word, kind in key_terms(question):
        stems = stem_terms(word)
        if kind != "word" and stems and not any(s in held for s in stems):
            out.append(word)
    out += [
        w for w, sim in zip(unknown, unknown_similarity, strict=True) if sim < WORD_MENTION_COSINE
    ]
    return tuple(dict.fromkeys(out))


# Logistic model of P(the quoted sentence holds the answer), fitted by
# benchmarks/fit_confidence.py on the development question sets (answerable and not).
CONFIDENCE = {
    "bias": -1.844,
    "reader": 0.412,
    "cosine": 1.500,
    "margin": 2.858,
    "coverage": 0.551,
    "typed": 0.574,
    "missing": -0.159,
    "top_dense": -2.355,
}


def confidence_features(choice: Choice, missing: int, top_dense: float) -> dict[str, float]:
    return {
        "reader": logit(choice.reader),
        "cosine": choice.cosine,
        "margin": choice.margin,
        "coverage": choice.coverage,
        "typed": choice.typed,
        "missing": float(missing),
        "top_dense": top_dense,
    }


def confidence(features: dict[str, float], weights: dict[str, float] = CONFIDENCE) -> float:
    z = weights["bias"] + sum(weights[k] * v for k, v in features.items())
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)  # the same, without overflow for a very negative z
    return e / (1.0 + e)


def unheard(
    question: str, missing: Sequence[str], vocabulary: Collection[str], stem_terms: Stems
) -> tuple[str, ...]:
    """The names and numbers of the question that no article holds at all ("Froome", "2009"):
    a question about them cannot be answered from these articles. (Measured on the dev sets:
    7 of 55 unanswerable questions have one, none of 80 answerable ones.)"""
    kinds = dict(key_terms(question))
    return tuple(
        w
        for w in missing
        if kinds.get(w) in ("name", "number") and not any(s in vocabulary for s in stem_terms(w))
    )


def outcome(
    choice: Choice | None,
    probability: float,
    answer_from: float,
    not_found_below: float,
    min_cosine: float,
    unheard: bool = False,
    read_below: float = 0.0,
) -> str:
    """``answered``, ``passages`` or ``not_found`` (see ``qa.types.Answer``); ``unheard``: the
    question names something no article mentions; ``read_below``: no sentence the reader read
    reaches this probability."""
    if choice is None or unheard or choice.cosine < min_cosine or probability < not_found_below:
        return "not_found"
    if choice.reader_max < read_below:
        return "not_found"
    return "answered" if probability >= answer_from else "passages"


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


def looks_english(question: str) -> bool:
    """Whether a question of three words or more has an English function word ("what", "the",
    "did"): the articles' language, which the missing-word hints assume."""
    words = [w.lower() for w in _KEY_WORD.findall(question)]
    return len(words) < 3 or any(w in _ASKING and len(w) > 1 for w in words)


def status_line(status: str, missing: Sequence[str], question: str | None = None) -> str:
    """What a reply says before its passages when it quotes no answer ('' when it does).

    With the question as typed, only its own words are named as missing (a follow-up searches
    with words of the previous question too), and a question in another language is told that
    the articles are in English instead of hearing its function words named."""
    if status == "answered":
        return ""
    if question is not None and not looks_english(question):
        return "The articles are in English, and nothing in them matched this question. " + (
            "The closest passages:" if status == "not_found" else "The closest passage says:"
        )
    if question is not None:
        typed = question.lower()
        missing = [w for w in missing if w.lower() in typed]
    gap = ""
    if missing:
        words = ", ".join(f"“{w}”" for w in missing)
        gap = f"The articles don't mention {words}. "
    if status == "not_found":
        return f"The articles don't say. {gap}The closest passages:"
    return f"{gap}Not certain; the closest passage says:"
