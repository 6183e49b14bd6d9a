"""Feeding a model on a GPU: the tokenizer works ahead, in threads.

``SentenceTransformer.encode`` tokenizes a batch, runs the model on it, copies the result back,
then tokenizes the next batch: the GPU waits while Python tokenizes, and each batch ends in a
synchronisation. Here the fast (Rust) tokenizer encodes the coming batches in worker threads
(it releases the GIL while it works) while the calling thread hands batches to the model, and
the vectors stay on the device until a group of batches is done. ``stream`` hands the groups
on as they finish, so that a caller saves them while the model goes on: one feed for a whole
build. Only the model's own files are read: its ``tokenizer.json``, set as
sentence-transformers sets it (stripped texts, truncation at ``max_seq_length``);
tests/test_feed.py checks both give the same vectors.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

Progress = Callable[[int], None]
# The vectors of the next texts in order, and which of those texts the model read cut short.
Streamed = tuple[np.ndarray, np.ndarray]
GROUP = 8  # batches whose vectors are copied back together
WIDTH = 8  # a GPU batch is padded to a multiple of this many tokens: fewer shapes


def tokenizer_threads() -> int:
    """Threads that tokenize ahead of the model: the cores but one, at most eight."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def padded(rows: Sequence[Sequence[int]], width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Rows of token ids as one int64 array padded with 0 to the longest row, rounded up to a
    multiple of ``width``, and the mask of real tokens (1) against padding (0)."""
    lengths = np.fromiter(map(len, rows), np.int64, len(rows))
    longest = int(lengths.max(initial=0))
    mask = np.arange(-(-longest // width) * width) < lengths[:, None]
    ids = np.zeros(mask.shape, dtype=np.int64)
    ids[mask] = np.fromiter(itertools.chain.from_iterable(rows), np.int64, int(lengths.sum()))
    return ids, mask.astype(np.int64)


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
        tokenizer.no_padding()  # padded() pads a batch to its longest text
        # tokenizers >= 0.20 can leave out the offsets, which nothing here reads: 20% faster.
        self._encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
        self._max_length = max_length
        # Rounded up to WIDTH tokens on a GPU (never past the most the model reads): fewer
        # shapes for it. A CPU pays for every padded token (4% of the throughput on 2 cores).
        rounded = device.type == "cuda" and max_length % WIDTH == 0
        self.width = WIDTH if rounded else 1
        self._counter = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._lower = lower
        self._token_types = token_types
        self._threads = threads or tokenizer_threads()
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="qa-tokenize")
        self._streaming = threading.Event()  # a stream has begun: warm_up stops

    def _tokenize(self, texts: Sequence[str]) -> tuple[dict[str, Any], np.ndarray]:
        """A batch's model inputs, padded to its longest text, on the CPU (pinned there when
        bound for a GPU, so that the copy runs while the GPU computes), and which texts were
        cut at the model's length."""
        import torch

        prepared = [t.strip().lower() if self._lower else t.strip() for t in texts]
        encodings = self._encode(prepared)
        rows = [e.ids for e in encodings]
        ids, mask = padded(rows, self.width)
        full = self._max_length  # only a text of the full length can have been cut
        pairs = zip(rows, encodings, strict=True)
        cut = np.fromiter((len(r) == full and bool(e.overflowing) for r, e in pairs), bool)
        batch = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        if self._token_types:
            batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
        if self._device.type == "cuda":
            batch = {name: tensor.pin_memory() for name, tensor in batch.items()}
        return batch, cut

    def _count(self, texts: Sequence[str]) -> list[int]:
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """How many tokens each text has, special tokens left out, counted in the threads."""
        step = max(1, -(-len(texts) // self._threads))
        parts = [texts[i : i + step] for i in range(0, len(texts), step)]
        return [n for counts in self._pool.map(self._count, parts) for n in counts]

    def warm_up(self, batch_size: int) -> None:
        """On a GPU, run the model once on every batch shape that ``stream`` can give it, so
        that a build does not wait while they are first met (on the H200, its feed ran at
        13,000 texts/s through new shapes and 40,000 through shapes met before). Call it
        while there is time to spare: a build calls it as the model loads, while files are
        read. It stops once a stream begins: a small build does not wait for it."""
        import torch

        if self.width == 1:  # on a CPU (no rounding): nothing to gain
            return
        gpu = self._device.type == "cuda"
        for width in range(self._max_length, 0, -self.width):  # the largest first
            if self._streaming.is_set():
                return
            ids = torch.zeros((batch_size, width), dtype=torch.int64)
            batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            if self._token_types:
                batch["token_type_ids"] = torch.zeros_like(ids)
            features = {  # through pinned memory, as stream's batches go
                name: (tensor.pin_memory() if gpu else tensor).to(self._device, non_blocking=True)
                for name, tensor in batch.items()
            }
            with torch.inference_mode():
                self._forward(features)
        if gpu:
            torch.cuda.synchronize(self._device)

    def stream(self, texts: Sequence[str], batch_size: int) -> Iterator[Streamed]:
        """L2-normalised float32 vectors of texts, in their order, a group of batches at a
        time, with which texts were cut. Texts of about one length should be neighbours
        (callers sort them): a batch pads to its longest."""
        import torch
        from torch.nn import functional

        self._streaming.set()
        starts = iter(range(0, len(texts), batch_size))
        ahead: deque[Future[tuple[dict[str, Any], np.ndarray]]] = deque()  # batches, in order

        def submit() -> None:
            start = next(starts, None)
            if start is not None:
                ahead.append(self._pool.submit(self._tokenize, texts[start : start + batch_size]))

        for _ in range(2 * self._threads):
            submit()
        held: list[Any] = []
        cut: list[np.ndarray] = []
        try:
            while ahead:
                tokenized, truncated = ahead.popleft().result()
                submit()
                features = {
                    name: tensor.to(self._device, non_blocking=True)
                    for name, tensor in tokenized.items()
                }
                with torch.inference_mode():
                    held.append(functional.normalize(self._forward(features).float(), dim=-1))
                cut.append(truncated)
                if len(held) == GROUP or not ahead:
                    with torch.inference_mode():
                        vectors = torch.cat(held).cpu().numpy()
                    yield vectors, np.concatenate(cut)
                    held, cut = [], []
        finally:  # the caller stopped early: tokenize no further
            for future in ahead:
                future.cancel()

    def encode(
        self, texts: Sequence[str], batch_size: int, progress: Progress | None = None
    ) -> np.ndarray:
        """L2-normalised float32 vectors of texts, in their order (as ``stream``)."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        first = 0
        for vectors, _ in self.stream(texts, batch_size):
            out[first : first + len(vectors)] = vectors
            first += len(vectors)
            if progress:
                progress(len(vectors))
        return out
