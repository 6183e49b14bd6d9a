"""Embedding checkpoints: a killed build resumes from the batches it saved."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.config import HASH_MODEL, Settings
from qa.encode.embedding import HashEmbedder, Progress
from qa.encode.feed import Streamed
from qa.indexing import checkpoint
from qa.indexing.build import build_index
from qa.indexing.checkpoint import (
    FOLDER,
    Checkpoint,
    _first_copies,
    decode_batch,
    encode_batch,
    encode_resumable,
    text_key,
)
from qa.indexing.index import load_index


class Killed(Exception):
    pass


class Counting(HashEmbedder):
    """The hashing embedder, counting what it embeds; dies after ``die_after`` calls."""

    def __init__(self, die_after: int | None = None) -> None:
        self.embedded: list[str] = []
        self.calls = 0
        self.die_after = die_after

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        if self.die_after is not None and self.calls >= self.die_after:
            raise Killed
        self.calls += 1
        self.embedded.extend(texts)
        return super().encode(texts, batch_size, progress)


class Streaming(HashEmbedder):
    """The hashing embedder as a streaming one (qa.encode.feed's way): one feed for all the texts,
    handed on three at a time; reads at most 3 words; dies after ``die_after`` parts."""

    max_tokens = 3

    def __init__(self, die_after: int | None = None) -> None:
        self.feeds: list[list[str]] = []
        self.die_after = die_after

    def stream(
        self, texts: Sequence[str], batch_size: int, progress: Progress | None = None
    ) -> Iterator[Streamed]:
        self.feeds.append(list(texts))
        for part, start in enumerate(range(0, len(texts), 3)):
            if self.die_after is not None and part >= self.die_after:
                raise Killed
            some = texts[start : start + 3]
            cut = np.array([n > self.max_tokens for n in self.token_counts(some)], dtype=bool)
            yield self.encode(some, batch_size, progress), cut

    def warm_up(self, batch_size: int) -> None:  # no shapes to meet
        return None


def _texts(n: int) -> list[str]:
    return [f"sentence number {i} about {'word ' * (i % 7)}cycling" for i in range(n)]


@given(
    st.lists(st.text(max_size=30), max_size=20),
    st.integers(min_value=1, max_value=8),
)
def test_batch_round_trip(texts: list[str], dimension: int) -> None:
    vectors = np.random.default_rng(len(texts)).random((len(texts), dimension), np.float32)
    keys = [text_key(t) for t in texts]
    decoded = decode_batch(encode_batch(keys, vectors), dimension)
    assert decoded is not None
    assert decoded[0] == keys
    assert np.array_equal(decoded[1], vectors)


@given(st.data())
def test_a_torn_or_damaged_batch_is_refused(data: st.DataObject) -> None:
    vectors = np.ones((3, 4), np.float32)
    raw = encode_batch([text_key(t) for t in "abc"], vectors)
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    assert decode_batch(raw[:cut], 4) is None
    flip = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    damaged = bytearray(raw)
    damaged[flip] ^= 0x01
    assert decode_batch(bytes(damaged), 4) is None
    assert decode_batch(raw, 4) is not None


def test_a_killed_run_resumes_without_embedding_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "BATCH_TEXTS", 10)
    texts = _texts(45)
    dying = Counting(die_after=3)
    with pytest.raises(Killed):
        encode_resumable(dying, texts, tmp_path, 4)
    assert len(dying.embedded) == 30
    assert len(list((tmp_path / FOLDER).glob("batch-*.bin"))) == 3

    resuming = Counting()
    steps: list[int] = []
    got = encode_resumable(resuming, texts, tmp_path, 4, steps.append)
    vectors = got.vectors
    assert got.taken == 30
    assert sorted(resuming.embedded) == sorted(set(texts) - set(dying.embedded))
    assert sum(steps) == len(texts)
    assert np.allclose(vectors, HashEmbedder().encode(texts))


def test_each_distinct_text_is_embedded_once(tmp_path: Path) -> None:
    texts = ["a cat", "a dog", "a cat", "a cat", "a bird"]
    counting = Counting()
    steps: list[int] = []
    got = encode_resumable(counting, texts, tmp_path, 4, steps.append)
    vectors = got.vectors
    assert sorted(counting.embedded) == ["a bird", "a cat", "a dog"]
    assert got.taken == 0 and sum(steps) == len(texts)
    assert np.allclose(vectors, HashEmbedder().encode(texts))


def test_each_text_is_hashed_once_when_nothing_was_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = checkpoint.text_key

    def text_key(text: str) -> bytes:
        hashed.append(text)
        return real(text)

    monkeypatch.setattr(checkpoint, "text_key", text_key)
    texts = _texts(10)
    encode_resumable(Counting(), texts, tmp_path, 4)
    assert sorted(hashed) == sorted(texts)  # to save them, not to look for them
    hashed.clear()
    taken = encode_resumable(Counting(), texts, tmp_path, 4).taken
    assert taken == len(texts) and sorted(hashed) == sorted(texts)  # looked for, found


def test_another_models_vectors_are_not_taken(tmp_path: Path) -> None:
    saved = Checkpoint(tmp_path, "model-a", 4)
    saved.save(["x", "y"], np.ones((2, 4), np.float32))
    found, _ = Checkpoint(tmp_path, "model-a", 4).take(["x", "y", "z"])
    assert found.tolist() == [True, True, False]
    found, _ = Checkpoint(tmp_path, "model-b", 4).take(["x", "y"])
    assert not found.any()
    assert not list((tmp_path / FOLDER).glob("batch-*"))


def test_batches_no_longer_wanted_are_deleted(tmp_path: Path) -> None:
    saved = Checkpoint(tmp_path, "m", 2)
    saved.save(["old"], np.ones((1, 2), np.float32))
    saved.save(["kept"], np.ones((1, 2), np.float32))
    (tmp_path / FOLDER / "batch-000009.bin").write_bytes(b"damaged")
    (tmp_path / FOLDER / ".tmp-batch-000010").write_bytes(b"half-written")
    found, _ = Checkpoint(tmp_path, "m", 2).take(["kept", "new"])
    assert found.tolist() == [True, False]
    left = sorted(p.name for p in (tmp_path / FOLDER).iterdir())
    assert left == ["batch-000001.bin", "meta.json"]


def test_an_unwritable_checkpoint_does_not_stop_the_embedding(tmp_path: Path) -> None:
    blocked = tmp_path / "index"
    blocked.write_text("a file where the index folder would go")
    got = encode_resumable(Counting(), _texts(5), blocked, 4)
    assert got.vectors.shape == (5, 384) and got.taken == 0


def test_a_finished_build_leaves_no_checkpoint(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "BATCH_TEXTS", 50)
    index = tmp_path / "index"
    report = build_index(corpus, index, settings=hash_settings)
    assert report.resumed == 0 and report.embedded == report.chunks
    assert not (index / FOLDER).exists()


def test_a_build_resumes_from_a_killed_builds_batches(
    corpus: Path, tmp_path: Path, hash_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build dies after three batches; the next one takes those back, embeds only the
    rest and writes the same index as an uninterrupted build."""
    monkeypatch.setattr(checkpoint, "BATCH_TEXTS", 50)
    index = tmp_path / "index"
    dying = Counting(die_after=3)
    monkeypatch.setattr("qa.indexing.build.get_embedder", lambda *a: dying)
    with pytest.raises(Killed):
        build_index(corpus, index, settings=hash_settings)
    resuming = Counting()
    monkeypatch.setattr("qa.indexing.build.get_embedder", lambda *a: resuming)
    report = build_index(corpus, index, settings=hash_settings)
    assert len(dying.embedded) == 150
    assert report.resumed >= 150  # rows: a text met twice counts twice
    assert not set(resuming.embedded) & set(dying.embedded)
    assert not (index / FOLDER).exists()

    clean = build_index(corpus, tmp_path / "clean", settings=hash_settings)
    got, want = load_index(index), load_index(tmp_path / "clean")
    assert clean.chunks == report.chunks
    assert np.array_equal(got.vectors[:], want.vectors[:])
    assert np.array_equal(got.sentence_vectors[:], want.sentence_vectors[:])


def test_a_streaming_embedder_is_fed_once_and_saved_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "BATCH_TEXTS", 6)
    texts = _texts(20)
    dying = Streaming(die_after=5)  # 15 texts streamed, then a failure
    with pytest.raises(Killed):
        encode_resumable(dying, texts, tmp_path, 4)
    assert len(dying.feeds) == 1 and len(dying.feeds[0]) == 20  # one feed, longest first
    assert dying.feeds[0] == sorted(texts, key=len, reverse=True)
    assert len(list((tmp_path / FOLDER).glob("batch-*.bin"))) == 3  # 6, 6 and the last 3

    resuming = Streaming()
    steps: list[int] = []
    got = encode_resumable(resuming, texts, tmp_path, 4, steps.append)
    assert got.taken == 15 and sum(steps) == len(texts)
    assert sorted(resuming.feeds[0]) == sorted(set(texts) - set(dying.feeds[0][:15]))
    assert np.allclose(got.vectors, HashEmbedder().encode(texts))


