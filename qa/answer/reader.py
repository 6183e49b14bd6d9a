"""The reader: the probability that a sentence answers a question, from a cross-encoder trained
here on SQuAD (``training/reader.py``; how it was made and how it measures: docs/reader.md).

It reads ``[CLS] question [SEP] sentence [SEP]`` through the first layers of all-MiniLM-L6-v2,
fine-tuned, mean-pools the last layer and maps it to one logit. The package carries only what
training changed (``weights/reader.safetensors``, float16, with ``weights/reader.json``); the
word and position embeddings, frozen in training, and the tokenizer come from the installed
MiniLM. It runs in numpy (``qa.encode.bert.Layers``), so answering a question imports no
torch, and it is loaded once per process (``get_reader``).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..encode.bert import Layers, linear_weights, mean_pooled
from ..encode.embedding import model_path
from ..errors import InvalidArgumentError, ModelError

WEIGHTS = Path(__file__).resolve().parent / "weights"
# Frozen in training, so read from the installed MiniLM rather than shipped twice.
_FROZEN = ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight")


class Reader(Layers):
    """Scores (question, sentence) pairs: ``probabilities(question, sentences)``."""

    def __init__(self, weights: Path = WEIGHTS) -> None:
        from safetensors import safe_open
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        try:
            config: dict[str, Any] = json.loads((weights / "reader.json").read_text("utf-8"))
            trained = load_file(str(weights / "reader.safetensors"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"the reader's weights in {weights} cannot be read: {exc}") from exc
        base = model_path(config["base"])
        with safe_open(str(base / "model.safetensors"), framework="numpy") as f:
            frozen = {name: f.get_tensor(name) for name in _FROZEN}
        if frozen[_FROZEN[0]].shape[1] != int(config["hidden"]):
            raise ModelError(f"the reader in {weights} does not fit the model at {base}")
        super().__init__(
            linear_weights({**frozen, **trained}),
            heads=int(config["heads"]),
            layers=int(config["layers"]),
            eps=float(config["layer_norm_eps"]),
        )
        self.max_tokens = int(config["max_tokens"])
        self.tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens, strategy="longest_first")

    def logits(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """One logit per sentence, all pairs in one padded batch."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        pairs = self.tokenizer.encode_batch([(question, s) for s in sentences])
        pooled = mean_pooled(*self.hidden([p.ids for p in pairs], [p.type_ids for p in pairs]))
        weight = self.w["head.weight"].reshape(-1)
        return np.asarray(pooled @ weight + self.w["head.bias"][0], dtype=np.float32)

    def probabilities(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        return sigmoid(self.logits(question, sentences))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float32)  # no overflow


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


_READER: Reader | None = None
_LOCK = threading.Lock()


def get_reader() -> Reader:
    """The shipped reader, loaded once per process."""
    global _READER
    with _LOCK:
        if _READER is None:
            _READER = Reader()
        return _READER


def score_sentences(question: str, sentences: Sequence[str]) -> list[float]:
    """The reader's probability that each sentence answers the question, in order."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidArgumentError("the question must be non-empty text")
    if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
        raise InvalidArgumentError("sentences must be a sequence of strings")
    if not sentences:
        return []
    return [float(p) for p in get_reader().probabilities(question.strip(), list(sentences))]
