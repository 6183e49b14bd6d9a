"""Tests of qa.types.Answer: the status rules of its validation, ``answerable`` and the JSON
shape of ``to_dict``."""

from __future__ import annotations

import json

import pytest

from qa.types import STATUSES, Answer, Citation, Hit

HIT = Hit(
    "Cavendish won the stage.",
    "news/a.txt",
    0.8,
    10,
    34,
    "Cavendish wins",
    "2024-07-03",
    rank=0,
    chunk_id=4,
    dense_score=0.7,
    also_in=("news/b.txt",),
)
CITATION = Citation(1, "news/a.txt", 10, 34, "Cavendish won the stage.", "Cavendish wins", None, 0)


def _answer(status: str, text: str, missing: tuple[str, ...] = ()) -> Answer:
    return Answer("Who won?", text, (CITATION,), (HIT,), status, 0.4, missing)


def test_unknown_status_raises() -> None:
    with pytest.raises(ValueError, match="status"):
        _answer("maybe", "")
    with pytest.raises(ValueError):
        _answer("Answered", "Cavendish won the stage.")


@pytest.mark.parametrize("status", STATUSES)
def test_text_exactly_when_answered(status: str) -> None:
    if status == "answered":
        assert _answer(status, "Cavendish won the stage.").text
        with pytest.raises(ValueError):
            _answer(status, "")
    else:
        assert _answer(status, "").text == ""
        with pytest.raises(ValueError):
            _answer(status, "Cavendish won the stage.")


def test_default_status_is_answered_and_needs_text() -> None:
    assert Answer("q", "a sentence", (), ()).status == "answered"
    with pytest.raises(ValueError):
        Answer("q", "", (), ())


@pytest.mark.parametrize(
    ("status", "text", "answerable"),
    [("answered", "Cavendish won.", True), ("passages", "", True), ("not_found", "", False)],
)
def test_answerable_per_status(status: str, text: str, answerable: bool) -> None:
    answer = _answer(status, text)
    assert answer.answerable is answerable
    assert answer.to_dict()["answerable"] is answerable


@pytest.mark.parametrize("status", STATUSES)
def test_to_dict_is_json_with_lists(status: str) -> None:
    text = "Cavendish won the stage." if status == "answered" else ""
    data = _answer(status, text, missing=("Pogacar", "2024")).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["status"] == status
    assert data["missing"] == ["Pogacar", "2024"]
    assert data["text"] == text and data["question"] == "Who won?"
    assert data["confidence"] == 0.4
    assert isinstance(data["citations"], list) and isinstance(data["passages"], list)
    assert data["citations"][0]["source"] == "news/a.txt"
    assert data["citations"][0]["start"] == 10
    passage = data["passages"][0]
    assert passage["also_in"] == ["news/b.txt"]
    assert passage["date"] == "2024-07-03" and passage["dense_score"] == 0.7
    assert {"status", "missing", "answerable"} <= set(data)


def test_to_dict_has_no_tuples_anywhere() -> None:
    def walk(value: object) -> None:
        assert not isinstance(value, tuple)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(_answer("passages", "", missing=("Pogacar",)).to_dict())