def test_which_texts_were_cut_is_known_for_embedded_taken_and_repeated_texts(
    tmp_path: Path,
) -> None:
    texts = ["one two", "one two three four", "a b c d e", "one two", "a b c d e", "x"]
    want = [False, True, True, False, True, False]
    assert encode_resumable(Streaming(), texts, tmp_path, 4).truncated.tolist() == want
    Checkpoint(tmp_path, HASH_MODEL, 384).save(texts[:3], HashEmbedder().encode(texts[:3]))
    got = encode_resumable(Streaming(), texts, tmp_path, 4)
    assert got.taken == 5 and got.truncated.tolist() == want
    counting = Counting()  # an embedder that does not stream: counted by its tokenizer
    counting.max_tokens = 3
    assert encode_resumable(counting, texts, tmp_path / "b", 4).truncated.tolist() == want


class _Colliding(str):
    """A text whose hash every other one shares."""

    def __hash__(self) -> int:
        return 7


@given(st.lists(st.sampled_from(["a", "b", "Cavendish", "", "b "]), max_size=25), st.booleans())
def test_first_copies_point_each_text_at_its_first_row(texts: list[str], collide: bool) -> None:
    """Each row points at the first row holding the same text, also when different texts
    share a hash (told apart by the texts themselves)."""
    given_texts: list[str] = [_Colliding(t) for t in texts] if collide else texts
    rows = np.arange(len(texts), dtype=np.int64)
    first, lengths = _first_copies(given_texts, rows)
    assert first.tolist() == [texts.index(t) for t in texts]
    assert lengths.tolist() == [len(t) for t in texts]
