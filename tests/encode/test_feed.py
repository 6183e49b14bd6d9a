"""The tokenizer-ahead encoder (qa.encode.feed) feeding a sentence-transformers model (models that
qa.encode.torchbert cannot run), on the CPU here: the same vectors as sentence-transformers' own
encode, in the order given, with progress as groups finish."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.config import DEFAULT_MODEL
from qa.encode.embedding import SentenceTransformerEmbedder, model_path
from qa.encode.feed import GROUP, AheadEncoder, padded

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


@pytest.mark.slow
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
    batch, cut = ahead._tokenize([TEXTS[2], TEXTS[0]])
    assert batch["input_ids"].shape == (2, model.max_seq_length)
    assert batch["attention_mask"][0].all() and batch["attention_mask"][1].sum() < 8
    assert cut.tolist() == [True, False]


@pytest.mark.slow
def test_stream_says_which_texts_the_model_read_cut(plain: SentenceTransformerEmbedder) -> None:
    fed = SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu", ahead=True)
    assert fed._ahead is not None
    words = "word " * plain.max_tokens  # [CLS], the words, [SEP]: exactly the window
    texts = [words + "one more", words, words + "x", "short", *TEXTS]
    parts = list(fed._ahead.stream(texts, batch_size=2))
    assert len(parts) == 1  # 5 batches: one group
    vectors, cut = parts[0]
    want = [n > plain.max_tokens for n in plain.token_counts(texts)]
    assert cut.tolist() == want and want[:4] == [True, False, True, False]
    assert np.allclose(vectors, fed.encode(texts, batch_size=2), atol=1e-6)


@pytest.mark.slow
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


@pytest.mark.slow
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

    assert encoder("cuda").width == 8  # fewer shapes
    cpu = encoder("cpu")  # a CPU pays for every padded token
    assert cpu.width == 1
    assert cpu._tokenize(["one two three"])[0]["input_ids"].shape == (1, 5)  # [CLS] 3 [SEP]


@given(
    st.lists(st.lists(st.integers(min_value=1, max_value=30_000), max_size=40), min_size=1),
    st.integers(min_value=1, max_value=16),
)
def test_padded_rows_keep_every_token_in_place(rows: list[list[int]], width: int) -> None:
    ids, mask = padded(rows, width)
    longest = max(map(len, rows))
    assert ids.shape == mask.shape == (len(rows), -(-longest // width) * width)
    assert ids.dtype == mask.dtype == np.int64
    for row, got, real in zip(rows, ids, mask, strict=True):
        assert got[: len(row)].tolist() == row and not got[len(row) :].any()
        assert real.sum() == len(row) and real[: len(row)].all()


@pytest.mark.slow
def test_warm_up_meets_every_batch_shape_until_a_stream_begins() -> None:
    import torch

    shapes: list[tuple[int, ...]] = []

    def forward(features: dict[str, torch.Tensor]) -> torch.Tensor:
        shapes.append(tuple(features["input_ids"].shape))
        return torch.ones((features["input_ids"].shape[0], 4))

    ahead = AheadEncoder(
        forward,
        model_path(DEFAULT_MODEL),
        dimension=4,
        max_length=256,
        lower=False,
        token_types=False,
        device=torch.device("cpu"),
    )
    ahead.warm_up(16)
    assert shapes == []  # a CPU does not round batches: nothing to meet ahead
    ahead.width = 8  # as on a GPU
    ahead.warm_up(16)
    assert shapes == [(16, width) for width in range(256, 0, -8)]
    shapes.clear()
    assert ahead.encode(["one two three"], 16).shape == (1, 4)
    assert shapes == [(1, 8)]  # [CLS] 3 [SEP], rounded up to 8
    ahead.warm_up(16)  # a stream began: too late to warm up
    assert shapes == [(1, 8)]
