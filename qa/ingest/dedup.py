"""Collapse near-duplicate passages (syndicated or repeated text) in a ranked list (pure).

Two passages are near-duplicates when their embeddings are almost parallel (cosine >=
``MIN_COSINE``) *and* they share most of their word trigrams (Jaccard >= ``MIN_JACCARD``):
the cosine alone also joins passages that merely discuss the same thing. The better-ranked
passage stays; the sources of the ones folded into it are kept with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

MIN_COSINE = 0.95
MIN_JACCARD = 0.5
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def collapse(
    texts: Sequence[str], sources: Sequence[str], vectors: np.ndarray, keep: int
) -> list[tuple[int, tuple[str, ...]]]:
    """Indices of the first ``keep`` distinct passages (in the given order), each with the
    other sources of the near-duplicates folded into it."""
    kept: list[int] = []
    others: dict[int, list[str]] = {}
    vectors = np.asarray(vectors, dtype=np.float32)
    kept_vectors = np.empty((max(min(keep, len(texts)), 0), vectors.shape[-1]), np.float32)
    grams: dict[int, frozenset[tuple[str, ...]]] = {}  # computed only for close pairs

    def gram(i: int) -> frozenset[tuple[str, ...]]:
        if i not in grams:
            grams[i] = shingles(texts[i])
        return grams[i]

    for i in range(len(texts)):
        # Compared with the kept passages only: one matrix-vector product per passage.
        cosine = kept_vectors[: len(kept)] @ vectors[i]
        close = [kept[p] for p in np.flatnonzero(cosine >= MIN_COSINE)]
        twin = next((j for j in close if jaccard(gram(i), gram(j)) >= MIN_JACCARD), None)
        if twin is not None:
            if sources[i] != sources[twin] and sources[i] not in others[twin]:
                others[twin].append(sources[i])
        elif len(kept) < keep:
            kept_vectors[len(kept)] = vectors[i]
            kept.append(i)
            others[i] = []
    return [(i, tuple(others[i])) for i in kept]
