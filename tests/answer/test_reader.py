"""The reader (qa.answer.reader): the shipped cross-encoder's scores, its numpy forward pass
against torch's, the public score_sentences, and the training script (training/reader.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.answer.reader import WEIGHTS, Reader, get_reader, score_sentences
from qa.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[2]
SQUAD = ROOT.parent / "shared" / "datasets" / "squad-v1.1-train" / "train-v1.1.json.gz"

QUESTION = "Which injury forced Cavendish out of the 2023 Tour de France?"
SENTENCES = [
    "Cavendish crashed on stage eight of the 2023 Tour de France and broke his collarbone, "
    "ending his race.",
    "Astana Qazaqstan confirmed the new contract on Wednesday.",
    "The team will hold its first training camp in Spain in December.",
]


def test_the_shipped_reader_is_small_package_data() -> None:
    config = json.loads((WEIGHTS / "reader.json").read_text())
    size = (WEIGHTS / "reader.safetensors").stat().st_size
    assert size <= 25_000_000
    assert config["base"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert config["trained"]["validation"]["p_at_1"] >= 0.85


def test_score_sentences_gives_one_probability_per_sentence_in_order() -> None:
    scores = qa.score_sentences(QUESTION, SENTENCES)
    assert len(scores) == len(SENTENCES)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] == max(scores)
    assert scores[0] > 0.5 > max(scores[1:])
    # in order: the same sentences reversed give the same scores reversed
    assert qa.score_sentences(QUESTION, SENTENCES[::-1]) == pytest.approx(scores[::-1], abs=1e-5)


def test_score_sentences_pins_the_shipped_weights() -> None:
    """Fixed pairs, scores recorded from the shipped weights (a retrained reader records anew:
    python -c 'import qa; print(qa.score_sentences(Q, S))')."""
    expected = json.loads((Path(__file__).parent / "reader_pinned.json").read_text())
    for case in expected:
        got = score_sentences(case["question"], case["sentences"])
        assert got == pytest.approx(case["scores"], abs=1e-4)


def test_score_sentences_of_no_sentences_is_empty() -> None:
    assert score_sentences(QUESTION, []) == []


@pytest.mark.parametrize(
    ("question", "sentences"),
    [
        ("", SENTENCES),
        ("   ", SENTENCES),
        (None, SENTENCES),
        (QUESTION, "one string"),
        (QUESTION, ["fine", 3]),
    ],
)
def test_score_sentences_refuses_bad_input(question: object, sentences: object) -> None:
    with pytest.raises(InvalidArgumentError):
        score_sentences(question, sentences)  # type: ignore[arg-type]


def test_a_long_pair_is_cut_to_the_readers_length() -> None:
    reader = get_reader()
    long = " ".join(["word"] * 2_000) + "."
    assert len(reader.tokenizer.encode(QUESTION, long).ids) == reader.max_tokens
    assert np.isfinite(reader.logits(QUESTION, [long])).all()


def test_missing_weights_say_so(tmp_path: Path) -> None:
    from qa.errors import ModelError

    with pytest.raises(ModelError, match="cannot be read"):
        Reader(tmp_path)


@pytest.mark.slow
def test_numpy_reader_matches_a_torch_forward_pass_of_the_same_weights() -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    from qa.encode.embedding import DEFAULT_MODEL, model_path

    reader = get_reader()
    config = json.loads((WEIGHTS / "reader.json").read_text())
    base = model_path(DEFAULT_MODEL)
    bert_config = BertConfig.from_pretrained(str(base))
    bert_config.num_hidden_layers = config["layers"]
    model = BertModel(bert_config, add_pooling_layer=False).eval()
    state = load_file(str(base / "model.safetensors"))
    state.update({k: v.float() for k, v in load_file(str(WEIGHTS / "reader.safetensors")).items()})
    head_w, head_b = state.pop("head.weight"), state.pop("head.bias")
    model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()})
    pairs = reader.tokenizer.encode_batch([(QUESTION, s) for s in SENTENCES])
    n = max(len(p.ids) for p in pairs)
    ids = torch.zeros((len(pairs), n), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(pairs):
        ids[i, : len(p.ids)] = torch.tensor(p.ids)
        types[i, : len(p.ids)] = torch.tensor(p.type_ids)
        mask[i, : len(p.ids)] = 1
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = (out * m).sum(1) / m.sum(1)
        expected = (pooled @ head_w.reshape(-1) + head_b[0]).numpy()
    got = reader.logits(QUESTION, SENTENCES)
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.slow
@pytest.mark.skipif(not SQUAD.is_file(), reason="the SQuAD training split is in ../shared")
def test_the_training_script_runs_and_its_loss_falls(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "training" / "reader.py"),
            "--smoke",
            "--out",
            str(tmp_path / "weights"),
            "--card",
            str(tmp_path / "card.md"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["last_loss"] < summary["first_loss"]
    trained = Reader(tmp_path / "weights")
    assert trained.layers == 2
    assert len(trained.probabilities(QUESTION, SENTENCES)) == len(SENTENCES)
