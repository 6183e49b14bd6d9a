"""The torch BERT encoder that builds use (qa.encode.torchbert, through
qa.encode.embedding.BertEmbedder):
sentence-transformers' vectors without importing sentence-transformers or transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL
from qa.encode.embedding import BertEmbedder, _plain_bert, model_path
from qa.errors import ModelError

TEXTS = [
    "Short one.",
    "  Cavendish won stage 5 in the rain.  ",
    "A much longer passage about the sprint stage, with the whole team cheering. " * 40,
    "",
    "Mørkøv, Ballerini & Cavendish — “the train” (2021) 🚴",
    "ÉTAPE 12: Astana's sprinter — «le Cannibale» — 35 wins!",
]


def _copy_configs(tmp_path: Path) -> Path:
    source = model_path(DEFAULT_MODEL)
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    names = ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")
    for name in names:
        shutil.copy(source / name, folder / name)
    return folder


def test_only_a_complete_plain_bert_folder_is_run_by_torchbert(tmp_path: Path) -> None:
    assert _plain_bert(model_path(DEFAULT_MODEL))
    folder = _copy_configs(tmp_path)
    assert not _plain_bert(folder)  # no weights, no tokenizer
    for name in ("model.safetensors", "tokenizer.json"):
        (folder / name).symlink_to(model_path(DEFAULT_MODEL) / name)
    assert _plain_bert(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"hidden_act": "relu"}))
    assert not _plain_bert(folder)  # another activation: sentence-transformers runs it
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modules.json").write_text("not json")
    assert not _plain_bert(folder)


@pytest.fixture(scope="module")
def bert() -> BertEmbedder:
    return BertEmbedder(DEFAULT_MODEL, "cpu")


@pytest.mark.slow
def test_vectors_are_sentence_transformers_vectors(bert: BertEmbedder) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path(DEFAULT_MODEL)), device="cpu")
    texts = TEXTS * 5
    got = bert.encode(texts, batch_size=4)
    want = model.encode(texts, batch_size=4, normalize_embeddings=True, convert_to_numpy=True)
    assert got.shape == want.shape and got.dtype == np.float32
    assert float((got * want).sum(axis=1).min()) > 0.99999
    assert float((got[0] * want[1]).sum()) < 0.99  # rows are not shuffled
    assert (bert.device, bert.precision, bert.max_tokens) == ("cpu", "float32", 254)
    tokens = model.tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert bert.token_counts(texts) == [len(ids) for ids in tokens]


@pytest.mark.slow
def test_float16_vectors_stay_within_a_cosine_of_0_999(bert: BertEmbedder) -> None:
    import torch

    from qa.encode.torchbert import TorchBert

    half = TorchBert(model_path(DEFAULT_MODEL), "cpu", float16=True)
    assert half.dtype == torch.float16
    assert all(w.dtype == torch.float16 for w in half.w.values())
    batch, _ = bert._ahead._tokenize(TEXTS)
    got = half.forward(batch["input_ids"], batch["attention_mask"]).numpy()
    want = bert.encode(TEXTS)
    assert got.dtype == np.float32
    assert float((got * want).sum(axis=1).min()) > 0.999


@pytest.mark.slow
def test_a_missing_device_is_a_model_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(ModelError, match="could not load"):
        BertEmbedder(DEFAULT_MODEL, "cuda")


@pytest.mark.slow
def test_a_build_embedder_imports_neither_transformers_nor_sentence_transformers() -> None:
    script = (
        "import sys\n"
        "from qa.encode.embedding import get_embedder\n"
        f"embedder = get_embedder({DEFAULT_MODEL!r}, 'cpu')\n"
        "assert embedder.encode(['why did Cavendish un-retire?']).shape == (1, 384)\n"
        "print(type(embedder).__name__, 'torch' in sys.modules,\n"
        "      'transformers' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["BertEmbedder", "True", "False", "False"]
