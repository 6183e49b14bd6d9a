"""Generative answers (qa.answer.generate, qa.answer.llm): the prompt, citation checks, and every
failure
falling back to the quoted answer, against a scripted server on loopback (tests/fake_llm.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEEDS
from fake_llm import Script, fake_llm_server
from hypothesis import given
from hypothesis import strategies as st

from qa import Settings, build_index
from qa.answer.generate import DECLINE, cited, claims, problem, prompt
from qa.answer.llm import stream_chat
from qa.api import ask, ask_stream
from qa.cli import cli
from qa.config import LLMConfig
from qa.errors import ConfigError, GeneratorError
from qa.types import Answer, Hit

QUESTION = "why did Cavendish un-retire?"


def _hit(n: int, text: str = "Some passage text.") -> Hit:
    return Hit(text, f"{n}.txt", 1.0, 0, len(text), f"Title {n}", "2023-10-01", rank=n)


# --- pure parts -------------------------------------------------------------------------------


def test_prompt_numbers_passages_with_titles_and_dates() -> None:
    messages = prompt("Who?", [_hit(1, "Alpha text."), _hit(2, "Beta text.")])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "[n]" in messages[0]["content"] and DECLINE in messages[0]["content"]
    user = messages[1]["content"]
    assert "[1] Title 1 (2023-10-01)\nAlpha text." in user
    assert "[2] Title 2 (2023-10-01)\nBeta text." in user
    assert user.index("[1]") < user.index("[2]") < user.index("Question: Who?")


def test_cited_reads_single_and_grouped_markers_in_order() -> None:
    assert cited("A [2]. B [1, 3]. C [2].") == [2, 1, 3]
    assert cited("No markers, not even [x] or [].") == []


@given(st.lists(st.integers(min_value=1, max_value=99), min_size=1, max_size=8))
def test_cited_finds_every_number_written(numbers: list[int]) -> None:
    text = " ".join(f"claim {i} [{n}]." for i, n in enumerate(numbers))
    assert cited(text) == list(dict.fromkeys(numbers))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("He came back for the record [1].", None),
        ("He came back [1] and signed [2, 3].", None),
        (DECLINE, None),
        ("the articles do not say anything about it", None),
        ("He came back for the record.", "cited no passage"),
        ("He came back [4].", "cited [4], but only [1]-[3] were given"),
        ("He came back [0] [2].", "cited [0]"),
        ("   ", "empty"),
    ],
)
def test_problem_enforces_citations(text: str, reason: str | None) -> None:
    found = problem(text, passages=3)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


def test_claims_map_each_passage_to_the_text_before_its_first_marker() -> None:
    assert claims("He wants 35 wins [2]. He signed with Astana [1, 2].") == {
        2: "He wants 35 wins",
        1: ". He signed with Astana",
    }


def test_llm_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="http"):
        LLMConfig("ftp://host/v1", "m")
    with pytest.raises(ConfigError, match="model"):
        LLMConfig("http://127.0.0.1:1/v1", " ")
    with pytest.raises(ConfigError, match="timeout"):
        LLMConfig("http://127.0.0.1:1/v1", "m", timeout=0)
    with pytest.raises(ConfigError, match="URL"):
        Settings(llm_model="m")


def test_settings_from_env_and_the_key_never_reported() -> None:
    env = {
        "QA_LLM_URL": "http://127.0.0.1:9/v1",
        "QA_LLM_MODEL": "gemma",
        "QA_LLM_API_KEY": "sekret",
        "QA_LLM_TIMEOUT": "5",
    }
    s = Settings.from_env(env)
    config = s.llm()
    assert config is not None
    assert (config.url, config.model, config.api_key, config.timeout) == (
        "http://127.0.0.1:9/v1",
        "gemma",
        "sekret",
        5.0,
    )
    assert "sekret" not in repr(s) and "sekret" not in repr(config)
    assert s.as_dict()["llm_api_key"] == "***"
    assert Settings().llm() is None


# --- the client against the scripted server ---------------------------------------------------


def _config(url: str, timeout: float = 5.0) -> LLMConfig:
    return LLMConfig(url, "fake-model", api_key="k3y", timeout=timeout)


MESSAGES = [{"role": "user", "content": "hi"}]


def test_stream_chat_yields_pieces_and_sends_a_chat_request() -> None:
    script = Script(reply="Hello there [1].")
    with fake_llm_server(script) as url:
        pieces = list(stream_chat(_config(url), MESSAGES))
    assert len(pieces) > 1 and "".join(pieces) == "Hello there [1]."
    request = script.requests[0]
    assert request["model"] == "fake-model" and request["stream"] is True
    assert request["messages"] == MESSAGES
    assert script.headers[0]["Authorization"] == "Bearer k3y"


def test_stream_chat_reads_a_server_that_does_not_stream() -> None:
    with fake_llm_server(Script(mode="json", reply="Whole reply [1].")) as url:
        assert "".join(stream_chat(_config(url), MESSAGES)) == "Whole reply [1]."


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (Script(mode="error"), "HTTP 500"),
        (Script(mode="malformed"), "malformed JSON"),
        (Script(mode="slow", delay=2.0), "longer than 0.5 s"),
        (Script(mode="hang_midway", delay=2.0), "longer than 0.5 s"),
    ],
)
def test_stream_chat_failures_are_one_line_errors(script: Script, message: str) -> None:
    with fake_llm_server(script) as url, pytest.raises(GeneratorError, match=message):
        list(stream_chat(_config(url, timeout=0.5), MESSAGES))


def test_stream_chat_unreachable_server() -> None:
    with fake_llm_server(Script()) as url:
        pass  # the server is gone: nothing listens on its port now
    with pytest.raises(GeneratorError, match="cannot reach"):
        list(stream_chat(_config(url), MESSAGES))


# --- ask() with a language model --------------------------------------------------------------


@pytest.fixture(scope="module")
def hash_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("gen") / "index"
    build_index(SEEDS, index_dir, settings=Settings(model="hash-384"))
    return index_dir


@pytest.fixture
def server() -> Iterator[tuple[Script, str]]:
    script = Script()
    with fake_llm_server(script) as url:
        yield script, url


def _settings(url: str, timeout: float = 5.0) -> Settings:
    return Settings(model="hash-384", llm_url=url, llm_model="fake-model", llm_timeout=timeout)


def test_ask_without_a_model_sends_nothing_and_quotes(
    hash_index: Path, server: tuple[Script, str]
) -> None:
    script, _ = server
    answer = ask(QUESTION, index_dir=hash_index, settings=Settings(model="hash-384"))
    assert answer.origin == "quoted" and answer.generator is None and not script.requests


def test_ask_shows_a_generated_answer_with_each_cited_passage_sentence(
    hash_index: Path, server: tuple[Script, str]
) -> None:
    script, url = server
    script.reply = "He wants a 35th Tour stage [2]. Astana offered a year [1]."
    answer = ask(QUESTION, index_dir=hash_index, settings=_settings(url))
    assert answer.status == "answered" and answer.origin == "generated"
    assert answer.generator == "fake-model" and answer.text == script.reply
    assert [c.number for c in answer.citations] == [2, 1]
    for c in answer.citations:
        passage = answer.passages[c.number - 1]
        assert c.passage == c.number - 1 and c.source == passage.source
        assert c.text and c.text in (SEEDS / c.source).read_text(encoding="utf-8")
        assert passage.start <= c.start < c.end <= passage.end
    sent = script.requests[0]["messages"][1]["content"]
    assert QUESTION in sent and answer.passages[0].title in sent
    assert json.loads(json.dumps(answer.to_dict()))["origin"] == "generated"


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("He came back for the record.", "cited no passage"),
        ("He came back for the record [9].", "cited [9]"),
    ],
)
def test_ask_refuses_a_reply_without_valid_citations(
    hash_index: Path, server: tuple[Script, str], reply: str, why: str
) -> None:
    script, url = server
    script.reply = reply
    quoted = ask(QUESTION, index_dir=hash_index, settings=Settings(model="hash-384"))
    answer = ask(QUESTION, index_dir=hash_index, settings=_settings(url))
    assert answer.origin == "quoted" and answer.generator is None
    assert why in answer.note and answer.note.startswith("Quoted answer shown")
    assert (answer.text, answer.citations, answer.status) == (
        quoted.text,
        quoted.citations,
        quoted.status,
    )


def test_ask_model_declines(hash_index: Path, server: tuple[Script, str]) -> None:
    script, url = server
    script.reply = DECLINE
    answer = ask(QUESTION, index_dir=hash_index, settings=_settings(url))
    assert answer.status in ("passages", "not_found") and answer.text == ""
    assert answer.generator == "fake-model" and "found no answer" in answer.note


@pytest.mark.parametrize("mode", ["error", "malformed", "slow"])
def test_ask_falls_back_when_the_server_fails(
    hash_index: Path, server: tuple[Script, str], mode: str
) -> None:
    script, url = server
    script.mode, script.delay = mode, 3.0
    started = time.monotonic()
    ask(QUESTION, index_dir=hash_index, settings=Settings(model="hash-384"))
    quoted_alone = time.monotonic() - started  # retrieval and the quoted answer
    started = time.monotonic()
    answer = ask(QUESTION, index_dir=hash_index, settings=_settings(url, timeout=0.5))
    waited = time.monotonic() - started - quoted_alone
    assert waited < script.delay - 1.0  # gave up at the timeout, not after the server's delay
    assert answer.origin == "quoted" and answer.note.startswith("Quoted answer shown")
    assert answer.passages


def test_ask_stream_yields_text_then_one_answer(
    hash_index: Path, server: tuple[Script, str]
) -> None:
    script, url = server
    script.reply = "He wants the record [1]."
    items = list(ask_stream(QUESTION, index_dir=hash_index, settings=_settings(url)))
    assert isinstance(items[-1], Answer)
    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert "".join(i for i in items[:-1] if isinstance(i, str)) == script.reply


def test_cli_ask_with_llm_flags(hash_index: Path, server: tuple[Script, str]) -> None:
    script, url = server
    script.reply = "He wants the record [1]."
    args = ["ask", QUESTION, "--index", str(hash_index), "--llm-url", url]
    env = {"QA_MODEL": "hash-384", "QA_LLM_MODEL": "fake-model"}
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["origin"] == "generated" and data["generator"] == "fake-model"
    text = CliRunner().invoke(cli, args, env=env)
    assert text.exit_code == 0 and "He wants the record [1]." in text.output
    assert "written by fake-model" in text.output
    script.mode = "error"
    failed = CliRunner().invoke(cli, args, env=env)
    assert failed.exit_code == 0 and "Quoted answer shown" in failed.output
