"""Feeding a model on a GPU: the tokenizer works ahead, in threads.

``SentenceTransformer.encode`` tokenizes a batch, runs the model on it, copies the result back,
then tokenizes the next batch: the GPU waits while Python tokenizes, and each batch ends in a
synchronisation. Here the fast (Rust) tokenizer encodes the coming batches in worker threads
(it releases the GIL while it works) while the calling thread hands batches to the model, and
the vectors stay on the device until a group of batches is done. Only the model's own files
are read: its ``tokenizer.json``, set as sentence-transformers sets it (stripped texts,
truncation at ``max_seq_length``); tests/test_feed.py checks both give the same vectors.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

Progress = Callable[[int], None]
GROUP = 8  # batches whose vectors are copied back together
WIDTH = 8  # a GPU batch is padded to a multiple of this many tokens: fewer shapes


def tokenizer_threads() -> int:
    """Threads that tokenize ahead of the model: the cores but one, at most eight."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


class AheadEncoder:
    """Encodes texts with a model's ``forward`` (a batch's inputs, as tensors on the model's
    device, to its sentence vectors), tokenizing with the ``tokenizer.json`` in ``path``."""

    def __init__(
        self,
        forward: Callable[[dict[str, Any]], Any],
        path: Path,
        *,
        dimension: int,
        max_length: int,
        lower: bool,
        token_types: bool,
        device: Any,
        threads: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self._forward = forward
        self.dimension = dimension
        self._device = device
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length)
        # Padded to the batch's longest text, rounded up to WIDTH tokens on a GPU (never past
        # the most the model reads): fewer shapes for it. A CPU pays for every padded token
        # (rounding up cost 4% of the throughput on 2 cores).
        rounded = device.type == "cuda" and max_length % WIDTH == 0
        tokenizer.enable_padding(pad_to_multiple_of=WIDTH if rounded else None)
        self._tokenizer = tokenizer
        self._counter = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._lower = lower
        self._token_types = token_types
        self._threads = threads or tokenizer_threads()
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="qa-tokenize")

    def _tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """A batch's model inputs, padded (by the tokenizer) to its longest text, on the CPU:
        pinned there when bound for a GPU, so that the copy runs while the GPU computes."""
        import torch

        prepared = [t.strip().lower() if self._lower else t.strip() for t in texts]
        encodings = self._tokenizer.encode_batch(prepared)
        ids = torch.from_numpy(np.array([e.ids for e in encodings], dtype=np.int64))
        mask = torch.from_numpy(np.array([e.attention_mask for e in encodings], dtype=np.int64))
        batch = {"input_ids": ids, "attention_mask": mask}
        if self._token_types:
            batch["token_type_ids"] = torch.zeros_like(ids)
        if self._device.type == "cuda":
            batch = {name: tensor.pin_memory() for name, tensor in batch.items()}
        return batch

    def _count(self, texts: Sequence[str]) -> list[int]:
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """How many tokens each text has, special tokens left out, counted in the threads."""
        step = max(1, -(-len(texts) // self._threads))
        parts = [texts[i : i + step] for i in range(0, len(texts), step)]
        return [n for counts in self._pool.map(self._count, parts) for n in counts]

    def encode(
        self, texts: Sequence[str], batch_size: int, progress: Progress | None = None
    ) -> np.ndarray:
        """L2-normalised float32 vectors of texts, in their order. Texts of about one length
        should be neighbours (callers sort them): a batch pads to its longest."""
        import torch
        from torch.nn import functional

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        starts = iter(range(0, len(texts), batch_size))
        ahead: deque[Future[dict[str, Any]]] = deque()  # tokenized batches, in order

        def submit() -> None:
            start = next(starts, None)
            if start is not None:
                ahead.append(self._pool.submit(self._tokenize, texts[start : start + batch_size]))

        for _ in range(2 * self._threads):
            submit()
        held: list[Any] = []
        first = 0  # the row of the first held vector
        device = self._device
        with torch.inference_mode():
            while ahead:
                tokenized = ahead.popleft()
                submit()
                features = {
                    name: tensor.to(device, non_blocking=True)
                    for name, tensor in tokenized.result().items()
                }
                held.append(functional.normalize(self._forward(features).float(), dim=-1))
                if len(held) == GROUP or not ahead:
                    vectors = torch.cat(held).cpu().numpy()
                    out[first : first + len(vectors)] = vectors
                    first += len(vectors)
                    held = []
                    if progress:
                        progress(len(vectors))
        return out
