"""Fit the answer confidence (qa.answer.extractive.CONFIDENCE) and the outcome thresholds
(qa.config.ANSWER_FROM, NOT_FOUND_BELOW) on the development question sets.

    python benchmarks/fit_confidence.py [INDEX] [--gold FILE ...]   # (make calibrate)

INDEX must hold the seed articles built with the default model. For every development question
the script takes the signals ask() computes (qa.api.answer_signals), labels the chosen sentence
right when it comes from a gold source and holds a gold phrase (unanswerable questions: always
wrong), and fits an L2-regularised logistic regression by Newton's method. It then picks:

* ANSWER_FROM: the lowest confidence at which the quoted answers of the development set are
  right at least TARGET_PRECISION of the time (the highest precision found if none reaches it);
* ABSTAIN_BELOW, READ_BELOW, then NOT_FOUND_BELOW: the highest best-sentence cosine, then the
  highest reader probability (of the best sentence the reader read), then the highest
  confidence, below which at most MAX_FALSE_DECLINES of the answerable development questions
  would be declined.

It prints the values to paste into qa/answer/extractive.py and qa/config.py. The test sets are
never read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from qa import Settings
from qa.answer.extractive import CONFIDENCE, confidence
from qa.api import answer_signals
from qa.evaluate import answers_it, load_gold

ROOT = Path(__file__).resolve().parent.parent
DEV = [ROOT / "tests/data/seeds_dev.jsonl", ROOT / "tests/data/seeds_unanswerable_dev.jsonl"]
TARGET_PRECISION = 0.85
MAX_FALSE_DECLINES = 0.03
L2 = 1.0


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2) -> np.ndarray:
    """Weights (bias first) of a logistic regression with an L2 penalty (bias unpenalised)."""
    a = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(a.shape[1])
    penalty = np.full(a.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + penalty * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", nargs="?", default="index")
    parser.add_argument("--gold", nargs="*", type=Path, default=DEV)
    args = parser.parse_args()
    settings = Settings()
    names = list(CONFIDENCE)[1:]
    rows, labels, answerable, cosines, read_max = [], [], [], [], []
    for path in args.gold:
        for gold in load_gold(path):
            signals = answer_signals(gold.question, 5, args.index, settings=settings)
            if signals.choice is None:
                continue
            right = bool(gold.sources) and any(
                answers_it(c.text, signals.hits[c.passage].source, gold)
                for c in signals.choice.sentences
            )
            rows.append([signals.features[n] for n in names])
            labels.append(float(right))
            answerable.append(bool(gold.sources))
            cosines.append(signals.choice.cosine)
            read_max.append(signals.choice.reader_max)
    x, y = np.array(rows), np.array(labels)
    is_answerable, cos, read = np.array(answerable), np.array(cosines), np.array(read_max)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    w = fit_logistic((x - mean) / std, y)
    weights = {"bias": float(w[0] - (w[1:] * mean / std).sum())}
    weights.update({n: float(wi / si) for n, wi, si in zip(names, w[1:], std, strict=True)})
    p = np.array([confidence(dict(zip(names, r, strict=True)), weights) for r in x])

    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    answer_from, best = float(grid[-1]), -1.0
    for t in grid:
        chosen = p >= t
        if chosen.sum() < 3:
            break
        precision = float(y[chosen].mean())
        if precision >= TARGET_PRECISION:
            answer_from = float(t)
            break
        if precision > best:
            best, answer_from = precision, float(t)

    def declined(min_cos: float, below: float, read_below: float) -> np.ndarray:
        return (p < below) | (cos < min_cos) | (read < read_below)

    def false_declines(min_cos: float, below: float, read_below: float = 0.0) -> float:
        wrongly = declined(min_cos, below, read_below) & is_answerable
        return float(wrongly.sum() / max(is_answerable.sum(), 1))

    min_cos = 0.0
    for t in np.round(np.arange(0.0, 0.61, 0.01), 2):
        if false_declines(float(t), 0.0) > MAX_FALSE_DECLINES:
            break
        min_cos = float(t)
    read_below = 0.0
    for t in np.round(np.arange(0.0, 0.61, 0.01), 2):
        if false_declines(min_cos, 0.0, float(t)) > MAX_FALSE_DECLINES:
            break
        read_below = float(t)
    not_found_below = 0.0
    for t in grid:
        if false_declines(min_cos, float(t), read_below) > MAX_FALSE_DECLINES:
            break
        not_found_below = float(t)
    answered = p >= answer_from
    print(f"{len(y)} questions ({int(is_answerable.sum())} answerable), {int(y.sum())} right")
    print("CONFIDENCE = {")
    for key, value in weights.items():
        print(f'    "{key}": {value:.3f},')
    print("}")
    print(f"ANSWER_FROM = {answer_from:.2f}  (dev precision {y[answered].mean():.3f}, ", end="")
    print(f"coverage {answered[is_answerable].mean():.3f})")
    declined_unans = declined(min_cos, not_found_below, read_below)[~is_answerable].mean()
    print(f"ABSTAIN_BELOW = {min_cos:.2f} (best sentence cosine)")
    print(f"READ_BELOW = {read_below:.2f} (the reader's highest probability)")
    print(f"NOT_FOUND_BELOW = {not_found_below:.2f}  (dev unanswerable declined ", end="")
    print(f"{declined_unans:.3f})")


if __name__ == "__main__":
    main()
