"""A BERT sentence encoder in numpy, for encoding questions without importing torch.

Importing torch, transformers and sentence-transformers takes seconds, far longer than
encoding a question once they are loaded. At query time this module runs the same model
(all-MiniLM-L6-v2: BERT, mean pooling, L2 normalisation) from the same files: the weights
through ``safetensors``, the tokenizer through ``tokenizers`` (the library transformers uses),
the arithmetic in float32 numpy. Its vectors match sentence-transformers' to a cosine of
0.9999 and better (tests/test_bert.py), so questions encoded here search passages encoded by
sentence-transformers at build time.

Only the plain BERT architecture with mean pooling and normalisation is read; anything else
raises ``ValueError`` (callers then use sentence-transformers).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

_FLOAT = np.float32


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return np.asarray(((x - mean) / np.sqrt(var + eps)) * weight + bias, dtype=_FLOAT)


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function to 1.5e-7 (Abramowitz and Stegun 7.1.26), without scipy."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.asarray(sign * (1.0 - poly * np.exp(-a * a)), dtype=_FLOAT)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the error function, as BERT's "gelu" is defined."""
    return np.asarray(0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))), dtype=_FLOAT)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=_FLOAT)


def _is_linear(name: str, value: np.ndarray) -> bool:
    return name.startswith("encoder.") and name.endswith(".weight") and value.ndim == 2


def plain_config(path: Path) -> dict[str, Any]:
    """The ``config.json`` of the model folder ``path``, if it holds a plain BERT model with mean
    pooling and normalisation (as all-MiniLM-L6-v2); else ``ValueError``."""
    config: dict[str, Any] = json.loads((path / "config.json").read_text(encoding="utf-8"))
    modules = [m["type"] for m in json.loads((path / "modules.json").read_text("utf-8"))]
    pooling = json.loads((path / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    plain = (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and modules
        == [
            "sentence_transformers.models.Transformer",
            "sentence_transformers.models.Pooling",
            "sentence_transformers.models.Normalize",
        ]
        and pooling.get("pooling_mode_mean_tokens")
        and not any(
            v
            for k, v in pooling.items()
            if k.startswith("pooling_mode_") and "mean_tokens" not in k
        )
    )
    if not plain:
        raise ValueError(f"{path} is not a plain mean-pooled, normalised BERT model")
    return config


def reading(path: Path) -> tuple[int, bool]:
    """How the model reads text, from its ``sentence_bert_config.json``: the most tokens (with
    [CLS] and [SEP]), and whether texts are lower-cased first."""
    config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config.get("max_seq_length", 256)), bool(config.get("do_lower_case", False))


def linear_weights(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """BERT weights as the numpy layers read them: float32, linear layers' weights transposed to
    (in, out) and contiguous (``x @ w``)."""
    return {
        k: np.ascontiguousarray(v.T if _is_linear(k, v) else v, dtype=_FLOAT)
        for k, v in weights.items()
    }


class Layers:
    """BERT's embedding sum and transformer layers in float32 numpy, over weights named as in
    a BERT ``model.safetensors`` (see ``linear_weights``)."""

    def __init__(self, w: dict[str, np.ndarray], heads: int, layers: int, eps: float) -> None:
        self.w, self.heads, self.layers, self.eps = w, heads, layers, eps

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return np.asarray(x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"], dtype=_FLOAT)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps)

    def _attention(self, x: np.ndarray, starts: list[int], layer: str) -> np.ndarray:
        hidden = x.shape[1]
        size = hidden // self.heads
        q = self._linear(x, f"{layer}.attention.self.query") / _FLOAT(math.sqrt(size))
        k = self._linear(x, f"{layer}.attention.self.key")
        v = self._linear(x, f"{layer}.attention.self.value")
        context = np.empty_like(x)
        for a, b in itertools.pairwise(starts):  # each text attends to its own tokens only

            def heads(t: np.ndarray, a: int = a, b: int = b) -> np.ndarray:  # (heads, n, size)
                return t[a:b].reshape(b - a, self.heads, size).transpose(1, 0, 2)

            weights = _softmax(heads(q) @ heads(k).transpose(0, 2, 1))
            context[a:b] = (weights @ heads(v)).transpose(1, 0, 2).reshape(b - a, hidden)
        out = self._linear(context, f"{layer}.attention.output.dense")
        return self._norm(out + x, f"{layer}.attention.output.LayerNorm")

    def _layer(self, x: np.ndarray, starts: list[int], i: int) -> np.ndarray:
        layer = f"encoder.layer.{i}"
        x = self._attention(x, starts, layer)
        inner = _gelu(self._linear(x, f"{layer}.intermediate.dense"))
        return self._norm(
            self._linear(inner, f"{layer}.output.dense") + x, f"{layer}.output.LayerNorm"
        )

    def hidden(
        self, rows: list[list[int]], types: list[list[int]] | None = None
    ) -> tuple[np.ndarray, list[int]]:
        """The last layer's token states of token-id rows (with their token types, else all
        0), packed one row after another with no padding: (tokens, hidden), and where each row
        starts (with the end last). Every layer but attention runs on all tokens at once: on a
        CPU its cost is mostly reading its weights, once, and no padding is computed."""
        starts = [0, *itertools.accumulate(len(r) for r in rows)]
        ids = np.fromiter(itertools.chain.from_iterable(rows), np.int64, starts[-1])
        positions = np.concatenate([np.arange(len(r)) for r in rows])
        token_types = self.w["embeddings.token_type_embeddings.weight"]
        kinds = (
            token_types[np.fromiter(itertools.chain.from_iterable(types), np.int64, starts[-1])]
            if types is not None
            else token_types[0]  # one text each: every token of type 0
        )
        x = (
            self.w["embeddings.word_embeddings.weight"][ids]
            + self.w["embeddings.position_embeddings.weight"][positions]
            + kinds
        )
        x = self._norm(x, "embeddings.LayerNorm")
        for i in range(self.layers):
            x = self._layer(x, starts, i)
        return x, starts


def mean_pooled(x: np.ndarray, starts: list[int]) -> np.ndarray:
    """The mean of each row's token states (``Layers.hidden``'s packing)."""
    sums = np.add.reduceat(x, starts[:-1], axis=0)
    return np.asarray(sums / np.diff(starts)[:, None], dtype=_FLOAT)


class NumpyBert(Layers):
    """Encode texts into L2-normalised mean-pooled BERT vectors, in numpy."""

    def __init__(self, path: Path, max_length: int) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = plain_config(path)
        super().__init__(
            linear_weights(load_file(str(path / "model.safetensors"))),
            heads=int(config["num_attention_heads"]),
            layers=int(config["num_hidden_layers"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
        )
        self.dimension = int(config["hidden_size"])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids, with [CLS] and [SEP], cut at the model's length."""
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 vector per text, all in one packed batch."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=_FLOAT)
        pooled = mean_pooled(*self.hidden(self.token_ids(texts)))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=_FLOAT)
