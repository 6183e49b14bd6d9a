"""The tokenizer-ahead encoder (qa.feed) feeding a sentence-transformers model (models that
qa.torchbert cannot run), on the CPU here: the same vectors as sentence-transformers' own
encode, in the order given, with progress as groups finish."""

from __future__ import annotations

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL
from qa.embedding import SentenceTransformerEmbedder, model_path
from qa.feed import GROUP, AheadEncoder

pytestmark = pytest.mark.slow

TEXTS = [
    "Short one.",
    "  Cavendish won stage 5 in the rain.  ",
    "A much longer passage about the sprint stage, with the whole team cheering. " * 40,
    "",
    "Medium length text about a tandem bike for two riders.",
    "ÉTAPE 12: Astana's sprinter — «le Cannibale» — 35 wins!",
]


@pytest.fixture(scope="module")
def plain() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu", ahead=False)


def test_ahead_encoder_gives_sentence_transformers_vectors(
    plain: SentenceTransformerEmbedder,
) -> None:
    model = plain._model
    ahead = AheadEncoder(
        lambda features: model.forward(features)["sentence_embedding"],
        model_path(DEFAULT_MODEL),
        dimension=plain.dimension,
        max_length=model.max_seq_length,
        lower=False,
        token_types=True,
        device=model.device,
        threads=2,
    )
    texts = TEXTS * 7
    seen: list[int] = []
    got = ahead.encode(texts, batch_size=3, progress=seen.append)
    want = model.encode(texts, batch_size=3, normalize_embeddings=True, convert_to_numpy=True)
    assert got.shape == want.shape and got.dtype == np.float32
    assert float((got * want).sum(axis=1).min()) > 0.99999
    assert sum(seen) == len(texts) and seen[0] == 3 * GROUP  # copied back a group at a time
    # The over-long text is cut where sentence-transformers cuts it: at max_seq_length tokens.
    batch = ahead._tokenize([TEXTS[2], TEXTS[0]])
    assert batch["input_ids"].shape == (2, model.max_seq_length)
    assert batch["attention_mask"][0].all() and batch["attention_mask"][1].sum() < 8


def test_embedder_with_the_ahead_encoder_keeps_rows_in_order(
    plain: SentenceTransformerEmbedder,
) -> None:
    fed = SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu", ahead=True)
    assert fed._ahead is not None and plain._ahead is None
    assert (fed.device, fed.precision) == ("cpu", "float32")
    assert fed.token_counts(TEXTS * 3) == plain.token_counts(TEXTS * 3)
    got = fed.encode(TEXTS, batch_size=2)
    want = plain.encode(TEXTS, batch_size=2)
    assert float((got * want).sum(axis=1).min()) > 0.99999
    assert float((got[0] * want[1]).sum()) < 0.99  # rows are not shuffled


def test_batches_are_rounded_up_to_eight_tokens_on_a_gpu_only() -> None:
    import torch

    def encoder(device: str) -> AheadEncoder:
        return AheadEncoder(
            lambda features: None,
            model_path(DEFAULT_MODEL),
            dimension=384,
            max_length=256,
            lower=False,
            token_types=False,
            device=torch.device(device),
        )

    assert encoder("cuda")._tokenizer.padding["pad_to_multiple_of"] == 8  # fewer shapes
    cpu = encoder("cpu")  # a CPU pays for every padded token
    assert cpu._tokenizer.padding["pad_to_multiple_of"] is None
    assert cpu._tokenize(["one two three"])["input_ids"].shape == (1, 5)  # [CLS] 3 [SEP]
