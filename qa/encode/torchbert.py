"""A plain BERT sentence encoder in torch alone, for builds: no transformers, no
sentence-transformers.

Importing sentence-transformers costs seconds beyond torch itself (5.6 s against 1.3 s on the
2-core machine; 6.9 s against 2.3 s on the lent GPU machine), and a build waits for it before
its first batch. The model is the one qa.encode.bert runs in numpy for questions (all-MiniLM-L6-v2:
BERT, mean pooling, L2 normalisation), read from the same files (``plain_config`` refuses any
other). Here the arithmetic is torch's, on the CPU in float32 or on a GPU in float16, with
torch's fused attention. tests/test_torchbert.py checks its vectors against
sentence-transformers' own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .bert import plain_config


class TorchBert:
    """``forward(input_ids, attention_mask)`` gives L2-normalised float32 sentence vectors."""

    def __init__(self, path: Path, device: str | None = None, float16: bool | None = None) -> None:
        import torch
        from safetensors.torch import load_file

        config = plain_config(path)
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimension = int(config["hidden_size"])
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # float16 on a GPU unless told: within a cosine of 0.999 of float32 (docs/benchmarks.md).
        if float16 is None:
            float16 = self.device.type == "cuda"
        self.dtype = torch.float16 if float16 else torch.float32
        weights = load_file(str(path / "model.safetensors"))
        self.w = {
            name: tensor.to(device=self.device, dtype=self.dtype)
            for name, tensor in weights.items()
            if not name.startswith("pooler.")  # BERT's pooler: not part of a mean-pooled model
        }

    def _linear(self, x: Any, name: str) -> Any:
        from torch.nn import functional

        return functional.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def _norm(self, x: Any, name: str) -> Any:
        from torch.nn import functional

        weight, bias = self.w[f"{name}.weight"], self.w[f"{name}.bias"]
        return functional.layer_norm(x, (self.dimension,), weight, bias, self.eps)

    def _attention(self, x: Any, keep: Any, layer: str) -> Any:
        from torch.nn import functional

        b, n, hidden = x.shape
        size = hidden // self.heads

        def split(t: Any) -> Any:  # (b, n, hidden) -> (b, heads, n, size)
            return t.view(b, n, self.heads, size).transpose(1, 2)

        q = split(self._linear(x, f"{layer}.attention.self.query"))
        k = split(self._linear(x, f"{layer}.attention.self.key"))
        v = split(self._linear(x, f"{layer}.attention.self.value"))
        context = functional.scaled_dot_product_attention(
            q, k, v, attn_mask=keep, scale=1.0 / math.sqrt(size)
        )
        context = context.transpose(1, 2).reshape(b, n, hidden)
        out = self._linear(context, f"{layer}.attention.output.dense")
        return self._norm(out + x, f"{layer}.attention.output.LayerNorm")

    def _layer(self, x: Any, keep: Any, i: int) -> Any:
        from torch.nn import functional

        layer = f"encoder.layer.{i}"
        x = self._attention(x, keep, layer)
        inner = functional.gelu(self._linear(x, f"{layer}.intermediate.dense"))
        out = self._linear(inner, f"{layer}.output.dense")
        return self._norm(out + x, f"{layer}.output.LayerNorm")

    def forward(self, input_ids: Any, attention_mask: Any) -> Any:
        """Vectors of a padded batch (token ids with [CLS] and [SEP]; 1 for real tokens)."""
        import torch
        from torch.nn import functional

        n = input_ids.shape[1]
        with torch.inference_mode():
            x = (
                functional.embedding(input_ids, self.w["embeddings.word_embeddings.weight"])
                + self.w["embeddings.position_embeddings.weight"][:n]
                + self.w["embeddings.token_type_embeddings.weight"][0]
            )
            x = self._norm(x, "embeddings.LayerNorm")
            keep = attention_mask.bool()[:, None, None, :]  # padding is never attended
            for i in range(self.layers):
                x = self._layer(x, keep, i)
            mask = attention_mask[:, :, None].float()
            pooled = (x.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return functional.normalize(pooled, dim=-1)
