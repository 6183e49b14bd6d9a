"""Tests of qa.config: Settings validation, the rebuild fingerprint, settings from the
environment."""

from __future__ import annotations

import dataclasses
import json

import pytest

from qa.config import Settings
from qa.errors import ConfigError

# --- Settings --------------------------------------------------------------------------------


def test_chunker_fingerprint_changes_with_what_decides_the_chunks() -> None:
    base = Settings()
    fingerprint = base.chunker()
    assert json.loads(json.dumps(fingerprint)) == fingerprint  # stored in the manifest
    for changes in (
        {"chunk_tokens": 100},
        {"chunk_overlap": 10},
        {"title_prefix": True},
        {"extensions": (".txt",)},
        {"clean": "none"},
        {"clean": "web"},
    ):
        assert base.with_(**changes).chunker() != fingerprint, changes
    for changes in ({"retrieval": "dense"}, {"batch_size": 8}, {"max_k": 5}, {"device": "cpu"}):
        assert base.with_(**changes).chunker() == fingerprint, changes


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().chunk_tokens = 10  # type: ignore[misc]


@pytest.mark.parametrize("tokens", [15, 0, -1])
def test_chunk_tokens_below_16_rejected(tokens: int) -> None:
    with pytest.raises(ConfigError, match="chunk_tokens must be >= 16"):
        Settings(chunk_tokens=tokens, chunk_overlap=0)


def test_chunk_tokens_16_accepted() -> None:
    assert Settings(chunk_tokens=16, chunk_overlap=7).chunk_tokens == 16


@pytest.mark.parametrize(
    "tokens,overlap,ok",
    [(200, 99, True), (200, 100, False), (200, 150, False), (16, 8, False), (17, 7, True),
     (200, 0, True), (200, -1, False)],
)  # fmt: skip
def test_overlap_must_be_under_half(tokens: int, overlap: int, ok: bool) -> None:
    if ok:
        assert Settings(chunk_tokens=tokens, chunk_overlap=overlap).chunk_overlap == overlap
    else:
        with pytest.raises(ConfigError, match="chunk_overlap"):
            Settings(chunk_tokens=tokens, chunk_overlap=overlap)


def test_default_overlap_with_small_chunks_rejected() -> None:
    with pytest.raises(ConfigError, match="chunk_overlap"):
        Settings(chunk_tokens=64)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_retrieval_modes_accepted(mode: str) -> None:
    assert Settings(retrieval=mode).retrieval == mode


@pytest.mark.parametrize("mode", ["bm25", "", "Hybrid", "semantic"])
def test_bad_retrieval_mode_rejected(mode: str) -> None:
    with pytest.raises(ConfigError, match="retrieval must be"):
        Settings(retrieval=mode)


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"model": "  "}, "model must not be empty"),
        ({"batch_size": 0}, "batch_size"),
        ({"extensions": ("txt",)}, "extensions"),
        ({"extensions": ()}, "extensions"),
        ({"max_question_chars": 9}, "max_question_chars"),
        ({"max_k": 0}, "max_k"),
        ({"fusion_candidates": 0}, "fusion_candidates"),
        ({"clean": "html"}, "clean must be one of auto, web, none"),
        ({"clean": ""}, "clean must be one of"),
    ],
)
def test_other_invalid_settings(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Settings(**changes)  # type: ignore[arg-type]


def test_config_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        Settings(chunk_tokens=1)


def test_with_validates() -> None:
    s = Settings().with_(chunk_tokens=100, chunk_overlap=10)
    assert (s.chunk_tokens, s.chunk_overlap) == (100, 10)
    with pytest.raises(ConfigError):
        Settings().with_(retrieval="nope")


def test_from_env_reads_variables() -> None:
    s = Settings.from_env(
        {
            "QA_MODEL": "hash-384",
            "QA_CHUNK_TOKENS": "128",
            "QA_CHUNK_OVERLAP": "20",
            "QA_BATCH_SIZE": "8",
            "QA_DEVICE": "cpu",
            "QA_RETRIEVAL": "keyword",
            "QA_FUSION": "rrf",
            "QA_FUSION_ALPHA": "0.25",
            "QA_SENTENCE_WEIGHT": "0",
            "QA_CLEAN": "none",
            "UNRELATED": "x",
        }
    )
    assert s.model == "hash-384"
    assert s.chunk_tokens == 128
    assert s.chunk_overlap == 20
    assert s.batch_size == 8
    assert s.device == "cpu"
    assert s.retrieval == "keyword"
    assert (s.fusion, s.fusion_alpha, s.sentence_weight) == ("rrf", 0.25, 0.0)
    assert s.clean == "none"


def test_from_env_empty_environment_gives_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"QA_MODEL": "", "QA_CHUNK_TOKENS": ""}) == Settings()


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hash-384")
    monkeypatch.setenv("QA_CHUNK_TOKENS", "300")
    monkeypatch.delenv("QA_CHUNK_OVERLAP", raising=False)
    monkeypatch.delenv("QA_BATCH_SIZE", raising=False)
    monkeypatch.delenv("QA_RETRIEVAL", raising=False)
    monkeypatch.delenv("QA_DEVICE", raising=False)
    s = Settings.from_env()
    assert (s.model, s.chunk_tokens) == ("hash-384", 300)


def test_from_env_overrides_win_and_none_is_ignored() -> None:
    s = Settings.from_env({"QA_MODEL": "hash-384"}, model="other", chunk_tokens=None)
    assert s.model == "other"
    assert s.chunk_tokens == 200


@pytest.mark.parametrize(
    "key,value",
    [("QA_BATCH_SIZE", "abc"), ("QA_CHUNK_TOKENS", "1.5"), ("QA_CHUNK_OVERLAP", "ten")],
)
def test_from_env_rejects_non_numbers(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{key}='{value}' is not a valid value"):
        Settings.from_env({key: value})


def test_from_env_validates_values() -> None:
    with pytest.raises(ConfigError, match="chunk_tokens"):
        Settings.from_env({"QA_CHUNK_TOKENS": "10"})
    with pytest.raises(ConfigError, match="retrieval"):
        Settings.from_env({"QA_RETRIEVAL": "fuzzy"})
    with pytest.raises(ConfigError, match="fusion must be one of zscore, convex, rrf"):
        Settings.from_env({"QA_FUSION": "borda"})
    with pytest.raises(ConfigError, match="fusion_alpha"):
        Settings.from_env({"QA_FUSION_ALPHA": "2"})
    with pytest.raises(ConfigError, match="sentence_weight"):
        Settings.from_env({"QA_SENTENCE_WEIGHT": "-1"})
    with pytest.raises(ConfigError, match="clean must be one of"):
        Settings.from_env({"QA_CLEAN": "html"})


@pytest.mark.parametrize(
    "address", ["local", "auto", "10.0.0.5:6379", "head.cluster:6379", "ray://head:10001"]
)
def test_ray_addresses_accepted(address: str) -> None:
    assert Settings.from_env({"QA_RAY_ADDRESS": address}).ray_address == address


@pytest.mark.parametrize("address", ["head", "head:port", "http://head:6379", "head:6379/x", ""])
def test_bad_ray_addresses_rejected(address: str) -> None:
    with pytest.raises(ConfigError, match="a Ray address is 'local', 'auto', host:port"):
        Settings(ray_address=address)
