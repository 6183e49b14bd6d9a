"""Embedding a build's texts on a Ray cluster (``qa build --ray [ADDRESS]``).

The build plans as always (reading, cleaning, chunking, de-duplication); the texts that its
checkpoint (qa.indexing.checkpoint) lacks, each distinct text once and longest first, are
handed to Ray Data. ``map_batches`` runs ``EmbedActor``, a class Ray keeps as long-lived
actors: each loads the model once (on a GPU of its own where the cluster has GPUs, in
qa.encode's float16 feed) and embeds a block of texts a call, a model batch at a time, in the
order given. The vectors come back to this process and are filed as checkpoint batches, which
the build then takes back as it takes back a killed build's: it embeds nothing more.

Ray does the scheduling: an actor that dies is restarted and its block run again (only that
block is lost). A build killed meanwhile keeps the batches filed, and the next build sends
only the rest. Ray is imported only here, and only when asked for (the ``ray`` extra).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RAY_LOCAL, Settings, ray_head
from ..encode.embedding import (
    Embedder,
    Streaming,
    default_batch_size,
    encode_stream,
    get_embedder,
)
from ..errors import ClusterError
from .checkpoint import Checkpoint, text_key, to_embed
from .spool import picked

INSTALL = "pip install 'qa[ray]'"
BATCHES_A_CALL = 32  # at most, model batches an actor embeds a call (and a checkpoint batch)
CALLS_AN_ACTOR = 4  # at least, when the texts are few: every actor gets some
CONNECT_SECONDS = 5.0  # a head that does not answer within this is unreachable
_KEY = 32  # bytes of a text's digest (qa.indexing.checkpoint.text_key)


class EmbedActor:
    """Ray Data's callable class: loads the model once per actor, then embeds each block of
    texts it is handed (a row a block), in their order, ``batch_size`` at a time. Returns a
    row a text: its digest (32 bytes) and its vector."""

    def __init__(self, model: str, device: str | None, batch_size: int) -> None:
        self.embedder = get_embedder(model, device)
        self.batch_size = batch_size
        if isinstance(self.embedder, Streaming):  # on a GPU: meets every batch shape first
            self.embedder.warm_up(batch_size)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        for block in rows["texts"]:  # a row a block of texts
            texts = [str(text) for text in block]
            parts = encode_stream(self.embedder, texts, self.batch_size, len(texts))
            vectors.extend(part for part, _ in parts)
            keys.append(np.frombuffer(b"".join(map(text_key, texts)), dtype=np.uint8))
        return {"key": np.concatenate(keys).reshape(-1, _KEY), "vector": np.concatenate(vectors)}


def embed_on_ray(
    embedder: Embedder,
    texts: Sequence[str],
    index_dir: Path,
    settings: Settings,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed on the Ray of ``settings.ray_address`` the texts that the checkpoint of
    ``index_dir`` lacks, and file their vectors there (``embedder``: this process's, whose
    model and dimension the checkpoint is of). ``progress(n)``: n more texts are done (those
    already filed and the copies first, then each block as it comes back). Returns how many
    of texts were already filed (by a killed build)."""
    address = settings.ray_address or RAY_LOCAL
    checkpoint = Checkpoint(index_dir, embedder.model_id, embedder.dimension)
    held, todo = to_embed(texts, checkpoint)
    if progress:
        progress(len(texts) - len(todo))
    if not len(todo):
        return held
    ray = _import_ray()
    with _joined(ray, address):
        try:
            for keys, vectors in _embedded(ray, picked(texts, todo), settings):
                checkpoint.save_keys([key.tobytes() for key in keys], vectors)
                if progress:
                    progress(len(keys))
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"embedding on Ray failed: {_last_line(exc)}") from exc
    return held


def _embedded(
    ray: Any, texts: Sequence[str], settings: Settings
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The digests and vectors of texts, as Ray's actors hand them back, a block at a time
    (in no particular order)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0)) if settings.device != "cpu" else 0
    actors = gpus or max(1, int(resources.get("CPU", 1)))
    batch_size = settings.batch_size or default_batch_size("cuda" if gpus else "cpu")
    # A block of whole model batches, so that each batch holds the texts it holds in a local
    # build (the same vectors); small enough that every actor gets a few.
    share = math.ceil(len(texts) / (actors * CALLS_AN_ACTOR * batch_size))
    block = batch_size * max(1, min(BATCHES_A_CALL, share))
    blocks = [
        {"texts": list(texts[start : start + block])} for start in range(0, len(texts), block)
    ]
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the build's own bar counts the texts
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its notes on every execution
    dataset = ray.data.from_items(blocks, override_num_blocks=len(blocks)).map_batches(
        EmbedActor,
        fn_constructor_args=(settings.model, settings.device, batch_size),
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=1 if gpus else 0,
        num_cpus=0 if gpus else 1,
    )
    for out in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        yield out["key"], np.asarray(out["vector"], dtype=np.float32)


def check_ray(address: str) -> None:
    """Before a build plans (minutes, on a large corpus): whether Ray is installed, and
    whether the head of ``address``, when it names one, answers. Imports nothing."""
    if importlib.util.find_spec("ray") is None:
        raise ClusterError(f"embedding on Ray needs Ray: {INSTALL}")
    head = ray_head(address)
    if head is not None:
        _reachable(address, *head)


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ClusterError(f"embedding on Ray needs Ray: {INSTALL}") from exc
    return ray


@contextlib.contextmanager
def _joined(ray: Any, address: str) -> Iterator[None]:
    """This process joined to the Ray of ``address`` ("local": one started here, gone
    afterwards). A process that already joined one (a script, a test) keeps it."""
    head = ray_head(address)
    if head is not None:  # Ray itself would wait minutes for a head that is not there
        _reachable(address, *head)
    if ray.is_initialized():
        yield
        return
    here = str(Path(__file__).resolve().parents[2])  # where this qa is imported from
    paths = [here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "HF_HUB_OFFLINE": "1"}
    options: dict[str, Any] = {"include_dashboard": False} if address == RAY_LOCAL else {}
    try:
        ray.init(
            address=None if address == RAY_LOCAL else address,
            runtime_env={"env_vars": env},
            logging_level=logging.ERROR,  # not its notes (token authentication, ...)
            log_to_driver=False,
            **options,
        )
    except Exception as exc:  # ConnectionError, RuntimeError, ...: Ray raises many kinds
        where = "a local Ray" if address == RAY_LOCAL else f"the Ray cluster at {address}"
        raise ClusterError(f"could not start or join {where}: {_last_line(exc)}") from exc
    try:
        yield
    finally:
        ray.shutdown()


def _reachable(address: str, host: str, port: int) -> None:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS):
            pass
    except OSError as exc:
        raise ClusterError(
            f"the Ray cluster at {address} cannot be reached ({exc.strerror or exc}): "
            "start it with `ray start --head`, or check the address"
        ) from exc


def _last_line(exc: BaseException) -> str:
    """The last line of an exception's message (Ray's carry a traceback before it)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
